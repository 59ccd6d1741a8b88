"""What the 20 Newsgroups stages share: settings, the run context (data, word vectors, the
trained CNN and the bag-of-words SVM, all cached), relevance of every test document per method.

Relevance is computed once per (method, targets) for all test documents (truncated to the
training length) and cached as arrays; stages select rows. Occlusion uses an exact shortcut for
one-conv-layer CNNs (:func:`cnn_occluded_scores`): removing word t changes only the windows that
contain t, so every occluded score of a document costs about one forward pass.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import tempfile
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from textlrp.api import explain_batch
from textlrp.data.newsgroups import DEFAULT_REMOVE, NEWSGROUPS, load_newsgroups, tokenize_post
from textlrp.experiments.cache import StageCache, text_digest
from textlrp.methods.base import EncodedBatch
from textlrp.models.cnn import CNNClassifier, padded_input, window_counts
from textlrp.training.newsgroups import NewsTrainConfig, dev_split, predict_documents

DTYPE = torch.float32


@dataclasses.dataclass(frozen=True)
class Settings:
    """Every setting of the experiments (all part of the cache keys)."""

    train: NewsTrainConfig = dataclasses.field(default_factory=NewsTrainConfig)
    remove: tuple[str, ...] = DEFAULT_REMOVE
    per_class: int | None = None  # cap on documents per class and split (smoke runs)
    deletion_docs: int = 1000  # test documents sampled (stratified) for word deletion
    vector_docs: int = 2000  # test documents sampled (stratified) for document vectors
    deletion_steps: tuple[int, ...] = (0, 1, 2, 3, 5, 7, 10, 15, 20)
    random_orders: int = 5
    min_deletion_length: int = 20  # documents need at least max(deletion_steps) words
    knn_k: tuple[int, ...] = (1, 5, 10, 20)
    knn_folds: int = 5
    top_words: int = 10
    min_word_docs: int = 3  # documents a word must occur in to enter a top-words list
    heatmap_length: tuple[int, int] = (25, 90)  # token range of the example documents
    svm_c: float = 1.0
    seed: int = 0
    batch_size: int = 100
    dpi: int = 80


@dataclasses.dataclass(frozen=True)
class MethodSpec:
    key: str
    label: str
    method: str


CNN_METHODS = {
    "lrp": MethodSpec("lrp", "LRP", "lrp"),
    "gradient": MethodSpec("gradient", "SA", "gradient"),
    "gradient_x_input": MethodSpec("gradient_x_input", "G×I", "gradient_x_input"),
    "occlusion": MethodSpec("occlusion", "Occlusion", "occlusion_f"),
}


def archive_digest(path: Path) -> str:
    """A key for the data: the archive's hash, or names and sizes of an extracted folder."""
    from textlrp.experiments.cache import file_digest

    if path.is_file():
        return file_digest(path)
    entries = sorted(
        f"{p.relative_to(path)}:{p.stat().st_size}" for p in path.rglob("*") if p.is_file()
    )
    return text_digest(entries)


@dataclasses.dataclass
class Context:
    """A run: data source, outputs, cache, settings; models are trained (or loaded) lazily."""

    source: Path
    out: Path
    cache: StageCache
    settings: Settings = dataclasses.field(default_factory=Settings)
    progress: bool = True
    model_path: Path | None = None
    embeddings_path: Path | None = None
    # SA and G×I come from one backward pass; the one not asked for waits here for its turn
    gradient_memo: dict[tuple[str, str], dict[str, np.ndarray]] = dataclasses.field(
        default_factory=dict, repr=False
    )

    def log(self, message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    def bar(self, total: int, desc: str) -> tqdm:
        return tqdm(total=total, desc=desc, disable=not self.progress, file=sys.stderr, leave=False)

    # ---------------------------------------------------------------- data
    @cached_property
    def _splits(self) -> dict[str, tuple[list[list[str]], np.ndarray, list[str]]]:
        out = {}
        for split in ("train", "test"):
            docs = load_newsgroups(split, self.source, remove=self.settings.remove)
            if self.settings.per_class is not None:
                docs = _cap_per_class(docs, self.settings.per_class, self.settings.seed)
            tokens = [tokenize_post(d.text) for d in docs]
            labels = np.array([d.label for d in docs], dtype=np.int64)
            out[split] = (tokens, labels, [d.name for d in docs])
        return out

    @property
    def train_docs(self) -> list[list[str]]:
        return self._splits["train"][0]

    @property
    def train_labels(self) -> np.ndarray:
        return self._splits["train"][1]

    @cached_property
    def test_docs(self) -> list[list[str]]:
        """Test documents truncated to the training length (what every model sees)."""
        limit = self.settings.train.max_tokens
        return [doc[:limit] for doc in self._splits["test"][0]]

    @property
    def test_full_docs(self) -> list[list[str]]:
        return self._splits["test"][0]

    @property
    def test_labels(self) -> np.ndarray:
        return self._splits["test"][1]

    @property
    def test_names(self) -> list[str]:
        return self._splits["test"][2]

    @property
    def class_names(self) -> list[str]:
        return list(NEWSGROUPS)

    @cached_property
    def docs_key(self) -> str:
        return text_digest(" ".join(d) for d in self.test_docs)

    # ------------------------------------------------------- word vectors
    def word2vec_settings(self) -> dict[str, Any]:
        cfg = self.settings.train
        return {
            "word2vec": dataclasses.asdict(cfg.word2vec(workers=1)) | {"workers": None},
            "dev": [cfg.dev_fraction, cfg.seed],
            "per_class": self.settings.per_class,
            "remove": self.settings.remove,
            "embeddings": str(self.embeddings_path) if self.embeddings_path else None,
        }

    @cached_property
    def vectors(self):
        """word2vec on the training part (cached), or the user's vector file."""
        from textlrp.models.embeddings import load_word_vectors, train_word2vec

        dim = self.settings.train.embedding_dim
        if self.embeddings_path is not None:
            return load_word_vectors(self.embeddings_path, dim)
        path = self.cache.path("word2vec", self.word2vec_settings(), "kv")
        if path.is_file() and self.cache.enabled:
            try:
                return load_word_vectors(path, dim)
            except ValueError:
                pass  # damaged: retrain
        cfg = self.settings.train
        fit, _ = dev_split(self.train_labels, cfg.dev_fraction, cfg.seed)
        self.log(f"[word2vec] training {dim}-d vectors on {len(fit)} documents…")
        vectors = train_word2vec([self.train_docs[i] for i in fit], cfg.word2vec())
        tmp = path.with_suffix(".tmp.kv")
        vectors.save(str(tmp), separately=[])  # one file, so the rename moves it all
        os.replace(tmp, path)
        return vectors

    # --------------------------------------------------------------- models
    def model_settings(self) -> dict[str, Any]:
        return {"train": dataclasses.asdict(self.settings.train)} | self.word2vec_settings()

    @cached_property
    def trained(self) -> tuple[CNNClassifier, dict[str, Any]]:
        """The CNN (loaded from ``model_path``, the cache, or trained now) and its summary."""
        import json

        if self.model_path is not None:
            from textlrp import load_model

            model = load_model(self.model_path)
            if not isinstance(model, CNNClassifier):
                from textlrp.errors import ModelError

                raise ModelError(f"{self.model_path} is not a CNN model; train one with "
                                 "`textlrp train 20news`")
            return model.float().eval(), {"source": str(self.model_path)}
        settings = self.model_settings()
        path = self.cache.path("cnn", settings, "pt")
        summary_path = self.cache.path("cnn", settings, "json")
        if self.cache.enabled and path.is_file() and summary_path.is_file():
            model = CNNClassifier.load(path).float().eval()
            return model, json.loads(summary_path.read_text(encoding="utf-8"))
        from textlrp.training.newsgroups import train_news_cnn

        model, summary = train_news_cnn(
            self.train_docs,
            self.train_labels,
            self.settings.train,
            vectors=self.vectors,
            vectors_label=str(self.embeddings_path) if self.embeddings_path else
            "word2vec trained on the training part",
            progress=self.progress,
            log=self.log,
        )
        handle, tmp = tempfile.mkstemp(dir=self.cache.folder, suffix=".pt")
        os.close(handle)
        model.save(tmp)
        os.replace(tmp, path)
        self.cache.save_json("cnn", settings, summary)
        return model.float().eval(), summary

    @property
    def model(self) -> CNNClassifier:
        return self.trained[0]

    @cached_property
    def svm(self):
        """The TF-IDF linear SVM, fitted on the (truncated) training documents."""
        from textlrp.models.bow_svm import BowSVM

        limit = self.settings.train.max_tokens
        docs = [d[:limit] for d in self.train_docs]
        return BowSVM(C=self.settings.svm_c).fit(docs, self.train_labels)

    # ----------------------------------------------------------- test scores
    @cached_property
    def test_rows(self) -> list[list[int]]:
        return [self.model.vocab.encode(doc) for doc in self.test_docs]

    @cached_property
    def test_scores(self) -> np.ndarray:
        return predict_documents(self.model, self.test_rows, self.settings.batch_size)

    @cached_property
    def svm_scores(self) -> np.ndarray:
        return self.svm.decision(self.test_docs)

    @cached_property
    def test_lengths(self) -> np.ndarray:
        return np.array([len(d) for d in self.test_docs], dtype=np.int64)

    def encoded(self, index: np.ndarray) -> EncodedBatch:
        """The test documents ``index`` as one padded batch (empty documents allowed)."""
        return encode_rows(self.model, [self.test_docs[i] for i in index],
                           [self.test_rows[i] for i in index])

    # -------------------------------------------------------------- relevance
    def targets_of(self, targets: str) -> np.ndarray:
        if targets == "true":
            return self.test_labels.copy()
        if targets == "predicted":
            return self.test_scores.argmax(1)
        raise ValueError(targets)

    def relevance(self, key: str, targets: str, rows: np.ndarray | None = None) -> np.ndarray:
        """Relevance (B, T) of every test document for ``targets``; padded with zeros.

        ``key``: a CNN method of :data:`CNN_METHODS` or ``svm`` (the exact SVM explanation;
        ``predicted`` then means the SVM's prediction). With ``rows``, only those documents are
        needed: the array of all documents is used when cached, else only the rows are
        computed (the others stay zero) and cached under their own key.
        """
        if key == "svm":
            target = self.test_labels if targets == "true" else self.svm_scores.argmax(1)
        else:
            target = self.targets_of(targets)
        settings = self._relevance_settings(key, target)
        if rows is not None and not (
            self.cache.enabled and self.cache.path(f"relevance_{key}", settings, "npz").is_file()
        ):
            rows = np.sort(np.asarray(rows))
            subset = settings | {"rows": text_digest(str(r) for r in rows.tolist())}
            return self.cache.arrays(
                f"relevance_{key}_rows",
                subset,
                lambda: {"r": self._compute_reusing(key, targets, target, rows)},
            )["r"]
        return self.cache.arrays(
            f"relevance_{key}", settings, lambda: {"r": self._compute_reusing(key, targets, target)}
        )["r"]

    def _relevance_settings(self, key: str, target: np.ndarray) -> dict[str, Any]:
        return {
            "key": key,
            "targets": text_digest(str(t) for t in target.tolist()),
            "docs": self.docs_key,
            "model": self.model_settings() if self.model_path is None else str(self.model_path),
            "svm_c": self.settings.svm_c,
        }

    def _compute_reusing(
        self, key: str, targets: str, target: np.ndarray, rows: np.ndarray | None = None
    ) -> np.ndarray:
        """For predicted targets, rows whose prediction is the true class are the true-class
        rows (the same explanation, cached or computed once); only the others are explained
        anew. ``rows``: the documents needed (default all)."""
        if targets != "predicted":
            return self._compute(key, target, rows)
        true = self.relevance(key, "true", rows)
        needed = np.arange(len(self.test_docs)) if rows is None else rows
        differing = needed[target[needed] != self.test_labels[needed]]
        out = np.zeros_like(true)
        out[needed] = true[needed]
        if len(differing):
            fresh = self._compute(key, target, differing)
            out[differing] = fresh[differing]
        return out

    def _compute(
        self, key: str, targets: np.ndarray, rows: np.ndarray | None = None
    ) -> np.ndarray:
        """Relevance (B, T) for ``targets``, computed for ``rows`` (default all; others 0)."""
        steps = max(int(self.test_lengths.max()), 1)
        out = np.zeros((len(self.test_docs), steps), dtype=np.float32)
        rows = np.arange(len(self.test_docs)) if rows is None else np.asarray(rows)
        if key == "svm":
            chosen = [self.test_docs[i] for i in rows]
            for i, e in zip(rows, self.svm.explain(chosen, targets[rows]), strict=True):
                out[i, : len(e.tokens)] = e.relevance
            return out
        spec = CNN_METHODS[key]
        gradient_keys = ("gradient", "gradient_x_input")
        memo = (text_digest(str(t) for t in targets.tolist()),
                text_digest(str(r) for r in rows.tolist()))
        if key in gradient_keys and memo in self.gradient_memo:
            return self.gradient_memo.pop(memo)[key]
        both = {k: out.copy() for k in gradient_keys}
        order = rows[np.argsort(self.test_lengths[rows], kind="stable")]
        size = self.settings.batch_size
        bar = self.bar(len(order), f"relevance {spec.label}")
        for start in range(0, len(order), size):
            index = order[start : start + size]
            batch = self.encoded(index)
            if key == "occlusion":
                relevance = occlusion_f(self.model, batch, targets[index])
            elif key in gradient_keys:
                pair = gradient_relevance(self.model, batch, targets[index])
                for k in gradient_keys:
                    both[k][index, : pair[k].shape[1]] = pair[k]
                relevance = pair[key]
            else:
                explained = explain_batch(
                    self.model, batch, spec.method, [int(t) for t in targets[index]],
                    dtype=DTYPE, batch_size=size,
                )
                relevance = explained.batch.relevance.detach().cpu().numpy()
            out[index, : relevance.shape[1]] = relevance
            bar.update(len(index))
        bar.close()
        if key in gradient_keys:
            other = gradient_keys[1 - gradient_keys.index(key)]
            self.gradient_memo[memo] = {other: both[other]}
        return out

    def embeddings_of(self, index: np.ndarray) -> np.ndarray:
        """The CNN's (fine-tuned) word embeddings (B, T, e) of test documents, 0 on padding."""
        batch = self.encoded(index)
        return batch.inputs(self.model, DTYPE).cpu().numpy()


def _cap_per_class(docs, per_class: int, seed: int):
    rng = np.random.default_rng(seed)
    kept = []
    for label in range(len(NEWSGROUPS)):
        members = [d for d in docs if d.label == label]
        picked = sorted(rng.permutation(len(members))[:per_class].tolist())
        kept += [members[i] for i in picked]
    return kept


def encode_rows(model, tokens: list[list[str]], rows: list[list[int]]) -> EncodedBatch:
    """An :class:`EncodedBatch` of encoded documents (no all-unknown check: posts may be
    empty after stripping, and a CNN still scores them)."""
    vocab = model.vocab
    lengths = torch.tensor([len(r) for r in rows], dtype=torch.long)
    steps = max(int(lengths.max()), 1)
    ids = torch.full((len(rows), steps), vocab.pad_index, dtype=torch.long)
    for i, row in enumerate(rows):
        if row:
            ids[i, : len(row)] = torch.tensor(row)
    mask = torch.arange(steps)[None, :] < lengths[:, None]
    unknown = (ids == vocab.unk_index) & mask
    return EncodedBatch([list(t) for t in tokens], ids, lengths, mask, unknown)


# ----------------------------------------------------------------- occlusion
def cnn_occluded_scores(model: CNNClassifier, embedded: torch.Tensor, lengths: torch.Tensor):
    """Scores (B, T, C) with word t's embedding set to zero, for every t (exact, fast).

    Only the windows containing t change: window p loses ``W[:, :, t - p] · x_t``. The max over
    the unchanged windows comes from prefix and suffix maxima, so the cost is about one forward
    pass per document instead of T. Rows t ≥ length are meaningless (mask them).
    """
    steps = embedded.shape[1]
    x = padded_input(embedded, lengths, max(model.widths))  # (B, T', e)
    lengths = lengths.to(x.device)
    t = torch.arange(steps, device=x.device)
    features = []
    for conv, width in zip(model.convs, model.widths, strict=True):
        z = conv(x.transpose(1, 2))  # (B, F, P)
        windows = z.shape[-1]
        valid = torch.arange(windows, device=x.device) < window_counts(lengths, width)[:, None]
        zt = z.masked_fill(~valid[:, None, :], float("-inf")).transpose(1, 2)  # (B, P, F)
        prefix = torch.cummax(zt, dim=1).values
        suffix = torch.cummax(zt.flip(1), dim=1).values.flip(1)
        # c[b, t, k, f] = W[f, :, k] · x_t: what word t adds to the window in which it is k-th
        c = torch.einsum("bte,fek->btkf", x[:, :steps], conv.weight)
        minus_inf = torch.tensor(float("-inf"), dtype=z.dtype, device=z.device)
        left = torch.where((t - width >= 0)[None, :, None],
                           prefix[:, (t - width).clamp(min=0)], minus_inf)
        right = torch.where((t + 1 <= windows - 1)[None, :, None],
                            suffix[:, (t + 1).clamp(max=windows - 1)], minus_inf)
        best = torch.maximum(left, right)
        for k in range(width):
            p = t - k
            inside = (p >= 0) & (p < windows)
            changed = zt[:, p.clamp(0, windows - 1)] - c[:, :, k]
            best = torch.maximum(best, torch.where(inside[None, :, None], changed, minus_inf))
        features.append(torch.relu(best))
    pooled = torch.cat(features, dim=-1)  # (B, T, F·widths)
    return model.output(model.head(pooled))


def occlusion_f(model: CNNClassifier, batch: EncodedBatch, targets: np.ndarray) -> np.ndarray:
    """Occlusion f-diff relevance (B, T): f_c(x) − f_c(x with word t zeroed)."""
    with torch.no_grad():
        embedded = batch.inputs(model, DTYPE)
        full = model.forward_embedded(embedded, batch.lengths)
        occluded = cnn_occluded_scores(model, embedded, batch.lengths)
    rows = torch.arange(len(targets))
    chosen = torch.as_tensor(targets, dtype=torch.long)
    diff = full[rows, chosen][:, None] - occluded[rows, :, chosen]
    return (diff * batch.mask).cpu().numpy()


def gradient_relevance(
    model: CNNClassifier, batch: EncodedBatch, targets: np.ndarray
) -> dict[str, np.ndarray]:
    """SA (Σ_i (∂f/∂x_ti)²) and G×I (Σ_i x_ti ∂f/∂x_ti) of a batch from one backward pass, as
    the registered ``gradient`` and ``gradient_x_input`` methods define them."""
    from textlrp.methods.builtin.gradient import target_gradient

    inputs, gradient = target_gradient(
        model, batch, torch.as_tensor(targets, dtype=torch.long), DTYPE
    )
    return {
        "gradient": (gradient**2).sum(-1).detach().cpu().numpy(),
        "gradient_x_input": (inputs * gradient).sum(-1).detach().cpu().numpy(),
    }


def softmax(scores: np.ndarray) -> np.ndarray:
    shifted = scores - scores.max(-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(-1, keepdims=True)


def stratified_sample(labels: np.ndarray, eligible: np.ndarray, count: int, seed: int):
    """Up to ``count`` indices from ``eligible``, about equally many of each class, sorted."""
    rng = np.random.default_rng(seed)
    eligible = np.asarray(eligible)
    if len(eligible) <= count:
        return np.sort(eligible)
    shuffled = eligible[rng.permutation(len(eligible))]
    fraction = count / len(eligible)
    picked = []
    for label in np.unique(labels[eligible]):
        members = shuffled[labels[shuffled] == label]
        picked += members[: max(1, round(len(members) * fraction))].tolist()
    return np.sort(np.array(picked[: count] if len(picked) > count else picked, dtype=np.int64))
