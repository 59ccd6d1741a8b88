"""Stage ``position``: where in the sentence the relevance lies (2017 Fig. 4).

Test sentences of ≥ 19 words. Each sentence's span [0, 1] is cut into 10 equal intervals;
word t of T covers [t/T, (t+1)/T), so a word straddling an interval boundary is split between
the intervals in proportion to its overlap. Per sentence the absolute relevances are scaled to
sum 1 (so every sentence counts equally), distributed over the intervals, and averaged over
sentences: each curve sums to 1. Done per target class, for the whole model and per encoder
(forward = left encoder reading x_1..x_T, backward = right encoder), for SA and LRP (|R|).

SA per encoder is the squared norm of the gradient that flows through that encoder's final
state alone (f_c = W_L h^L_T + W_R h^R_T, each term differentiated separately); the total SA
squares their sum, so the three SA curves are not a sum of parts.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from textlrp.experiments.document import Block, Image, Para, Table
from textlrp.experiments.sst.common import (
    CLASS_COLORS,
    DTYPE,
    Context,
    method_specs,
    new_figure,
    save_figure,
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
    return {"min_length": s.min_position_length, "bins": s.bins}


def position_weights(length: int, bins: int) -> np.ndarray:
    """(length, bins): the fraction of word t that falls in interval b; rows sum to 1."""
    word_lo = np.arange(length)[:, None] / length
    word_hi = (np.arange(length)[:, None] + 1) / length
    bin_lo = np.arange(bins)[None, :] / bins
    bin_hi = (np.arange(bins)[None, :] + 1) / bins
    overlap = np.clip(np.minimum(word_hi, bin_hi) - np.maximum(word_lo, bin_lo), 0.0, None)
    return overlap * length


def positional_distribution(relevances: list[np.ndarray], bins: int) -> np.ndarray:
    """Mean over sentences of |R| / Σ|R| spread over ``bins`` intervals (sums to 1).

    Sentences whose relevance is all zero carry no information and are left out.
    """
    total = np.zeros(bins)
    used = 0
    for relevance in relevances:
        magnitude = np.abs(np.asarray(relevance, dtype=np.float64))
        mass = magnitude.sum()
        if mass <= 0 or not np.isfinite(mass):
            continue
        total += (magnitude / mass) @ position_weights(len(magnitude), bins)
        used += 1
    return total / used if used else total


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
    result: dict[str, Any] = {"n": int(len(index)), "encoder_split": split, "sa": {}, "lrp": {}}
    if len(index) == 0:
        bar.close()
        return result
    for c in classes:
        if split:
            sa = _sa_parts(ctx, index, c)
        else:  # SA of the whole model only
            whole = ctx.relevance(method_specs(s)["gradient"], c)["relevance"][index]
            sa = {"total": whole}
        result["sa"][str(c)] = {
            part: positional_distribution(
                [sa[part][i, :n] for i, n in enumerate(lengths)], s.bins
            ).tolist()
            for part in sa
        }
        bar.update()
        arrays = ctx.relevance(lrp, c)
        relevance = arrays["relevance"][index]
        parts = {"total": relevance}
        by_direction = arrays["by_direction"]
        if by_direction.ndim == 3 and by_direction.shape[2] == 2:
            parts["forward"] = by_direction[index, :, 0]
            parts["backward"] = by_direction[index, :, 1]
        result["lrp"][str(c)] = {
            part: positional_distribution(
                [values[i, :n] for i, n in enumerate(lengths)], s.bins
            ).tolist()
            for part, values in parts.items()
        }
        bar.update()
    bar.close()
    return result


def centre(distribution: list[float]) -> float:
    """Centre of mass of a binned distribution, as a position in [0, 1]."""
    weights = np.asarray(distribution)
    centres = (np.arange(len(weights)) + 0.5) / len(weights)
    return float((weights * centres).sum() / weights.sum()) if weights.sum() > 0 else float("nan")


def _plot(result: dict[str, Any], names: list[str], path, dpi: int, bins: int) -> None:
    figure = new_figure(11, 6.2)
    axes = figure.subplots(2, 3, sharex=True)
    x = (np.arange(bins) + 0.5) / bins
    for r, (method, label) in enumerate((("sa", "SA"), ("lrp", "LRP |R|"))):
        for col, part in enumerate(PARTS):
            ax = axes[r][col]
            for c, name in enumerate(names):
                values = result[method].get(str(c), {}).get(part)
                if values is None:
                    continue
                ax.plot(
                    x,
                    values,
                    marker="o",
                    markersize=3,
                    color=CLASS_COLORS[c % len(CLASS_COLORS)],
                    label=name,
                )
            ax.set_title(f"{label}: {part if part == 'total' else part + ' encoder'}", fontsize=10)
            ax.grid(alpha=0.3)
            if r == 1:
                ax.set_xlabel("position in sentence")
            if col == 0:
                ax.set_ylabel("share of relevance")
    axes[0][0].legend(fontsize=7, title="target class", title_fontsize=7)
    save_figure(figure, path, dpi)


def section(result: dict[str, Any], ctx: Context) -> list[Block]:
    """The report blocks for ``result``; draws the stage's figures into ``ctx.out``."""
    s = ctx.settings
    names = ctx.class_names
    png = "position.png"
    _plot(result, names, ctx.out / png, s.dpi, s.bins)
    rows = []
    for method, label in (("sa", "SA"), ("lrp", "LRP |R|")):
        for part in PARTS:
            cells = []
            for c in range(len(names)):
                values = result[method].get(str(c), {}).get(part)
                cells.append(
                    "–"
                    if values is None
                    else f"{centre(values):.2f} (first {values[0]:.2f}, last {values[-1]:.2f})"
                )
            rows.append([label, part] + cells)
    blocks: list[Block] = [
        Para(
            f"{result['n']} test sentences of ≥ {s.min_position_length} words, {s.bins} "
            "intervals; a word straddling an interval boundary is split between the intervals "
            "in proportion to its overlap. Each sentence's |R| is scaled to sum 1, so every "
            "curve sums to 1. Forward encoder = the left one (reads the sentence left to "
            "right), backward = the right one. SA per encoder: squared gradient through that "
            "encoder's final state alone."
            + (
                ""
                if result["encoder_split"]
                else " This model has no two-encoder read-out, so only the totals are shown."
            )
        ),
        Image(png, "relevance over sentence position"),
        Para(
            "Centre of mass of each curve (0 = sentence start, 1 = end), with the share of "
            "the first and the last interval:"
        ),
        Table(["method", "part"] + names, rows),
    ]
    notes = []
    for method, label in (("sa", "SA"), ("lrp", "LRP")):
        by_class = result[method]
        if not by_class or "forward" not in next(iter(by_class.values())):
            continue
        fwd = np.mean([centre(v["forward"]) for v in by_class.values()])
        bwd = np.mean([centre(v["backward"]) for v in by_class.values()])
        tot = np.mean([centre(v["total"]) for v in by_class.values()])
        notes.append(
            f"{label}: mean centre of mass {tot:.2f} in total, {fwd:.2f} for the forward and "
            f"{bwd:.2f} for the backward encoder"
        )
    blocks.append(
        Para(
            "**Paper.** 2017 Fig. 4 shows these distributions for SA and LRP, per target class, "
            "in total and per encoder. **Ours**: "
            + ("; ".join(notes) + "." if notes else "–")
            + " An encoder's final state was updated last by the words it read last: the forward "
            "encoder's by the sentence end, the backward encoder's by the sentence start. A centre "
            "of mass shifted that way shows this recency. Compare the shapes with the paper's "
            "figure. We do not restate the paper's curves here."
        )
    )
    return blocks
