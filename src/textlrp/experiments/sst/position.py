"""Stage ``position``: where in the sentence the relevance lies (2017 Fig. 4).

Test sentences of ≥ 19 words. Each sentence's span [0, 1] is cut into 10 equal intervals;
word t of T covers [t/T, (t+1)/T), so a word straddling an interval boundary is split between
the intervals in proportion to its overlap. As in the paper, the absolute relevances are
distributed over the intervals, summed over the sentences, and the summed curve is normalised
to sum 1 (so a sentence with more relevance weighs more). Our earlier variant, which scales
each sentence to sum 1 first (every sentence counts equally), is computed too and reported as
ours. Done per target class, for the whole model and per encoder
(forward = left encoder reading x_1..x_T, backward = right encoder), for SA and LRP (|R|).

SA per encoder is the squared norm of the gradient that flows through that encoder's final
state alone (f_c = W_L h^L_T + W_R h^R_T, each term differentiated separately); the total SA
squares their sum, so the three SA curves are not a sum of parts.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from textlrp.experiments.sst.common import (
    DTYPE,
    Context,
    method_specs,
)
from textlrp.methods.base import EncodedBatch
from textlrp.models.precision import in_dtype

NAME = "position"
TITLE = "Relevance over sentence position (2017 Fig. 4)"
PARTS = ("total", "forward", "backward")
CHUNK = 512


def settings(ctx: Context) -> dict[str, Any]:
    """The settings this stage's cached result depends on."""
    s = ctx.settings
    return {"min_length": s.min_position_length, "bins": s.bins, "normalise": NORMALISATIONS}


def position_weights(length: int, bins: int) -> np.ndarray:
    """(length, bins): the fraction of word t that falls in interval b; rows sum to 1."""
    word_lo = np.arange(length)[:, None] / length
    word_hi = (np.arange(length)[:, None] + 1) / length
    bin_lo = np.arange(bins)[None, :] / bins
    bin_hi = (np.arange(bins)[None, :] + 1) / bins
    overlap = np.clip(np.minimum(word_hi, bin_hi) - np.maximum(word_lo, bin_lo), 0.0, None)
    return overlap * length


NORMALISATIONS = ("total", "sentence")  # the paper's, then our earlier variant


def positional_distribution(
    relevances: list[np.ndarray], bins: int, normalise: str = "total"
) -> np.ndarray:
    """|R| spread over ``bins`` intervals and combined over sentences; sums to 1.

    ``normalise="total"`` (the 2017 paper): sum the sentences' binned |R|, then scale the sum
    to 1. ``"sentence"`` (our variant): scale each sentence's |R| to sum 1 first, then average.
    Sentences whose relevance is all zero (or not finite) are left out.
    """
    if normalise not in NORMALISATIONS:
        raise ValueError(f"normalise must be one of {NORMALISATIONS}, got {normalise!r}")
    total = np.zeros(bins)
    for relevance in relevances:
        magnitude = np.abs(np.asarray(relevance, dtype=np.float64))
        mass = magnitude.sum()
        if mass <= 0 or not np.isfinite(mass):
            continue
        scale = mass if normalise == "sentence" else 1.0
        total += (magnitude / scale) @ position_weights(len(magnitude), bins)
    mass = total.sum()
    return total / mass if mass > 0 else total


def supports_encoder_split(model: torch.nn.Module) -> bool:
    config = getattr(model, "config", None)
    return (
        config is not None
        and config.bidirectional
        and config.readout == "last"
        and not config.head_hidden
    )


def encoder_gradients(
    model: torch.nn.Module, batch: EncodedBatch, targets: torch.Tensor, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor]:
    """Gradients (B, T, e) of W_L[c]·h^L_T and of W_R[c]·h^R_T w.r.t. the embeddings."""
    model = in_dtype(model, dtype)
    hidden = model.config.hidden_size
    weight = model.output.weight.detach()
    with torch.enable_grad():
        embedded = batch.inputs(model, dtype).requires_grad_(True)
        states = model.final_states(embedded, batch.lengths)  # (B, 2d): [forward, backward]
        rows = weight[targets]  # (B, 2d)
        forward = (states[:, :hidden] * rows[:, :hidden]).sum()
        backward = (states[:, hidden:] * rows[:, hidden:]).sum()
        (grad_forward,) = torch.autograd.grad(forward, embedded, retain_graph=True)
        (grad_backward,) = torch.autograd.grad(backward, embedded)
    mask = batch.mask[..., None].to(embedded.device)
    return grad_forward * mask, grad_backward * mask


def _sa_parts(ctx: Context, index: np.ndarray, target: int) -> dict[str, np.ndarray]:
    """SA relevance (N, T) total / forward / backward for the test rows ``index``."""

    def compute() -> dict[str, np.ndarray]:
        steps = int(ctx.test_lengths[index].max())
        out = {p: np.zeros((len(index), steps), np.float32) for p in PARTS}
        for start in range(0, len(index), CHUNK):
            rows = torch.as_tensor(index[start : start + CHUNK])
            batch = ctx.test_batch.select(rows, steps)
            targets = torch.full((len(rows),), target, dtype=torch.long)
            g_f, g_b = encoder_gradients(ctx.model, batch, targets, DTYPE)
            n = len(rows)
            out["total"][start : start + n] = ((g_f + g_b) ** 2).sum(-1).cpu().numpy()
            out["forward"][start : start + n] = (g_f**2).sum(-1).cpu().numpy()
            out["backward"][start : start + n] = (g_b**2).sum(-1).cpu().numpy()
        return out

    key = {"target": target, "rows": index.tolist(), "sentences": ctx.sentences_key}
    return ctx.cache.arrays("sa_encoders", key, compute)


def compute(ctx: Context) -> dict[str, Any]:
    """Compute the stage's numbers (a JSON-ready dict, cached by the runner)."""
    s = ctx.settings
    index = np.flatnonzero(ctx.test_lengths >= s.min_position_length)
    lengths = ctx.test_lengths[index]
    classes = list(range(len(ctx.class_names)))
    split = supports_encoder_split(ctx.model)
    lrp = method_specs(s)["lrp"]
    bar = ctx.bar(2 * len(classes), NAME)
    result: dict[str, Any] = {
        "n": int(len(index)),
        "encoder_split": split,
        "sa": {},
        "lrp": {},
        "per_sentence": {"sa": {}, "lrp": {}},
    }
    if len(index) == 0:
        bar.close()
        return result
    for c in classes:
        if split:
            sa = _sa_parts(ctx, index, c)
        else:  # SA of the whole model only
            whole = ctx.relevance(method_specs(s)["gradient"], c)["relevance"][index]
            sa = {"total": whole}
        _distributions(result, "sa", c, sa, lengths, s.bins)
        bar.update()
        arrays = ctx.relevance(lrp, c)
        relevance = arrays["relevance"][index]
        parts = {"total": relevance}
        by_direction = arrays["by_direction"]
        if by_direction.ndim == 3 and by_direction.shape[2] == 2:
            parts["forward"] = by_direction[index, :, 0]
            parts["backward"] = by_direction[index, :, 1]
        _distributions(result, "lrp", c, parts, lengths, s.bins)
        bar.update()
    bar.close()
    return result


def _distributions(
    result: dict[str, Any],
    method: str,
    target: int,
    parts: dict[str, np.ndarray],
    lengths: np.ndarray,
    bins: int,
) -> None:
    """Store the paper's curves under result[method] and the variant's under per_sentence."""
    for normalise, where in (("total", result), ("sentence", result["per_sentence"])):
        where[method][str(target)] = {
            part: positional_distribution(
                [values[i, :n] for i, n in enumerate(lengths)], bins, normalise
            ).tolist()
            for part, values in parts.items()
        }


def centre(distribution: list[float]) -> float:
    """Centre of mass of a binned distribution, as a position in [0, 1]."""
    weights = np.asarray(distribution)
    centres = (np.arange(len(weights)) + 0.5) / len(weights)
    return float((weights * centres).sum() / weights.sum()) if weights.sum() > 0 else float("nan")
