"""``textlrp reproduce 20news``: the 2016 paper's CNN experiments, beside a BoW SVM."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from textlrp.cli.train_20news import add_data_arguments, removed_parts
from textlrp.errors import InputError

__all__ = ["add_arguments", "run", "register"]

DEFAULT_OUT = "results/20news"


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    from textlrp.experiments.newsgroups.report import STAGE_NAMES

    add_data_arguments(parser)
    parser.add_argument("--out", type=Path, default=Path(DEFAULT_OUT),
                        help=f"output folder for report.md, report.html and figures "
                        f"(default {DEFAULT_OUT})")
    parser.add_argument("--model", type=Path, default=None,
                        help="a CNN from `textlrp train 20news` (default: train one, cached)")
    parser.add_argument(
        "--stages", nargs="+", choices=STAGE_NAMES, default=list(STAGE_NAMES), metavar="STAGE",
        help=f"stages to compute (default: all): {', '.join(STAGE_NAMES)}; the report also "
        "includes cached results of the others",
    )
    parser.add_argument("--cache-dir", type=Path, default=None,
                        help="cache folder (default: OUT/cache)")
    parser.add_argument("--fresh", action="store_true",
                        help="ignore cached results (and overwrite them)")
    parser.add_argument("--deletion-docs", type=int, default=None,
                        help="test posts sampled for word deletion (default 1000)")
    parser.add_argument("--per-class", type=int, default=None,
                        help="use only N posts per class and split (a quick smoke run)")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (default 2)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser


def run(args: argparse.Namespace) -> int:
    from textlrp.models.embeddings import require_news_extra

    require_news_extra()
    import torch

    from textlrp.experiments.newsgroups.common import Settings
    from textlrp.experiments.newsgroups.report import build_context, run_report

    if args.threads < 1:
        raise InputError("--threads must be at least 1")
    torch.set_num_threads(args.threads)
    settings = Settings()
    settings = dataclasses.replace(
        settings,
        remove=removed_parts(args),
        train=dataclasses.replace(settings.train, threads=args.threads),
    )
    if args.per_class is not None:
        if args.per_class < 2:
            raise InputError("--per-class must be at least 2")
        settings = dataclasses.replace(settings, per_class=args.per_class)
    if args.deletion_docs is not None:
        if args.deletion_docs < 2:
            raise InputError("--deletion-docs must be at least 2")
        settings = dataclasses.replace(settings, deletion_docs=args.deletion_docs)
    ctx = build_context(
        args.out,
        source=args.data,
        model_path=args.model,
        embeddings_path=args.embeddings,
        cache_dir=args.cache_dir,
        fresh=args.fresh,
        progress=not args.quiet,
        settings=settings,
    )
    report = run_report(ctx, tuple(args.stages))
    print(f"wrote {report} and {report.with_suffix('.html')}", file=sys.stderr)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "20news", help="the 2016 paper's 20 Newsgroups CNN experiments (trains what it needs)"
    )
    add_arguments(parser)
    parser.set_defaults(handler=run)
