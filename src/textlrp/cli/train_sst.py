"""``textlrp train sst``: train the papers' bi-LSTM on the SST."""

from __future__ import annotations

import argparse
import dataclasses

from textlrp.training.sst import TrainConfig

__all__ = ["add_train_arguments", "config_from_args", "run_train"]

DEFAULT_OUT = "runs/sst_bilstm.pt"


def add_train_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the ``train sst`` options to ``parser`` (defaults: the bundled model's recipe)."""
    d = TrainConfig()
    parser.add_argument(
        "--data-dir",
        default=None,
        help="folder with train.txt, dev.txt, test.txt (SST PTB trees); default: $TEXTLRP_DATA,"
        " then ~/.cache/textlrp/sst, then a download from Stanford",
    )
    parser.add_argument("--out", default=DEFAULT_OUT, help=f"model file (default {DEFAULT_OUT})")
    parser.add_argument("--epochs", type=int, default=d.epochs, help="maximum epochs")
    parser.add_argument("--seed", type=int, default=d.seed, help="random seed")
    parser.add_argument("--batch-size", type=int, default=d.batch_size)
    parser.add_argument("--lr", type=float, default=d.lr, help="Adam learning rate")
    parser.add_argument("--weight-decay", type=float, default=d.weight_decay)
    parser.add_argument("--embedding-dropout", type=float, default=d.embedding_dropout)
    parser.add_argument("--hidden-dropout", type=float, default=d.hidden_dropout)
    parser.add_argument("--lr-decay", type=float, default=d.lr_decay, help="per-epoch factor")
    parser.add_argument(
        "--patience", type=int, default=d.patience, help="early stop after N epochs (0: off)"
    )
    parser.add_argument("--threads", type=int, default=d.threads, help="torch CPU threads")
    parser.add_argument(
        "--no-dedupe",
        action="store_true",
        help="train on every phrase occurrence instead of each distinct (phrase, label) once",
    )
    parser.add_argument("--no-download", action="store_true", help="never download SST")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The :class:`TrainConfig` the parsed arguments describe."""
    return dataclasses.replace(
        TrainConfig(),
        epochs=args.epochs,
        seed=args.seed,
        batch_size=args.batch_size,
        lr=args.lr,
        weight_decay=args.weight_decay,
        embedding_dropout=args.embedding_dropout,
        hidden_dropout=args.hidden_dropout,
        lr_decay=args.lr_decay,
        patience=args.patience,
        threads=args.threads,
        dedupe=not args.no_dedupe,
    )


def run_train(args: argparse.Namespace) -> int:
    """Train, print a summary, return exit status 0; data problems raise ``DataError``."""
    from textlrp.training.sst import train_sst

    cfg = config_from_args(args)
    result = train_sst(
        data_dir=args.data_dir,
        out_path=args.out,
        seed=cfg.seed,
        epochs=cfg.epochs,
        config=cfg,
        progress=not args.quiet,
        download=not args.no_download,
    )
    print(
        f"best epoch {result['best_epoch']}/{result['epochs_run']}, "
        f"{result['seconds']:.0f} s, vocabulary {result['vocab_size']} words\n"
        f"dev  five-class {100 * result['dev_fine']:.1f}%  binary "
        f"{100 * result['dev_binary']:.1f}%\n"
        f"test five-class {100 * result['test_fine']:.1f}%  binary "
        f"{100 * result['test_binary']:.1f}%  (2017 paper: 46.3% / 82.9%)\n"
        f"model written to {result['out_path']} (metrics: {result['out_path']}.json)"
    )
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("sst", help="train the papers' bi-LSTM on the SST")
    add_train_arguments(parser)
    parser.set_defaults(handler=run_train)
