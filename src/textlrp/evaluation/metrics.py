"""Faithfulness metrics of one relevance map per sentence; which method made it never matters.

Everything is measured on the softmax probability p_c of each sentence's target class c, with
tokens removed as :mod:`textlrp.evaluation.perturb` does (zeroed embedding by default). For a
sentence x of n tokens ranked by decreasing relevance (ties: earlier token first):

* deletion curve D(i) = p_c(x without its i most relevant tokens), i = 0..n;
* insertion curve I(i) = p_c(x with only its i most relevant tokens), i = 0..n;
* r_k = the top ⌈k·n/100⌉ tokens (at least 1), k = 1..K percent;
* comprehensiveness_k = p_c(x) − p_c(x \\ r_k) = D(0) − D(|r_k|)  (DeYoung et al. 2020);
* sufficiency_k = p_c(x) − p_c(r_k) = D(0) − I(|r_k|)  (DeYoung et al. 2020);
* AOPC = mean over k = 1..K (Samek et al. 2017 averages over the steps 0..K; the k = 0 term
  is zero for comprehensiveness, so theirs is ours times K/(K+1));
* deletion / insertion AUC: trapezoidal area under D and I over the removed (inserted)
  fraction i/n ∈ [0, 1] (Petsiuk et al. 2018, one token per step);
* Spearman ρ with leave-one-out occlusion p_c(x) − p_c(x \\ {t}), per sentence.

docs/evaluation.md states the same definitions with their sources.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from textlrp.errors import InputError
from textlrp.evaluation.perturb import DEFAULT_CHUNK_COPIES, target_probabilities


def check_k_max(k_max: int) -> None:
    if isinstance(k_max, bool) or not isinstance(k_max, int) or not 1 <= k_max <= 100:
        raise InputError(f"k_max must be a whole percentage in 1..100, got {k_max!r}")


def relevance_ranks(relevance: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Rank (B, T) of each token by decreasing relevance: 0 = most relevant.

    Ties go to the earlier token; padding positions get ranks ≥ their sentence's length.
    """
    relevance = relevance.detach().cpu().double()
    steps = relevance.shape[1]
    padding = torch.arange(steps)[None, :] >= lengths.cpu()[:, None]
    key = relevance.masked_fill(padding, -math.inf)
    if torch.isnan(key).any():
        raise InputError("relevance contains NaN values; cannot rank tokens")
    order = torch.sort(key, dim=1, descending=True, stable=True).indices
    ranks = torch.empty_like(order)
    ranks.scatter_(1, order, torch.arange(steps).expand_as(order).contiguous())
    return ranks


def perturbation_curves(
    model: torch.nn.Module,
    embedded: torch.Tensor,
    lengths: torch.Tensor,
    targets: torch.Tensor,
    relevance: torch.Tensor,
    full: torch.Tensor,
    empty: torch.Tensor,
    mode: str = "zero",
    chunk_copies: int = DEFAULT_CHUNK_COPIES,
) -> tuple[np.ndarray, np.ndarray]:
    """Deletion and insertion curves (B, T + 1), NaN beyond each sentence's length.

    ``full`` (B,) and ``empty`` (B,) are p_c of the whole and of the fully removed sentence
    (the curves' shared end points, computed once for every method); the 2·(n − 1) inner points
    of each sentence are scored as perturbed copies in big batches.
    """
    lengths = lengths.cpu().long()
    batch, steps = relevance.shape[0], embedded.shape[1]
    ranks = relevance_ranks(relevance, lengths)[:, :steps]
    inner = (lengths - 1).clamp(min=0)
    rows = torch.repeat_interleave(torch.arange(batch), inner)
    offsets = torch.cumsum(inner, 0) - inner
    counts = torch.arange(rows.numel()) - offsets[rows] + 1  # i = 1..n-1
    real = torch.arange(steps)[None, :] < lengths[rows][:, None]
    top = ranks[rows] < counts[:, None]
    removed = torch.cat([top, real & ~top])  # deletion copies, then insertion copies
    probabilities = target_probabilities(
        model, embedded, lengths, targets, torch.cat([rows, rows]), removed, mode, chunk_copies
    ).numpy()
    half = rows.numel()
    deletion = np.full((batch, steps + 1), np.nan)
    insertion = np.full((batch, steps + 1), np.nan)
    r, c = rows.numpy(), counts.numpy()
    deletion[r, c] = probabilities[:half]
    insertion[r, c] = probabilities[half:]
    n = lengths.numpy()
    everything = np.arange(batch)
    full, empty = _numpy(full), _numpy(empty)
    deletion[everything, 0], deletion[everything, n] = full, empty
    insertion[everything, 0], insertion[everything, n] = empty, full
    return deletion, insertion


def top_counts(lengths: np.ndarray, k_max: int) -> np.ndarray:
    """|r_k| = ⌈k·n/100⌉ clipped to 1..n, for k = 1..k_max: (B, k_max)."""
    check_k_max(k_max)
    k = np.arange(1, k_max + 1)
    n = np.asarray(lengths)[:, None]
    # Integer ceiling, so that e.g. 10 % of 10 tokens is exactly 1.
    return np.clip(-((-k[None, :] * n) // 100), 1, n)


def comprehensiveness_sufficiency(
    deletion: np.ndarray, insertion: np.ndarray, lengths: np.ndarray, k_max: int
) -> tuple[np.ndarray, np.ndarray]:
    """Comprehensiveness and sufficiency (B, k_max) for k = 1..k_max percent."""
    counts = top_counts(lengths, k_max)
    full = deletion[:, :1]
    comprehensiveness = full - np.take_along_axis(deletion, counts, axis=1)
    sufficiency = full - np.take_along_axis(insertion, counts, axis=1)
    return comprehensiveness, sufficiency


def curve_auc(curve: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Trapezoidal area (B,) under curve[i] over x = i/n, i = 0..n."""
    lengths = np.asarray(lengths)
    steps = curve.shape[1] - 1
    i = np.arange(steps)[None, :]
    pairs = (curve[:, :-1] + curve[:, 1:]) / 2
    pairs = np.where(i < lengths[:, None], pairs, 0.0)
    return pairs.sum(1) / lengths


def curve_on_grid(curve: np.ndarray, lengths: np.ndarray, points: int = 101) -> np.ndarray:
    """Curves of different lengths interpolated linearly onto x = 0, 1/(points-1), .., 1."""
    lengths = np.asarray(lengths)
    grid = np.linspace(0.0, 1.0, points)
    position = grid[None, :] * lengths[:, None]
    low = np.minimum(np.floor(position).astype(int), lengths[:, None] - 1)
    frac = position - low
    left = np.take_along_axis(curve, low, axis=1)
    right = np.take_along_axis(curve, low + 1, axis=1)
    return left * (1 - frac) + right * frac


def leave_one_out(
    model: torch.nn.Module,
    embedded: torch.Tensor,
    lengths: torch.Tensor,
    targets: torch.Tensor,
    full: torch.Tensor,
    mode: str = "zero",
    chunk_copies: int = DEFAULT_CHUNK_COPIES,
) -> np.ndarray:
    """Leave-one-out occlusion p_c(x) − p_c(x \\ {t}) (B, T), NaN on padding."""
    lengths = lengths.cpu().long()
    batch, steps = embedded.shape[0], embedded.shape[1]
    rows = torch.repeat_interleave(torch.arange(batch), lengths)
    offsets = torch.cumsum(lengths, 0) - lengths
    position = torch.arange(rows.numel()) - offsets[rows]
    removed = torch.zeros(rows.numel(), steps, dtype=torch.bool)
    removed[torch.arange(rows.numel()), position] = True
    probabilities = target_probabilities(
        model, embedded, lengths, targets, rows, removed, mode, chunk_copies
    ).numpy()
    result = np.full((batch, steps), np.nan)
    result[rows.numpy(), position.numpy()] = _numpy(full)[rows.numpy()] - probabilities
    return result


def average_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks 1..m along the last axis, ties sharing their mean rank (as scipy's rankdata)."""
    values = np.asarray(values, dtype=np.float64)
    order = np.argsort(values, axis=-1, kind="stable")
    ordered = np.take_along_axis(values, order, axis=-1)
    m = values.shape[-1]
    # Each run of equal values gets the mean of the 1-based positions it covers.
    new_run = np.ones(ordered.shape, dtype=bool)
    new_run[..., 1:] = ordered[..., 1:] != ordered[..., :-1]
    run_id = np.cumsum(new_run, axis=-1) - 1
    position = np.broadcast_to(np.arange(1, m + 1, dtype=np.float64), ordered.shape)
    flat_id = run_id + m * np.arange(int(np.prod(ordered.shape[:-1])), dtype=np.int64).reshape(
        ordered.shape[:-1] + (1,)
    )
    sums = np.bincount(flat_id.ravel(), weights=position.ravel(), minlength=flat_id.size)
    sizes = np.bincount(flat_id.ravel(), minlength=flat_id.size)
    mean_rank = (sums / np.maximum(sizes, 1))[flat_id]
    ranks = np.empty_like(mean_rank)
    np.put_along_axis(ranks, order, mean_rank, axis=-1)
    return ranks


def spearman_rows(a: np.ndarray, b: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Spearman ρ (B,) between a[i, :n_i] and b[i, :n_i]; NaN where n < 2 or a row is constant.

    Rows are grouped by length, so every group is ranked in one vectorized call.
    """
    lengths = np.asarray(lengths)
    result = np.full(len(lengths), np.nan)
    for n in np.unique(lengths):
        if n < 2:
            continue
        index = np.flatnonzero(lengths == n)
        ra = average_ranks(np.asarray(a)[index, :n])
        rb = average_ranks(np.asarray(b)[index, :n])
        ra -= ra.mean(1, keepdims=True)
        rb -= rb.mean(1, keepdims=True)
        denominator = np.sqrt((ra**2).sum(1) * (rb**2).sum(1))
        with np.errstate(invalid="ignore", divide="ignore"):
            rho = (ra * rb).sum(1) / denominator
        result[index] = np.where(denominator > 0, rho, np.nan)
    return result


def _numpy(values: torch.Tensor | np.ndarray) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        return values.detach().cpu().double().numpy()
    return np.asarray(values, dtype=np.float64)
