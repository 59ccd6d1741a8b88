"""Train and evaluate the 2017 paper's bi-LSTM on the Stanford Sentiment Treebank.

The model (:class:`~textlrp.models.recurrent.RecurrentClassifier`: embedding 60, hidden 60,
one bidirectional layer, 5 classes, no output bias) is trained on every labelled phrase of the
training trees, selected on dev sentence accuracy (the best epoch is kept) and evaluated on the
test sentences, five-class and binary.

Binary accuracy follows the usual SST protocol: neutral (label 2) sentences are dropped, gold
labels {0, 1} are negative and {3, 4} positive. The five-class model predicts *positive* when
the summed softmax probability of classes 3 and 4 exceeds that of classes 0 and 1 (the neutral
class is ignored; ties count as negative).
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import json
import math
import random
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from textlrp.data.sst import SST_CLASS_NAMES, load_sst, sst_phrases
from textlrp.errors import DataError, InputError
from textlrp.models.recurrent import ClassifierConfig, RecurrentClassifier
from textlrp.models.vocab import Vocabulary

__all__ = [
    "TrainConfig",
    "accuracy_from_scores",
    "build_vocabulary",
    "evaluate",
    "predict_scores",
    "train_classifier",
    "train_sst",
]

PAPER_CONFIG = ClassifierConfig(
    embedding_dim=60, hidden_size=60, num_layers=1, bidirectional=True, output_bias=False
)
NEGATIVE = (0, 1)
POSITIVE = (3, 4)

# A labelled token sequence: an SSTExample, a Phrase or a plain (tokens, label) pair.
Labelled = Any


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Optimisation recipe; the defaults are the recipe of the bundled model."""

    epochs: int = 12
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.0
    embedding_dropout: float = 0.5  # on the word embeddings
    hidden_dropout: float = 0.5  # on the concatenated final states, before the output layer
    embedding_init: float = 0.1  # std of the normal init of the word embeddings
    grad_clip: float = 5.0
    lr_decay: float = 0.8  # learning rate multiplied by this after every epoch
    patience: int = 3  # stop after this many epochs without a better dev accuracy (0: never)
    dedupe: bool = True  # train on each distinct (phrase, label) pair once per epoch
    seed: int = 0
    threads: int = 1

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1:
            raise InputError("epochs and batch size must be at least 1")
        if not (0.0 <= self.embedding_dropout < 1.0 and 0.0 <= self.hidden_dropout < 1.0):
            raise InputError("dropout rates must lie in [0, 1)")
        if self.lr <= 0 or self.threads < 1:
            raise InputError("the learning rate must be positive and threads at least 1")


def _unpack(item: Labelled) -> tuple[Sequence[str], int]:
    if hasattr(item, "tokens") and hasattr(item, "label"):
        return item.tokens, int(item.label)
    tokens, label = item
    return tokens, int(label)


def build_vocabulary(sentences: Iterable[Sequence[str]]) -> Vocabulary:
    """Lower-cased vocabulary of the given sentences, in order of first occurrence."""
    return Vocabulary((tok.lower() for sent in sentences for tok in sent), lowercase=True)


def _encode(
    model: RecurrentClassifier, items: Sequence[Labelled]
) -> tuple[list[list[int]], list[int]]:
    ids, labels = [], []
    for item in items:
        tokens, label = _unpack(item)
        if not tokens:
            raise InputError("cannot classify an empty token sequence")
        if not 0 <= label < model.num_classes:
            raise InputError(f"label {label} is outside 0..{model.num_classes - 1}")
        ids.append(model.vocab.encode(tokens))
        labels.append(label)
    return ids, labels


def _pad(batch: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded (B, T) index tensor (pad index 0) and the lengths (B,)."""
    lengths = torch.tensor([len(seq) for seq in batch], dtype=torch.long)
    padded = torch.zeros(len(batch), int(lengths.max()), dtype=torch.long)
    for row, seq in enumerate(batch):
        padded[row, : len(seq)] = torch.tensor(seq, dtype=torch.long)
    return padded, lengths


@torch.no_grad()
def predict_scores(
    model: RecurrentClassifier, token_lists: Sequence[Sequence[str]], batch_size: int = 256
) -> torch.Tensor:
    """Class scores (N, C) for token lists, in input order; batches grouped by length."""
    was_training = model.training
    model.eval()
    ids = [model.vocab.encode(tokens) for tokens in token_lists]
    if any(len(seq) == 0 for seq in ids):
        raise InputError("cannot classify an empty token sequence")
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    out = torch.empty(len(ids), model.num_classes)
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        padded, lengths = _pad([ids[i] for i in chunk])
        out[chunk] = model(padded, lengths).float()
    model.train(was_training)
    return out


def accuracy_from_scores(scores: torch.Tensor, labels: torch.Tensor) -> dict[str, float | int]:
    """Five-class and binary accuracy of class scores (N, C) against gold labels (N,).

    See :func:`evaluate` for the binary rule; with other than five classes it is NaN.
    """
    fine = (scores.argmax(dim=1) == labels).float()
    probs = scores.softmax(dim=1)
    # Binary accuracy only makes sense for the five SST classes.
    polar = labels != 2 if scores.shape[1] == 5 else torch.zeros_like(labels, dtype=torch.bool)
    result: dict[str, float | int] = {
        "fine": fine.mean().item() if len(labels) else math.nan,
        "n": len(labels),
        "binary": math.nan,
        "n_binary": int(polar.sum()),
    }
    if polar.any():
        positive_pred = probs[:, list(POSITIVE)].sum(1) > probs[:, list(NEGATIVE)].sum(1)
        positive_gold = labels >= 3
        result["binary"] = (positive_pred == positive_gold)[polar].float().mean().item()
    return result


def evaluate(
    model: RecurrentClassifier, examples: Sequence[Labelled], batch_size: int = 256
) -> dict[str, float | int]:
    """Five-class (``fine``) and binary accuracy of ``model`` on labelled examples.

    ``binary`` drops gold-neutral examples and predicts positive when P(3)+P(4) > P(0)+P(1);
    it is NaN when no example is polar. ``n``/``n_binary`` count the examples used.
    """
    token_lists, labels = [], []
    for item in examples:
        tokens, label = _unpack(item)
        token_lists.append(tokens)
        labels.append(label)
    if not token_lists:
        raise InputError("evaluate needs at least one example")
    scores = predict_scores(model, token_lists, batch_size=batch_size)
    return accuracy_from_scores(scores, torch.tensor(labels, dtype=torch.long))


@contextlib.contextmanager
def _torch_threads(threads: int) -> Iterator[None]:
    """Run with ``threads`` intra-op CPU threads, restoring the previous setting after."""
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def _batches(lengths: Sequence[int], batch_size: int, rng: random.Random) -> list[list[int]]:
    """Shuffled batches of indices; within pools of 50 batches, similar lengths go together."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    pool = batch_size * 50
    batches = []
    for start in range(0, len(order), pool):
        chunk = sorted(order[start : start + pool], key=lambda i: lengths[i])
        batches.extend(chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size))
    rng.shuffle(batches)
    return batches


def train_classifier(
    train_items: Sequence[Labelled],
    dev_examples: Sequence[Labelled],
    vocab: Vocabulary,
    config: TrainConfig | None = None,
    class_names: Sequence[str] = SST_CLASS_NAMES,
    model_config: ClassifierConfig = PAPER_CONFIG,
    progress: bool = True,
) -> tuple[RecurrentClassifier, dict[str, Any]]:
    """Train on ``train_items``, keep the epoch with the best dev five-class accuracy.

    Returns the model (best epoch's weights, eval mode) and a history dict. Deterministic for
    a fixed ``config.seed`` and thread count (``config.threads``).
    """
    cfg = config or TrainConfig()
    if not train_items or not dev_examples:
        raise DataError("training needs at least one training item and one dev example")
    with _torch_threads(cfg.threads):
        return _train(train_items, dev_examples, vocab, cfg, class_names, model_config, progress)


def _train(
    train_items: Sequence[Labelled],
    dev_examples: Sequence[Labelled],
    vocab: Vocabulary,
    cfg: TrainConfig,
    class_names: Sequence[str],
    model_config: ClassifierConfig,
    progress: bool,
) -> tuple[RecurrentClassifier, dict[str, Any]]:
    from tqdm.auto import tqdm

    torch.manual_seed(cfg.seed)
    rng = random.Random(cfg.seed)
    model = RecurrentClassifier(vocab, class_names, model_config)
    with torch.no_grad():
        nn.init.normal_(model.embedding.weight, std=cfg.embedding_init)
        # Padding and unknown words stay zero vectors: every training word is in the
        # vocabulary, so an unknown-word row would otherwise keep its random start and feed
        # noise into every test sentence with a word the model never saw.
        model.embedding.weight[[vocab.pad_index, vocab.unk_index]] = 0.0
    fixed_rows = torch.tensor([vocab.pad_index, vocab.unk_index])
    hook = model.embedding.weight.register_hook(lambda g: g.index_fill(0, fixed_rows, 0.0))
    ids, labels = _encode(model, train_items)
    lengths = [len(seq) for seq in ids]
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    emb_drop = nn.Dropout(cfg.embedding_dropout)
    hid_drop = nn.Dropout(cfg.hidden_dropout)

    history: list[dict[str, float]] = []
    best_acc, best_epoch, best_state = -1.0, 0, copy.deepcopy(model.state_dict())
    for epoch in range(1, cfg.epochs + 1):
        model.train()
        batches = _batches(lengths, cfg.batch_size, rng)
        total_loss, seen = 0.0, 0
        bar = tqdm(batches, desc=f"epoch {epoch}/{cfg.epochs}", disable=not progress, leave=False)
        for batch in bar:
            padded, lens = _pad([ids[i] for i in batch])
            target = torch.tensor([labels[i] for i in batch], dtype=torch.long)
            states = model.final_states(emb_drop(model.embedding(padded)), lens)
            scores = model.output(model.head(hid_drop(states)))
            loss = F.cross_entropy(scores, target)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip > 0:
                nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            optimizer.step()
            total_loss += loss.item() * len(batch)
            seen += len(batch)
            if seen % (cfg.batch_size * 100) < cfg.batch_size:
                bar.set_postfix(loss=f"{total_loss / seen:.4f}")
        dev = evaluate(model, dev_examples)
        history.append(
            {
                "epoch": epoch,
                "train_loss": total_loss / max(seen, 1),
                "dev_fine": dev["fine"],
                "dev_binary": dev["binary"],
                "lr": optimizer.param_groups[0]["lr"],
            }
        )
        if progress:
            tqdm.write(
                f"epoch {epoch}: loss {total_loss / max(seen, 1):.4f}  "
                f"dev five-class {dev['fine']:.4f}  binary {dev['binary']:.4f}"
            )
        if dev["fine"] > best_acc:
            best_acc, best_epoch = float(dev["fine"]), epoch
            best_state = copy.deepcopy(model.state_dict())
        elif cfg.patience and epoch - best_epoch >= cfg.patience:
            break
        for group in optimizer.param_groups:
            group["lr"] *= cfg.lr_decay
    hook.remove()
    model.load_state_dict(best_state)
    model.eval()
    return model, {"history": history, "best_epoch": best_epoch, "epochs_run": len(history)}


def train_sst(
    data_dir: str | Path | None = None,
    out_path: str | Path | None = "runs/sst_bilstm.pt",
    seed: int = 0,
    epochs: int | None = None,
    config: TrainConfig | None = None,
    progress: bool = True,
    download: bool = True,
) -> dict[str, Any]:
    """Train the 2017 paper's bi-LSTM on SST phrases and evaluate it on dev and test.

    ``seed``/``epochs`` override those fields of ``config``. The model is written to
    ``out_path`` (unless None) with :meth:`RecurrentClassifier.save`, and the returned result dict
    (accuracies, epochs, seconds, config, vocabulary size, history) is also written next to
    it as JSON (``<out_path>.json``).
    """
    cfg = config or TrainConfig()
    cfg = dataclasses.replace(cfg, seed=seed, epochs=epochs if epochs is not None else cfg.epochs)
    start = time.perf_counter()
    with _torch_threads(cfg.threads):
        train_sentences = load_sst("train", data_dir, download=download)
        dev = load_sst("dev", data_dir, download=download)
        test = load_sst("test", data_dir, download=download)
        phrases = sst_phrases("train", data_dir, download=download)
        if cfg.dedupe:
            phrases = list(dict.fromkeys(phrases))
        vocab = build_vocabulary(ex.tokens for ex in train_sentences)
        model, info = train_classifier(phrases, dev, vocab, cfg, progress=progress)
        dev_acc = evaluate(model, dev)
        test_acc = evaluate(model, test)
    seconds = time.perf_counter() - start
    result: dict[str, Any] = {
        "dev_fine": dev_acc["fine"],
        "dev_binary": dev_acc["binary"],
        "test_fine": test_acc["fine"],
        "test_binary": test_acc["binary"],
        "n_test": test_acc["n"],
        "n_test_binary": test_acc["n_binary"],
        "best_epoch": info["best_epoch"],
        "epochs_run": info["epochs_run"],
        "seconds": seconds,
        "config": dataclasses.asdict(cfg),
        "model_config": dataclasses.asdict(model.config),
        "vocab_size": len(vocab),
        "train_items": len(phrases),
        "train_sentences": len(train_sentences),
        "history": info["history"],
        "binary_rule": "neutral gold dropped; positive iff P(3)+P(4) > P(0)+P(1)",
        "out_path": None,
    }
    if out_path is not None:
        out = Path(out_path)
        out.parent.mkdir(parents=True, exist_ok=True)
        model.save(out)
        result["out_path"] = str(out)
        out.with_name(out.name + ".json").write_text(json.dumps(result, indent=2) + "\n")
    return result
