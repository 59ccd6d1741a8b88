"""``textlrp reproduce sst``: the 2017/2019 papers' sentiment experiments."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from textlrp.errors import TextLRPError

__all__ = ["add_arguments", "run"]

DEFAULT_OUT = "results/sst"


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the ``reproduce sst`` options to ``parser`` and return it."""
    from textlrp.experiments.sst.common import Settings
    from textlrp.experiments.sst.report import STAGE_NAMES

    defaults = Settings()
    parser.add_argument(
        "--data-dir",
        default=None,
        help="folder with the SST trees train.txt, dev.txt, test.txt (default: $TEXTLRP_DATA, "
        "then ~/.cache/textlrp/sst, then a download from Stanford)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(DEFAULT_OUT),
        help=f"output folder for report.md, report.html and the figures (default {DEFAULT_OUT})",
    )
    parser.add_argument(
        "--model", type=Path, default=None, help="a saved model file (default: the bundled one)"
    )
    parser.add_argument(
        "--stages",
        nargs="+",
        choices=STAGE_NAMES,
        default=list(STAGE_NAMES),
        metavar="STAGE",
        help=f"stages to compute (default: all): {', '.join(STAGE_NAMES)}; the report also "
        "includes cached results of the others",
    )
    parser.add_argument(
        "--cache-dir", type=Path, default=None, help="cache folder (default: OUT/cache)"
    )
    parser.add_argument(
        "--fresh", action="store_true", help="ignore cached results (and overwrite them)"
    )
    parser.add_argument(
        "--seeds", type=int, default=defaults.seeds, help="random-deletion runs (default 10)"
    )
    parser.add_argument(
        "--ig-steps",
        type=int,
        default=defaults.ig_steps,
        help=f"Integrated Gradients points (default {defaults.ig_steps})",
    )
    parser.add_argument(
        "--max-ngrams",
        type=int,
        default=defaults.max_ngrams,
        help=f"n-grams per composition pattern (default {defaults.max_ngrams})",
    )
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--no-download", action="store_true", help="never download SST")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser


def run(args: argparse.Namespace) -> int:
    """Run the chosen stages and write the report; prints where it is. Returns 0."""
    import torch

    from textlrp.experiments.sst.common import Settings
    from textlrp.experiments.sst.report import build_context, run_report

    if args.seeds < 1 or args.ig_steps < 1 or args.max_ngrams < 1:
        raise TextLRPError("--seeds, --ig-steps and --max-ngrams must be at least 1")
    if args.threads is not None:
        if args.threads < 1:
            raise TextLRPError("--threads must be at least 1")
        torch.set_num_threads(args.threads)
    settings = dataclasses.replace(
        Settings(), seeds=args.seeds, ig_steps=args.ig_steps, max_ngrams=args.max_ngrams
    )
    ctx = build_context(
        args.out,
        model_path=args.model,
        data_dir=args.data_dir,
        cache_dir=args.cache_dir,
        fresh=args.fresh,
        progress=not args.quiet,
        settings=settings,
        download=not args.no_download,
    )
    report = run_report(ctx, tuple(args.stages))
    print(f"wrote {report} and {report.with_suffix('.html')}", file=sys.stderr)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "sst", help="the 2017/2019 papers' sentiment experiments on the bundled model"
    )
    add_arguments(parser)
    parser.set_defaults(handler=run)
