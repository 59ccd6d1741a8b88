"""What the SST stages share: the run context, the methods compared, cached relevance on the
test set, and small plotting helpers.

Relevance of the test sentences is computed once per (method, options, targets) for all 2210
test sentences in one batched ``explain`` call and cached as arrays; stages then select rows
(≥ 10 words for deletion, ≥ 19 for positions). Occlusion does not depend on the target: its
occluded scores (B, T, C) are cached once per deletion mode and give f-diff and P-diff for any
target, and the one-word deletions of every method for free.
"""

from __future__ import annotations

import dataclasses
import sys
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from textlrp.api import explain_batch
from textlrp.batching import DEFAULT_BATCH_SIZE, encode_batch, score_batch
from textlrp.data.sst import SSTExample, load_sst
from textlrp.experiments.cache import StageCache, text_digest
from textlrp.experiments.figures import (  # noqa: F401 - re-exported for the SST stages
    make_explanation,
    new_figure,
    save_figure,
    word_weighted_sum,
)
from textlrp.methods.base import EncodedBatch
from textlrp.methods.builtin.occlusion import occluded_scores
from textlrp.models.precision import in_dtype

DTYPE = torch.float32
# Methods with one relevance per word (no per-dimension split): their sentence vector
# Σ_t R_t x_t is computed from the word-level relevance.
WORD_LEVEL_METHODS = ("cd", "occlusion_f", "occlusion_p")


@dataclasses.dataclass(frozen=True)
class Settings:
    """Every setting of the experiments (all part of the cache keys)."""

    seeds: int = 10  # random-deletion runs
    max_deletions: int = 5  # curves of 2017 Fig. 3
    table_deletions: tuple[int, ...] = (1, 2, 3)  # condensed into the 2019 Table 3 number
    min_deletion_length: int = 10
    min_position_length: int = 19
    bins: int = 10
    top_words: int = 10
    min_count: int = 10  # occurrences a word needs to enter the top-words table
    ig_steps: int = 16  # Gauss-Legendre points of Integrated Gradients
    max_ngrams: int = 20000  # n-grams evaluated per composition pattern (uniform sample)
    ngram_seed: int = 0
    representation_target: str = "true"  # class the sentence vectors are explained for (paper)
    dpi: int = 100
    batch_size: int = DEFAULT_BATCH_SIZE  # sentences per explain chunk (length-sorted)


@dataclasses.dataclass(frozen=True)
class MethodSpec:
    """One explanation method as compared in the papers: registry name plus options."""

    key: str
    label: str
    method: str
    options: tuple[tuple[str, Any], ...] = ()

    def opts(self) -> dict[str, Any]:
        return dict(self.options)


def method_specs(settings: Settings) -> dict[str, MethodSpec]:
    """The methods of 2019 Table 3 (in its column order), then LRP_cons and IG."""
    specs = [
        MethodSpec("gradient", "Grad. (SA)", "gradient"),
        MethodSpec("gradient_x_input", "Grad×Input", "gradient_x_input"),
        MethodSpec("lrp_prop", "LRP-prop", "lrp", (("product_rule", "prop"),)),
        MethodSpec("lrp_abs", "LRP-abs", "lrp", (("product_rule", "abs"),)),
        MethodSpec("lrp_half", "LRP-half", "lrp", (("product_rule", "half"),)),
        MethodSpec("lrp", "LRP-all", "lrp"),
        MethodSpec("cd", "CD", "cd"),
        MethodSpec("occlusion_f", "Occ f-diff", "occlusion_f"),
        MethodSpec("occlusion_p", "Occ P-diff", "occlusion_p"),
        MethodSpec("lrp_cons", "LRP_cons", "lrp_cons"),
        MethodSpec(
            "integrated_gradients",
            f"IG ({settings.ig_steps} pts)",
            "integrated_gradients",
            (("steps", settings.ig_steps),),
        ),
    ]
    return {s.key: s for s in specs}


@dataclasses.dataclass
class Context:
    """A run: the model, where the data and outputs live, the cache and the settings."""

    model: torch.nn.Module
    model_path: Path
    data_dir: Path
    out: Path
    cache: StageCache
    settings: Settings = dataclasses.field(default_factory=Settings)
    progress: bool = True

    @cached_property
    def test(self) -> list[SSTExample]:
        return load_sst("test", self.data_dir, download=False)

    @cached_property
    def test_batch(self) -> EncodedBatch:
        return encode_batch(self.model, [list(e.tokens) for e in self.test])

    @cached_property
    def test_labels(self) -> np.ndarray:
        return np.array([e.label for e in self.test], dtype=np.int64)

    @cached_property
    def test_lengths(self) -> np.ndarray:
        return np.array([len(e.tokens) for e in self.test], dtype=np.int64)

    @cached_property
    def test_scores(self) -> np.ndarray:
        """Class scores (B, C) of the unchanged test sentences."""
        model = in_dtype(self.model, DTYPE)  # eval mode, without switching the caller's model
        scores = score_batch(model, self.test_batch, DTYPE, self.settings.batch_size)
        return scores.cpu().numpy()

    @property
    def class_names(self) -> list[str]:
        return list(self.model.class_names)

    def bar(self, total: int, desc: str) -> tqdm:
        """A progress bar on stderr (silent when progress is off)."""
        return tqdm(total=total, desc=desc, disable=not self.progress, file=sys.stderr, leave=False)

    # ------------------------------------------------------------ relevance
    def targets_of(self, targets: str | int) -> np.ndarray:
        """Per-sentence target indices for ``"true"``, ``"predicted"`` or a class index."""
        if targets == "true":
            return self.test_labels.copy()
        if targets == "predicted":
            return self.test_scores.argmax(1)
        return np.full(len(self.test), int(targets), dtype=np.int64)

    def occluded(self, mode: str) -> np.ndarray:
        """Scores (B, T, C) of every test sentence with each word removed (``mode``)."""
        settings = {"mode": mode, "sentences": self.sentences_key}

        def compute() -> dict[str, np.ndarray]:
            scores = occluded_scores(self.model, self.test_batch, DTYPE, mode)
            return {"scores": scores.cpu().numpy()}

        return self.cache.arrays("occluded", settings, compute)["scores"]

    @cached_property
    def sentences_key(self) -> str:
        return text_digest(e.text for e in self.test)

    def relevance(
        self, spec: MethodSpec, targets: str | int, mode: str = "zero", per_dim: bool = False
    ) -> dict[str, np.ndarray]:
        """Relevance of every test sentence for ``targets``: arrays padded to (B, T).

        Keys: ``relevance`` (B, T), ``by_direction`` (B, T, D; empty when the method has no
        per-encoder split) and, with ``per_dim``, ``vector`` = Σ_t R_t ⊙ x_t (B, e).
        ``mode`` only matters for occlusion (the way a word is removed).
        """
        if per_dim and spec.method in WORD_LEVEL_METHODS:
            # One relevance per word: the vector is Σ_t R_t x_t of the word-level entry, so
            # reuse that entry (e.g. the deletion stage's) instead of explaining again.
            base = self.relevance(spec, targets, mode, per_dim=False)
            return {**base, "vector": word_weighted_sum(self.test_inputs(), base["relevance"])}
        target_index = self.targets_of(targets)
        settings = {
            "method": spec.method,
            "options": spec.options,
            "targets": text_digest(str(t) for t in target_index.tolist()),
            "mode": mode if spec.method.startswith("occlusion") else None,
            "per_dim": per_dim,
            "sentences": self.sentences_key,
        }
        return self.cache.arrays(
            f"relevance_{spec.key}",
            settings,
            lambda: self._compute_relevance(spec, target_index, mode, per_dim),
        )

    def _compute_relevance(
        self, spec: MethodSpec, targets: np.ndarray, mode: str, per_dim: bool
    ) -> dict[str, np.ndarray]:
        if spec.method.startswith("occlusion"):
            relevance = occlusion_relevance(
                self.test_scores,
                self.occluded(mode),
                targets,
                self.test_lengths,
                probabilities=spec.method == "occlusion_p",
            )
            result = {"relevance": relevance, "by_direction": np.zeros((0,), np.float32)}
            if per_dim:
                result["vector"] = word_weighted_sum(self.test_inputs(), relevance)
            return result
        explanations = explain_batch(
            self.model,
            self.test_batch,
            spec.method,
            [int(t) for t in targets],
            dtype=DTYPE,
            batch_size=self.settings.batch_size,
            **spec.opts(),
        )
        batch = explanations.batch
        result = {
            "relevance": batch.relevance.cpu().numpy().astype(np.float32),
            "by_direction": np.zeros((0,), np.float32)
            if batch.relevance_by_direction is None
            else batch.relevance_by_direction.cpu().numpy().astype(np.float32),
        }
        if per_dim:
            inputs = self.test_inputs()
            if batch.relevance_per_dim is not None:
                per = batch.relevance_per_dim.cpu().numpy()
                result["vector"] = (per * inputs).sum(1).astype(np.float32)
            else:
                result["vector"] = word_weighted_sum(inputs, result["relevance"])
        return result

    def test_inputs(self) -> np.ndarray:
        """Word embeddings (B, T, e) of the test sentences, zero on padding."""
        return self.test_batch.inputs(self.model, DTYPE).cpu().numpy()


def occlusion_relevance(
    full: np.ndarray,
    occluded: np.ndarray,
    targets: np.ndarray,
    lengths: np.ndarray,
    probabilities: bool,
) -> np.ndarray:
    """Occlusion f-diff (or P-diff) R_t = f_c(x) − f_c(x without word t), zero on padding."""
    if probabilities:
        full = _softmax(full)
        occluded = _softmax(occluded)
    rows = np.arange(len(targets))
    before = full[rows, targets][:, None]
    after = occluded[rows[:, None], np.arange(occluded.shape[1])[None, :], targets[:, None]]
    mask = np.arange(occluded.shape[1])[None, :] < lengths[:, None]
    return ((before - after) * mask).astype(np.float32)


def _softmax(scores: np.ndarray) -> np.ndarray:
    shifted = scores - scores.max(-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(-1, keepdims=True)


CLASS_COLORS = ["#0b3c8c", "#6fa8dc", "#999999", "#f4a261", "#c0392b"]
