"""Stanford Sentiment Treebank (Socher et al. 2013): PTB tree files, sentences and phrases.

Each line of ``train.txt``/``dev.txt``/``test.txt`` (from Stanford's
``trainDevTestTrees_PTB.zip``) is one tree: ``(LABEL child child)`` or ``(LABEL token)``, every
node labelled 0 (very negative) .. 4 (very positive). Lines are split on ASCII space and
parentheses only, since three training tokens contain a U+00A0 no-break space.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import sys
import tempfile
import urllib.request
import zipfile
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

from textlrp.errors import DataError

__all__ = [
    "SST_CLASS_NAMES",
    "SST_SPLITS",
    "SST_URL",
    "Tree",
    "SSTExample",
    "Phrase",
    "parse_tree",
    "read_trees",
    "find_sst_dir",
    "download_sst",
    "load_trees",
    "load_sst",
    "sst_phrases",
]

SST_CLASS_NAMES = ["very negative", "negative", "neutral", "positive", "very positive"]
SST_SPLITS = ("train", "dev", "test")
SST_URL = "https://nlp.stanford.edu/sentiment/trainDevTestTrees_PTB.zip"
ENV_DATA = "TEXTLRP_DATA"
ENV_NO_DOWNLOAD = "TEXTLRP_NO_DOWNLOAD"
DOWNLOAD_TIMEOUT_S = 20.0

_PIECES = re.compile(r"[()]|[^ ()]+")  # ASCII space and parentheses only


@dataclasses.dataclass(frozen=True, eq=True)
class Tree:
    """One node: a sentiment ``label`` and either ``children`` or a leaf ``token``."""

    label: int
    children: tuple[Tree, ...] = ()
    token: str | None = None

    @property
    def is_leaf(self) -> bool:
        return self.token is not None

    def leaves(self) -> list[str]:
        """The tokens under this node, left to right (original case and escapes)."""
        out: list[str] = []
        stack = [self]
        while stack:
            node = stack.pop()
            if node.token is not None:
                out.append(node.token)
            else:
                stack.extend(reversed(node.children))
        return out

    def subtrees(self) -> Iterator[Tree]:
        """Every node, this one included, in pre-order."""
        stack = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.children))

    def num_nodes(self) -> int:
        return sum(1 for _ in self.subtrees())


@dataclasses.dataclass(frozen=True)
class SSTExample:
    """A sentence: lower-cased ``tokens`` (as the papers use them) and its root ``label``."""

    tokens: tuple[str, ...]
    label: int
    original_tokens: tuple[str, ...]
    tree: Tree = dataclasses.field(repr=False, compare=False)

    @property
    def text(self) -> str:
        return " ".join(self.tokens)


class Phrase(NamedTuple):
    """A labelled phrase (any tree node): lower-cased tokens and the node's label."""

    tokens: tuple[str, ...]
    label: int


# --------------------------------------------------------------------------- parsing
def parse_tree(line: str, source: str = "<string>", line_no: int | None = None) -> Tree:
    """Parse one PTB tree; raises :class:`DataError` naming ``source`` and ``line_no``."""
    where = f"{source}, line {line_no}" if line_no is not None else source

    def fail(problem: str) -> DataError:
        return DataError(f"{where}: malformed SST tree: {problem}")

    pieces = _PIECES.findall(line.rstrip("\r\n"))
    if not pieces:
        raise fail("empty line")
    # Stack of open nodes: [label, children, token].
    stack: list[list] = []
    root: Tree | None = None
    i = 0
    while i < len(pieces):
        piece = pieces[i]
        if root is not None:
            raise fail(f"text after the end of the tree: {piece!r}")
        if piece == "(":
            if i + 1 >= len(pieces) or pieces[i + 1] in ("(", ")"):
                raise fail("'(' without a label")
            label_text = pieces[i + 1]
            if label_text not in ("0", "1", "2", "3", "4"):
                raise fail(f"label {label_text!r} is not one of 0..4")
            if stack and stack[-1][2] is not None:
                raise fail("a node has both a token and children")
            stack.append([int(label_text), [], None])
            i += 2
            continue
        if piece == ")":
            if not stack:
                raise fail("unbalanced ')'")
            label, children, token = stack.pop()
            if token is None and not children:
                raise fail("a node without a token or children")
            node = Tree(label, tuple(children), token)
            if stack:
                stack[-1][1].append(node)
            else:
                root = node
            i += 1
            continue
        # a token
        if not stack:
            raise fail(f"token {piece!r} outside a node")
        top = stack[-1]
        if top[2] is not None or top[1]:
            raise fail(f"unexpected token {piece!r}: a node holds one token or child nodes")
        top[2] = piece
        i += 1
    if stack:
        raise fail(f"{len(stack)} unclosed '('")
    assert root is not None
    return root


def read_trees(path: str | Path) -> list[Tree]:
    """All trees of one file (blank lines skipped); DataError names the file and line."""
    return list(_read_trees_cached(*_file_key(Path(path))))


def _file_key(path: Path) -> tuple[str, int, int]:
    try:
        stat = path.stat()
    except OSError as exc:
        raise DataError(f"cannot read SST file {path}: {exc.strerror or exc}") from None
    return str(path.resolve()), stat.st_mtime_ns, stat.st_size


@lru_cache(maxsize=8)
def _read_trees_cached(path: str, _mtime_ns: int, _size: int) -> tuple[Tree, ...]:
    """Parse a file once per (path, mtime, size): train is parsed for sentences and phrases."""
    try:
        with open(path, encoding="utf-8", newline="\n") as handle:
            lines = handle.read().split("\n")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise DataError(f"cannot read SST file {path}: {exc.strerror or exc}") from None
    trees = []
    for line_no, line in enumerate(lines, start=1):
        if line.strip(" \r") == "":
            continue
        trees.append(parse_tree(line, source=path, line_no=line_no))
    if not trees:
        raise DataError(f"{path}: no trees in the file (expected one PTB tree per line)")
    return tuple(trees)


# --------------------------------------------------------------------------- locating
def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/textlrp/sst``, or ``~/.cache/textlrp/sst``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "textlrp" / "sst"


def _has_splits(folder: Path) -> bool:
    return all((folder / f"{split}.txt").is_file() for split in SST_SPLITS)


def _resolve(folder: Path) -> Path | None:
    """``folder`` itself, or its ``sst/`` or ``trees/`` subfolder, when it holds all splits."""
    for candidate in (folder, folder / "sst", folder / "trees"):
        if _has_splits(candidate):
            return candidate
    return None


def _how_to_fix() -> str:
    return (
        f"pass --data-dir DIR (or set {ENV_DATA}=DIR) to a folder with train.txt, dev.txt and "
        f"test.txt from the trees/ folder of {SST_URL}"
    )


def download_sst(cache_dir: Path, url: str = SST_URL, timeout: float = DOWNLOAD_TIMEOUT_S) -> Path:
    """Fetch Stanford's zip and extract ``trees/{train,dev,test}.txt`` into ``cache_dir``."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_dir) as tmp:
        archive = Path(tmp) / "trainDevTestTrees_PTB.zip"
        with urllib.request.urlopen(url, timeout=timeout) as response, open(archive, "wb") as out:
            shutil.copyfileobj(response, out)
        with zipfile.ZipFile(archive) as zf:
            names = {Path(n).name: n for n in zf.namelist() if n.endswith(".txt")}
            missing = [s for s in SST_SPLITS if f"{s}.txt" not in names]
            if missing:
                raise OSError(f"the zip lacks {', '.join(m + '.txt' for m in missing)}")
            for split in SST_SPLITS:
                target = Path(tmp) / f"{split}.txt"
                with zf.open(names[f"{split}.txt"]) as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst)
        for split in SST_SPLITS:  # move into place only once all three are there
            os.replace(Path(tmp) / f"{split}.txt", cache_dir / f"{split}.txt")
    return cache_dir


def find_sst_dir(data_dir: str | Path | None = None, download: bool = True) -> Path:
    """The folder holding ``train.txt``, ``dev.txt`` and ``test.txt``.

    Looks in ``data_dir`` (an error if given but incomplete), then ``$TEXTLRP_DATA`` (likewise),
    then the user cache, and finally downloads Stanford's zip into the cache unless
    ``download`` is false or ``$TEXTLRP_NO_DOWNLOAD`` is set. Each folder may hold the files
    directly or in an ``sst/`` or ``trees/`` subfolder.
    """
    for given, origin in ((data_dir, "--data-dir"), (os.environ.get(ENV_DATA), ENV_DATA)):
        if given:
            found = _resolve(Path(given).expanduser())
            if found is None:
                raise DataError(f"SST data not found in {given} (from {origin}): {_how_to_fix()}")
            return found
    cache = default_cache_dir()
    found = _resolve(cache)
    if found is not None:
        return found
    if not download or os.environ.get(ENV_NO_DOWNLOAD):
        reason = "download disabled"
    else:
        print(f"SST trees not found locally; downloading {SST_URL} to {cache}", file=sys.stderr)
        try:
            return download_sst(cache)
        except (OSError, zipfile.BadZipFile, ValueError) as exc:
            reason = f"download from {SST_URL} failed: {exc}".replace("\n", " ")
    raise DataError(f"SST data not found ({reason}; looked in {cache}): {_how_to_fix()}")


# --------------------------------------------------------------------------- loading
def _check_split(split: str) -> None:
    if split not in SST_SPLITS:
        raise DataError(f"unknown SST split {split!r}: use one of {', '.join(SST_SPLITS)}")


def load_trees(split: str, data_dir: str | Path | None = None, download: bool = True) -> list[Tree]:
    """The parsed trees of one split (``train``, ``dev`` or ``test``)."""
    _check_split(split)
    return read_trees(find_sst_dir(data_dir, download=download) / f"{split}.txt")


def load_sst(
    split: str, data_dir: str | Path | None = None, download: bool = True
) -> list[SSTExample]:
    """Sentences of one split: lower-cased tokens, original tokens, root label 0..4."""
    examples = []
    for tree in load_trees(split, data_dir, download=download):
        original = tuple(tree.leaves())
        examples.append(SSTExample(tuple(t.lower() for t in original), tree.label, original, tree))
    return examples


def sst_phrases(
    split: str, data_dir: str | Path | None = None, download: bool = True
) -> list[Phrase]:
    """Every labelled node of every tree (sentences, sub-phrases, single words), lower-cased.

    Duplicates are kept (the same phrase occurs in many trees); deduplicate if needed.
    """
    phrases: list[Phrase] = []
    for tree in load_trees(split, data_dir, download=download):
        phrases.extend(_phrases_of(tree))
    return phrases


def _phrases_of(tree: Tree) -> list[Phrase]:
    """The phrases of one tree in pre-order; each node's tokens are built once, bottom-up."""
    tokens: dict[int, tuple[str, ...]] = {}
    stack: list[tuple[Tree, bool]] = [(tree, False)]
    while stack:
        node, children_done = stack.pop()
        if node.token is not None:
            tokens[id(node)] = (node.token.lower(),)
        elif children_done:
            tokens[id(node)] = tuple(t for child in node.children for t in tokens[id(child)])
        else:
            stack.append((node, True))
            stack.extend((child, False) for child in node.children)
    return [Phrase(tokens[id(node)], node.label) for node in tree.subtrees()]
