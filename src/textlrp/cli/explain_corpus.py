"""``textlrp explain-corpus INPUT --out OUT.parquet``: explain a whole corpus into Parquet."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from textlrp.cli.common import (
    add_corpus_input_arguments,
    add_lrp_arguments,
    corpus_input,
    lrp_options,
)


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "explain-corpus",
        help="explain every document of a corpus into a Parquet file",
        description="Explain every document of a CSV/TSV/JSONL/Parquet/text file (or a data "
        "set such as sst-test or 20news-test, given as INPUT or --dataset) with one or more "
        "methods and targets; writes one row per (document, method, target) to OUT.parquet, "
        "resumably (rerun the same command after a crash), "
        "and lists rows that cannot be explained in OUT.bad.jsonl.",
    )
    add_corpus_input_arguments(parser)
    parser.add_argument("--out", type=Path, required=True, help="output file (.parquet)")
    parser.add_argument("--model", type=Path, help="a saved model file (default: bundled model)")
    parser.add_argument(
        "--method",
        default="lrp",
        help="method(s), comma-separated (default: lrp; see `textlrp methods`)",
    )
    parser.add_argument(
        "--target",
        default="predicted",
        help="target(s), comma-separated: predicted, label, all, a class name "
        "or index (default: predicted)",
    )
    add_lrp_arguments(parser)
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument(
        "--batch-size", type=int, default=128, help="documents per padded batch (default: 128)"
    )
    parser.add_argument(
        "--chunk-size",
        type=int,
        default=1024,
        help="documents per written chunk; a crash loses at most one (default: 1024)",
    )
    parser.add_argument("--limit", type=int, help="explain only the first N rows")
    parser.add_argument("--engine", default="local", choices=["local", "ray"])
    parser.add_argument("--address", help="Ray cluster address (default: $RAY_ADDRESS or local)")
    parser.add_argument("--actors", type=int, help="Ray actors (default: one per CPU or GPU)")
    parser.add_argument(
        "--gpus-per-actor",
        type=float,
        help="GPUs per Ray actor (default: 1 where the cluster has GPUs)",
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="start afresh instead of resuming or refusing"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from textlrp.corpus import explain_corpus

    options = lrp_options(args)
    summary = explain_corpus(
        corpus_input(args),
        args.out,
        model=args.model,
        method=args.method,
        target=args.target,
        text_column=args.text_column,
        id_column=args.id_column,
        label_column=args.label_column,
        input_format=args.input_format,
        data_dir=args.data_dir,
        dtype=args.dtype,
        batch_size=args.batch_size,
        chunk_size=args.chunk_size,
        max_tokens=args.max_tokens,
        tokenizer=args.tokenizer,
        limit=args.limit,
        engine=args.engine,
        address=args.address,
        actors=args.actors,
        gpus_per_actor=args.gpus_per_actor,
        progress=not args.quiet,
        overwrite=args.overwrite,
        **options,
    )
    if not args.quiet:
        print(summary.describe(), file=sys.stderr)
    return 0
