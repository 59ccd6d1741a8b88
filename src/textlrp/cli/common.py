"""Arguments and output helpers that several commands share."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from textlrp.errors import InputError, TextLRPError


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model", type=Path, help="a saved model file (default: bundled SST model)"
    )


LRP_OPTIONS = ("eps", "bias_factor", "product_rule", "conv_rule", "head_rule", "composite")


def add_lrp_arguments(parser: argparse.ArgumentParser) -> None:
    """The LRP options (``--eps`` ... ``--composite``); each goes to the methods that take it."""
    parser.add_argument("--eps", type=float, help="LRP stabilizer ε (default 0.001)")
    parser.add_argument("--bias-factor", type=float, help="LRP bias factor δ: 0 (default) or 1")
    parser.add_argument(
        "--product-rule",
        choices=["all", "prop", "abs", "half"],
        help="LRP rule for gate products of LSTM/GRU models (default: all)",
    )
    parser.add_argument(
        "--conv-rule",
        choices=["epsilon", "zplus"],
        help="LRP rule for a CNN's convolutions (default: epsilon; see docs/cnn-rules.md)",
    )
    parser.add_argument(
        "--head-rule",
        choices=["epsilon", "zplus"],
        help="LRP rule for a CNN's hidden head layers (default: epsilon)",
    )
    parser.add_argument(
        "--composite",
        choices=["epsilon", "epsilon_plus", "epsilon_plus_all"],
        help="named set of CNN LRP rules (epsilon_plus: z⁺ on convolutions, ε on Linear layers)",
    )


def lrp_options(args: argparse.Namespace) -> dict[str, object]:
    """The LRP options given on the command line (unset ones left to the method's default)."""
    return {name: getattr(args, name) for name in LRP_OPTIONS if getattr(args, name) is not None}


def add_color_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--color",
        dest="color",
        action="store_const",
        const=True,
        default=None,
        help="force coloured terminal output",
    )
    group.add_argument(
        "--no-color",
        dest="color",
        action="store_const",
        const=False,
        help="plain text output with signed relevance values",
    )


def read_texts(args: argparse.Namespace) -> list[str]:
    texts = list(args.texts)
    if args.file is not None:
        handle = sys.stdin if str(args.file) == "-" else None
        content = handle.read() if handle else args.file.read_text(encoding="utf-8")
        texts += [line for line in content.splitlines() if line.strip()]
    if not texts:
        raise TextLRPError("no text given; pass a quoted TEXT or --file FILE")
    return texts


def write_outputs(explanations, html: Path | None, png: Path | None, json_path: Path | None):
    from textlrp.viz import render_png, write_html

    if html is not None:
        write_html(explanations, html)
        print(f"wrote {html}", file=sys.stderr)
    if png is not None:
        render_png(explanations, png)
        print(f"wrote {png}", file=sys.stderr)
    if json_path is not None:
        records = [e.to_dict() for e in explanations]
        json_path.write_text(json.dumps(records, indent=1), encoding="utf-8")
        print(f"wrote {json_path}", file=sys.stderr)


def register_group(
    subparsers: argparse._SubParsersAction, name: str, help: str, title: str, tasks: Sequence[str]
) -> None:
    """A command with sub-tasks (``train sst``, ``reproduce toy``), one module per task."""
    group = subparsers.add_parser(name, help=help)
    task_parsers = group.add_subparsers(title=title, metavar=title.upper().rstrip("S"))
    for module in tasks:
        importlib.import_module(module).register(task_parsers)


# ------------------------------------------------------------------ reading a corpus
# One rule for every command that reads a corpus (explain-corpus, evaluate): INPUT is a
# file, '-' (standard input) or a registered data set name; --dataset NAME says the same as
# giving NAME as INPUT. Both read through textlrp.corpus.readers and check rows with
# textlrp.corpus.validate, so formats, columns, data sets and bad-row reasons are the same.
def add_corpus_input_arguments(parser: argparse.ArgumentParser) -> None:
    from textlrp.corpus.readers import FORMATS, NAMED_DATASETS
    from textlrp.corpus.validate import DEFAULT_MAX_TOKENS, TOKENIZERS

    names = sorted(NAMED_DATASETS)
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "input",
        nargs="?",
        help="a .csv/.tsv/.jsonl/.parquet/.txt file (.txt: one text a line; '-' = stdin), "
        f"or a data set: {', '.join(names)}",
    )
    source.add_argument(
        "--dataset", choices=names, help="a named data set (the same as giving it as INPUT)"
    )
    parser.add_argument(
        "--format",
        dest="input_format",
        choices=list(FORMATS),
        help="input format (default: from the file name; stdin: txt)",
    )
    parser.add_argument("--text-column", help="column holding the text (default: text)")
    parser.add_argument("--id-column", help="column holding document ids (default: row number)")
    parser.add_argument("--label-column", help="column holding labels (class names or indices)")
    parser.add_argument(
        "--data-dir",
        type=Path,
        help="folder of a named data set (default: $TEXTLRP_DATA or the cache)",
    )
    parser.add_argument(
        "--tokenizer",
        choices=list(TOKENIZERS),
        help="how texts become tokens (default: sst; 20news-test: news)",
    )
    parser.add_argument(
        "--max-tokens",
        type=int,
        default=DEFAULT_MAX_TOKENS,
        help=f"longer documents are listed as bad rows (default: {DEFAULT_MAX_TOKENS})",
    )


def corpus_input(args: argparse.Namespace) -> str:
    """The INPUT (or --dataset) of a command that reads a corpus."""
    spec = args.dataset if args.dataset is not None else args.input
    if spec is None:
        raise InputError("give an input file or a data set name (INPUT, or --dataset sst-test)")
    return str(spec)
