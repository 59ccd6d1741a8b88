"""``textlrp train 20news``: the 2016 paper's CNN on 20 Newsgroups (word2vec stand-in)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from textlrp.errors import InputError

__all__ = ["add_arguments", "config_from_args", "run", "register"]

DEFAULT_OUT = "runs/20news_cnn.pt"


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data",
        default=None,
        help="20news-bydate.tar.gz or the folder it extracts to (default: $TEXTLRP_20NEWS, "
        "then ~/.cache/textlrp/20news/)",
    )
    parser.add_argument(
        "--embeddings",
        type=Path,
        default=None,
        help="word vectors to start from: word2vec .bin/.txt, GloVe .txt or gensim .kv "
        "(default: train word2vec on the training split)",
    )
    parser.add_argument(
        "--keep",
        nargs="*",
        choices=("headers", "footers", "quotes"),
        default=[],
        help="parts of the posts to keep (default: strip headers, footers and quotes)",
    )


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    from textlrp.training.newsgroups import NewsTrainConfig

    d = NewsTrainConfig()
    add_data_arguments(parser)
    parser.add_argument("--out", type=Path, default=Path(DEFAULT_OUT),
                        help=f"model file (default {DEFAULT_OUT}); a .json summary goes beside it")
    parser.add_argument("--max-tokens", type=int, default=d.max_tokens,
                        help=f"tokens kept per post (default {d.max_tokens})")
    parser.add_argument("--embedding-dim", type=int, default=d.embedding_dim)
    parser.add_argument("--filters", type=int, default=d.num_filters, help="conv filters")
    parser.add_argument("--width", type=int, default=d.width, help="filter width in words")
    parser.add_argument("--epochs", type=int, default=d.epochs, help="maximum epochs")
    parser.add_argument("--patience", type=int, default=d.patience,
                        help="early stop after N epochs without a better dev accuracy (0: off)")
    parser.add_argument("--batch-size", type=int, default=d.batch_size)
    parser.add_argument("--lr", type=float, default=d.lr, help="Adam learning rate")
    parser.add_argument("--dropout", type=float, default=d.dropout)
    parser.add_argument("--seed", type=int, default=d.seed, help="random seed")
    parser.add_argument("--threads", type=int, default=d.threads, help="CPU threads")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser


def config_from_args(args: argparse.Namespace):
    from textlrp.training.newsgroups import NewsTrainConfig

    return dataclasses.replace(
        NewsTrainConfig(),
        max_tokens=args.max_tokens,
        embedding_dim=args.embedding_dim,
        num_filters=args.filters,
        width=args.width,
        epochs=args.epochs,
        patience=args.patience,
        batch_size=args.batch_size,
        lr=args.lr,
        dropout=args.dropout,
        seed=args.seed,
        threads=args.threads,
    )


def removed_parts(args: argparse.Namespace) -> tuple[str, ...]:
    return tuple(p for p in ("headers", "footers", "quotes") if p not in (args.keep or []))


def run(args: argparse.Namespace) -> int:
    from textlrp.models.embeddings import require_news_extra

    require_news_extra()
    import numpy as np

    from textlrp.data.newsgroups import load_newsgroups, tokenize_post
    from textlrp.models.embeddings import load_word_vectors
    from textlrp.training.newsgroups import (
        encode_documents,
        predict_documents,
        train_news_cnn,
    )

    config = config_from_args(args)
    if args.out.suffix == ".json":
        raise InputError("--out is the model file; its summary is written beside it as .json")
    remove = removed_parts(args)
    splits = {}
    for split in ("train", "test"):
        docs = load_newsgroups(split, args.data, remove=remove)
        splits[split] = ([tokenize_post(d.text) for d in docs], np.array([d.label for d in docs]))
    vectors = (
        load_word_vectors(args.embeddings, config.embedding_dim) if args.embeddings else None
    )
    model, summary = train_news_cnn(
        *splits["train"], config, vectors=vectors,
        vectors_label=str(args.embeddings) if args.embeddings else "given vectors",
        progress=not args.quiet,
    )
    test_docs, test_labels = splits["test"]
    scores = predict_documents(model, encode_documents(model.vocab, test_docs, config.max_tokens))
    summary["test_accuracy"] = float((scores.argmax(1) == test_labels).mean())
    summary["removed"] = list(remove)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    model.save(args.out)
    args.out.with_suffix(".json").write_text(json.dumps(summary, indent=1), encoding="utf-8")
    print(
        f"best epoch {summary['best_epoch']}/{len(summary['epochs'])}: dev accuracy "
        f"{100 * summary['dev_accuracy']:.2f} %, test accuracy "
        f"{100 * summary['test_accuracy']:.2f} % ({len(test_labels)} posts); wrote {args.out}",
        file=sys.stderr,
    )
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "20news", help="train the 2016 paper's CNN on 20 Newsgroups (word2vec-initialised)"
    )
    add_arguments(parser)
    parser.set_defaults(handler=run)
