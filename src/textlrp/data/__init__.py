"""Data: the Stanford Sentiment Treebank and SST-style tokenization of raw text."""

from textlrp.data.sst import (
    SST_CLASS_NAMES,
    SST_SPLITS,
    SST_URL,
    Phrase,
    SSTExample,
    Tree,
    download_sst,
    find_sst_dir,
    load_sst,
    load_trees,
    parse_tree,
    read_trees,
    sst_phrases,
)
from textlrp.data.tokenizer import tokenize

__all__ = [
    "SST_CLASS_NAMES",
    "SST_SPLITS",
    "SST_URL",
    "Phrase",
    "SSTExample",
    "Tree",
    "download_sst",
    "find_sst_dir",
    "load_sst",
    "load_trees",
    "parse_tree",
    "read_trees",
    "sst_phrases",
    "tokenize",
]
