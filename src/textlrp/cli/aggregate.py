"""``textlrp aggregate OUT.parquet``: top words per class, misclassification words, position."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "aggregate",
        help="sum up an explain-corpus file: top words per class, errors, position",
        description="Most relevant words per explained class, words pushing towards "
        "misclassification (where labels are present) and relevance by relative position, "
        "written as Markdown, HTML and PNG.",
    )
    parser.add_argument("corpus", type=Path, help="a file written by `textlrp explain-corpus`")
    parser.add_argument("--out", type=Path, help="report folder (default: CORPUS.report/)")
    parser.add_argument("--method", help="only this method's rows (default: all)")
    parser.add_argument(
        "--min-count", type=int, default=5, help="ignore words seen fewer times (default: 5)"
    )
    parser.add_argument("--top", type=int, default=15, help="words per class (default: 15)")
    parser.add_argument("--bins", type=int, default=10, help="position bins (default: 10)")
    parser.add_argument("--title", help="report title")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from textlrp.corpus.aggregate import write_report

    out = args.out or args.corpus.with_name(args.corpus.name.removesuffix(".parquet") + ".report")
    paths = write_report(
        args.corpus,
        out,
        method=args.method,
        min_count=args.min_count,
        top=args.top,
        bins=args.bins,
        title=args.title,
    )
    print(paths["markdown"].read_text(encoding="utf-8"))
    for path in paths.values():
        print(f"wrote {path}", file=sys.stderr)
    return 0
