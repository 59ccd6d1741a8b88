"""Arguments and output helpers that several commands share."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from textlrp.errors import TextLRPError


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model", type=Path, help="a saved model file (default: bundled SST model)"
    )


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
