"""Train the 2016 paper's CNN on 20 Newsgroups: word2vec-initialised embeddings, one conv layer.

Recipe (every choice below that the paper's text does not state is ours):

- data: the bydate split, headers/footers/quotes stripped (:mod:`textlrp.data.newsgroups`),
  lower-cased regex tokens; a stratified dev split (10 %) carved from the training set;
- documents truncated to their first ``max_tokens`` (400) tokens for training *and* evaluation
  (about 90 % of the stripped test documents are shorter);
- vocabulary: the words occurring ≥ ``min_count`` (2) times in the training part (dev excluded);
- embeddings: 300-d word2vec (gensim skip-gram, 5 epochs) trained on the training part, or a
  user's vector file (``--embeddings``); the embedding layer is fine-tuned;
- model: :class:`~textlrp.models.cnn.CNNClassifier`, 100 filters of width 3, ReLU, max-pool,
  a linear output layer with bias (the paper's CNN1 shape);
- optimisation: Adam (lr 1e-3), batches of 50 length-bucketed documents, dropout 0.5 on the
  pooled features, at most 6 epochs, early stopping on dev accuracy (patience 2, best epoch
  kept). Seeds fix the split, the initialisation and the batch order.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import random
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F
from tqdm import tqdm

from textlrp.data.newsgroups import NEWSGROUPS
from textlrp.errors import DataError, InputError
from textlrp.models.cnn import CNNClassifier, CNNConfig
from textlrp.models.embeddings import (
    Word2VecSettings,
    build_vocabulary,
    embedding_matrix,
)
from textlrp.models.vocab import Vocabulary

__all__ = [
    "NewsTrainConfig",
    "dev_split",
    "encode_documents",
    "predict_documents",
    "train_news_cnn",
]


@dataclasses.dataclass(frozen=True)
class NewsTrainConfig:
    """Every setting of the CNN training run (the defaults are the reproduction's)."""

    max_tokens: int = 400
    min_count: int = 2
    dev_fraction: float = 0.1
    embedding_dim: int = 300
    num_filters: int = 100
    width: int = 3
    dropout: float = 0.5
    epochs: int = 6
    patience: int = 2
    batch_size: int = 50
    lr: float = 1e-3
    seed: int = 0
    threads: int = 2

    def __post_init__(self) -> None:
        if min(self.max_tokens, self.min_count, self.epochs, self.batch_size, self.threads) < 1:
            raise InputError("max_tokens, min_count, epochs, batch size and threads must be ≥ 1")
        if not 0.0 < self.dev_fraction < 1.0:
            raise InputError("the dev fraction must lie strictly between 0 and 1")
        if not 0.0 <= self.dropout < 1.0 or self.lr <= 0:
            raise InputError("dropout must lie in [0, 1) and the learning rate be positive")

    def word2vec(self, workers: int | None = None) -> Word2VecSettings:
        return Word2VecSettings(
            dim=self.embedding_dim,
            min_count=self.min_count,
            seed=self.seed,
            workers=workers or self.threads,
        )


def dev_split(labels: Sequence[int], fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Stratified (train indices, dev indices) of a labelled set.

    The dev part holds ``fraction`` of the posts but at least one per class; on tiny sets where
    a class has a single post the split is not stratified.
    """
    from textlrp.models.embeddings import require_news_extra

    require_news_extra()
    from sklearn.model_selection import train_test_split

    labels = np.asarray(labels)
    classes, counts = np.unique(labels, return_counts=True)
    if len(labels) < 2:
        raise DataError("need at least two training posts to carve out a dev split")
    size = max(int(round(fraction * len(labels))), 1)
    stratify = None
    if counts.min() >= 2 and len(labels) - len(classes) >= len(classes):
        size = min(max(size, len(classes)), len(labels) - len(classes))
        stratify = labels
    train, dev = train_test_split(
        np.arange(len(labels)), test_size=size, random_state=seed, stratify=stratify
    )
    return np.sort(train), np.sort(dev)


def encode_documents(
    vocab: Vocabulary, documents: Sequence[Sequence[str]], max_tokens: int
) -> list[list[int]]:
    """Vocabulary indices of each document's first ``max_tokens`` tokens (unknown words kept)."""
    return [vocab.encode(list(doc[:max_tokens])) for doc in documents]


def _pad(rows: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    lengths = torch.tensor([len(r) for r in rows], dtype=torch.long)
    ids = torch.zeros((len(rows), max(int(lengths.max()), 1)), dtype=torch.long)
    for i, row in enumerate(rows):
        if row:
            ids[i, : len(row)] = torch.tensor(row)
    return ids, lengths


def _buckets(lengths: Sequence[int], batch_size: int, rng: random.Random) -> list[list[int]]:
    """Batches of similar length (sorted with random tie-breaks), in random order."""
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i], rng.random()))
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    rng.shuffle(batches)
    return batches


def predict_documents(
    model: CNNClassifier, rows: Sequence[Sequence[int]], batch_size: int = 100
) -> np.ndarray:
    """Class scores (B, C) of encoded documents (length-sorted batches, original order)."""
    was_training = model.training
    model.eval()
    order = sorted(range(len(rows)), key=lambda i: len(rows[i]))
    scores = np.zeros((len(rows), model.num_classes), dtype=np.float32)
    with torch.no_grad():
        for start in range(0, len(order), batch_size):
            picked = order[start : start + batch_size]
            ids, lengths = _pad([rows[i] for i in picked])
            scores[picked] = model(ids, lengths).float().numpy()
    model.train(was_training)
    return scores


@contextlib.contextmanager
def _threads(count: int) -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def train_news_cnn(
    train_docs: Sequence[Sequence[str]],
    train_labels: Sequence[int],
    config: NewsTrainConfig | None = None,
    vectors: Any = None,
    vectors_label: str = "given vectors",
    progress: bool = True,
    log: Callable[[str], None] | None = None,
) -> tuple[CNNClassifier, dict[str, Any]]:
    """Split dev off, build vocabulary and embeddings, train with early stopping.

    ``vectors`` are gensim KeyedVectors to initialise the embeddings with; ``None`` trains
    word2vec on the training part. Returns the best-on-dev model (eval mode) and a summary.
    """
    config = config or NewsTrainConfig()
    log = log or (lambda message: print(message, file=sys.stderr, flush=True))
    labels = np.asarray(train_labels)
    fit_index, dev_index = dev_split(labels, config.dev_fraction, config.seed)
    fit_docs = [train_docs[i] for i in fit_index]
    summary: dict[str, Any] = {"config": dataclasses.asdict(config)}
    with _threads(config.threads):
        vocab = build_vocabulary(fit_docs, config.min_count)
        started = time.perf_counter()
        if vectors is None:
            from textlrp.models.embeddings import train_word2vec

            log(f"training word2vec ({config.embedding_dim}-d) on {len(fit_docs)} documents…")
            vectors = train_word2vec(fit_docs, config.word2vec())
            summary["embeddings"] = "word2vec trained on the training part"
        else:
            summary["embeddings"] = vectors_label
        summary["word2vec_seconds"] = time.perf_counter() - started
        matrix, stats = embedding_matrix(vocab, vectors, seed=config.seed)
        summary["vocabulary"] = len(vocab)
        summary["embedding_stats"] = dataclasses.asdict(stats) | {"coverage": stats.coverage}
        model, history = _fit(config, vocab, matrix, fit_docs, labels[fit_index],
                              [train_docs[i] for i in dev_index], labels[dev_index], progress, log)
    summary.update(history)
    summary["train_size"], summary["dev_size"] = len(fit_index), len(dev_index)
    return model, summary


def _fit(
    config: NewsTrainConfig,
    vocab: Vocabulary,
    matrix: np.ndarray,
    fit_docs: Sequence[Sequence[str]],
    fit_labels: np.ndarray,
    dev_docs: Sequence[Sequence[str]],
    dev_labels: np.ndarray,
    progress: bool,
    log: Callable[[str], None],
) -> tuple[CNNClassifier, dict[str, Any]]:
    torch.manual_seed(config.seed)
    rng = random.Random(config.seed)
    cnn_config = CNNConfig(
        embedding_dim=config.embedding_dim,
        num_filters=config.num_filters,
        widths=(config.width,),
        dropout=config.dropout,
        output_bias=True,
    )
    model = CNNClassifier(vocab, list(NEWSGROUPS), cnn_config)
    with torch.no_grad():
        model.embedding.weight.copy_(torch.from_numpy(matrix))
    fit_rows = encode_documents(vocab, fit_docs, config.max_tokens)
    dev_rows = encode_documents(vocab, dev_docs, config.max_tokens)
    targets = torch.as_tensor(fit_labels, dtype=torch.long)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    best_state, best_dev, best_epoch, waited = None, -1.0, 0, 0
    epochs: list[dict[str, float]] = []
    started = time.perf_counter()
    for epoch in range(1, config.epochs + 1):
        model.train()
        batches = _buckets([len(r) for r in fit_rows], config.batch_size, rng)
        total_loss = 0.0
        bar = tqdm(batches, desc=f"epoch {epoch}", disable=not progress, file=sys.stderr,
                   leave=False, unit="batch")
        for batch in bar:
            ids, lengths = _pad([fit_rows[i] for i in batch])
            loss = F.cross_entropy(model(ids, lengths), targets[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            with torch.no_grad():
                model.embedding.weight[vocab.pad_index].zero_()
            value = loss.item()
            total_loss += value * len(batch)
            bar.set_postfix(loss=f"{value:.3f}")
        dev_accuracy = float((predict_documents(model, dev_rows).argmax(1) == dev_labels).mean())
        record = {"epoch": epoch, "loss": total_loss / len(fit_rows), "dev_accuracy": dev_accuracy,
                  "seconds": time.perf_counter() - started}
        epochs.append(record)
        log(f"epoch {epoch}: loss {record['loss']:.4f}, dev accuracy {dev_accuracy:.4f} "
            f"({record['seconds']:.0f} s)")
        if dev_accuracy > best_dev:
            best_state, best_dev, best_epoch, waited = (
                copy.deepcopy(model.state_dict()), dev_accuracy, epoch, 0)
        else:
            waited += 1
            if config.patience and waited >= config.patience:
                log(f"early stop: no better dev accuracy for {waited} epochs")
                break
    assert best_state is not None
    model.load_state_dict(best_state)
    model.eval()
    history = {"epochs": epochs, "best_epoch": best_epoch, "dev_accuracy": best_dev,
               "train_seconds": time.perf_counter() - started}
    return model, history
