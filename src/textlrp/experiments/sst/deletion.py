"""Stage ``deletion``: word deletion by relevance (2017 Fig. 3; 2019 Table 3).

Test sentences of ≥ 10 words; relevance computed once on the unchanged sentence for the true
class. On initially correct sentences words are deleted in decreasing relevance (accuracy
should fall fast), on initially wrong ones in increasing relevance (accuracy should rise).
Deleting is zeroing the embedding (2017) or dropping the word (2019). Random deletion is
averaged over ``seeds`` orders. After k deletions the sentences of every order are scored in
one batched forward pass; the first deletion is read off the cached occlusion scores.

2019 Table 3 condenses k = 1..3 into one number per method: the mean accuracy over those k,
then normalized linearly so that random deletion is 0 and Occlusion P-diff is 100.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from textlrp.errors import DataError, InputError
from textlrp.experiments.document import Block, Heading, Image, Para, Table
from textlrp.experiments.sst.common import DTYPE, Context, method_specs, new_figure, save_figure

NAME = "deletion"
TITLE = "Word deletion (2017 Fig. 3, 2019 Table 3)"
MODES = ("drop", "zero")
CURVE_METHODS = ("gradient", "lrp", "lrp_cons")  # drawn in the Fig. 3 plot, with random
REFERENCE = "occlusion_p"
CHUNK_ROWS = 8192  # sentence copies per forward pass

# Arras et al. 2019, Table 3 (dropping words): 1-3 deletions, random = 0, Occ P-diff = 100.
PAPER_TABLE3 = {
    "decreasing": {
        "random": 0,
        "gradient": 35,
        "gradient_x_input": 66,
        "lrp_prop": 15,
        "lrp_abs": -1,
        "lrp_half": -3,
        "lrp": 97,
        "cd": 92,
        "occlusion_f": 96,
        "occlusion_p": 100,
    },
    "increasing": {
        "random": 0,
        "gradient": -18,
        "gradient_x_input": 31,
        "lrp_prop": 11,
        "lrp_abs": -1,
        "lrp_half": 3,
        "lrp": 49,
        "cd": 36,
        "occlusion_f": 50,
        "occlusion_p": 100,
    },
}


def settings(ctx: Context) -> dict[str, Any]:
    """The settings this stage's cached result depends on."""
    s = ctx.settings
    return {
        "seeds": s.seeds,
        "max_deletions": s.max_deletions,
        "table": s.table_deletions,
        "min_length": s.min_deletion_length,
        "ig_steps": s.ig_steps,
        "modes": MODES,
        "methods": list(method_specs(s)),
    }


# ------------------------------------------------------------------ statistics
def deletion_order(
    relevance: np.ndarray, lengths: np.ndarray, decreasing: np.ndarray
) -> np.ndarray:
    """Positions (B, T) in deletion order: by decreasing relevance where ``decreasing``,
    increasing elsewhere; padding last, ties in sentence order."""
    steps = relevance.shape[1]
    key = np.where(decreasing[:, None], -relevance, relevance).astype(np.float64)
    key[np.arange(steps)[None, :] >= lengths[:, None]] = np.inf
    return np.argsort(key, axis=1, kind="stable")


def random_order(lengths: np.ndarray, steps: int, seed: int) -> np.ndarray:
    """A uniformly random deletion order (B, T) of each sentence's words, padding last."""
    key = np.random.default_rng(seed).random((len(lengths), steps))
    key[np.arange(steps)[None, :] >= lengths[:, None]] = np.inf
    return np.argsort(key, axis=1, kind="stable")


def delete_words(
    embedded: torch.Tensor, lengths: torch.Tensor, positions: torch.Tensor, mode: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """Remove the words at ``positions`` (B, k) of each sentence.

    ``zero`` sets their embeddings to zero (the length stays); ``drop`` deletes them, so the
    remaining words close up and the sentence gets k words shorter.
    """
    batch, steps = embedded.shape[:2]
    deleted = torch.zeros(batch, steps, dtype=torch.bool, device=embedded.device)
    deleted.scatter_(1, positions.to(embedded.device), True)
    if mode == "zero":
        return embedded.masked_fill(deleted[..., None], 0.0), lengths
    if mode != "drop":
        raise InputError(f"unknown deletion mode {mode!r}; choose zero or drop")
    real = (
        torch.arange(steps, device=embedded.device)[None, :] < lengths.to(embedded.device)[:, None]
    )
    keep = real & ~deleted
    # Kept words first, in their order: a stable sort on "not kept".
    source = torch.sort((~keep).to(torch.int8), dim=1, stable=True).indices
    moved = embedded.gather(1, source[..., None].expand_as(embedded))
    new_lengths = keep.sum(1).to(lengths.dtype).cpu()
    still = (
        torch.arange(steps, device=embedded.device)[None, :]
        < new_lengths.to(embedded.device)[:, None]
    )
    return moved * still[..., None], new_lengths


def predictions_after(
    model: torch.nn.Module,
    embedded: torch.Tensor,
    lengths: torch.Tensor,
    orders: list[np.ndarray],
    k: int,
    mode: str,
) -> list[np.ndarray]:
    """Predicted classes after deleting the first ``k`` words of each order, all orders
    scored together in chunks of :data:`CHUNK_ROWS` sentence copies."""
    count = embedded.shape[0]
    rows = np.concatenate([np.arange(count)] * len(orders))
    positions = np.concatenate([o[:, :k] for o in orders])
    predicted = np.empty(len(rows), dtype=np.int64)
    with torch.no_grad():
        for start in range(0, len(rows), CHUNK_ROWS):
            index = torch.as_tensor(rows[start : start + CHUNK_ROWS])
            chunk, chunk_lengths = delete_words(
                embedded[index],
                lengths[index],
                torch.as_tensor(positions[start : start + CHUNK_ROWS]),
                mode,
            )
            scores = model.forward_embedded(chunk, chunk_lengths)
            predicted[start : start + len(index)] = scores.argmax(1).cpu().numpy()
    return [predicted[i * count : (i + 1) * count] for i in range(len(orders))]


def accuracies(predicted: np.ndarray, labels: np.ndarray, correct: np.ndarray) -> list[float]:
    """Accuracy (%) on the initially correct and on the initially wrong sentences."""
    hit = predicted == labels
    return [
        float(100 * hit[correct].mean()) if correct.any() else float("nan"),
        float(100 * hit[~correct].mean()) if (~correct).any() else float("nan"),
    ]


def condensed(curve: list[float], ks: tuple[int, ...]) -> float:
    """Mean accuracy over the deletion counts ``ks`` (curve[k] = accuracy after k)."""
    return float(np.mean([curve[k] for k in ks]))


def normalized(
    scores: dict[str, float], random_key: str = "random", reference: str = REFERENCE
) -> dict[str, float]:
    """Linear rescaling: ``random_key`` → 0 and ``reference`` → 100 (2019 Table 3)."""
    low, high = scores[random_key], scores[reference]
    span = high - low
    if span == 0 or span != span:
        return {k: float("nan") for k in scores}
    return {k: 100.0 * (v - low) / span for k, v in scores.items()}


# ------------------------------------------------------------------ the stage
def compute(ctx: Context) -> dict[str, Any]:
    """Compute the stage's numbers (a JSON-ready dict, cached by the runner)."""
    s = ctx.settings
    if s.min_deletion_length <= s.max_deletions:
        raise InputError("min_deletion_length must exceed max_deletions")
    specs = method_specs(s)
    keep = np.flatnonzero(ctx.test_lengths >= s.min_deletion_length)
    if len(keep) == 0:
        raise DataError(
            f"no test sentence has {s.min_deletion_length} or more words; word deletion needs some"
        )
    labels = ctx.test_labels[keep]
    lengths = ctx.test_lengths[keep]
    correct = ctx.test_scores[keep].argmax(1) == labels
    model = ctx.model
    embedded_all = ctx.test_batch.inputs(model, DTYPE)
    embedded = embedded_all[torch.as_tensor(keep)]
    lengths_t = torch.as_tensor(lengths)
    table_max = max(s.table_deletions)
    steps = int(lengths.max())
    bar = ctx.bar(len(MODES) * (len(specs) + 1) + len(MODES) * s.max_deletions, NAME)
    result: dict[str, Any] = {
        "n": int(len(keep)),
        "n_correct": int(correct.sum()),
        "n_wrong": int((~correct).sum()),
        "modes": {},
    }
    for mode in MODES:
        occluded = ctx.occluded(mode)[keep]
        bar.update()
        orders: dict[str, np.ndarray] = {}
        for key, spec in specs.items():
            relevance = ctx.relevance(spec, "true", mode=mode)["relevance"][keep, :steps]
            orders[key] = deletion_order(relevance, lengths, correct)
            bar.update()
        for seed in range(s.seeds):
            orders[f"random{seed}"] = random_order(lengths, steps, seed)
        base = ctx.test_scores[keep].argmax(1)
        curves = {key: [accuracies(base, labels, correct)] for key in orders}
        first = np.arange(len(keep))
        for key, order in orders.items():
            after_one = occluded[first, order[:, 0]].argmax(1)
            curves[key].append(accuracies(after_one, labels, correct))
        bar.update()
        for k in range(2, s.max_deletions + 1):
            wanted = [
                key
                for key in orders
                if k <= table_max or key in CURVE_METHODS or key.startswith("random")
            ]
            predicted = predictions_after(
                model, embedded, lengths_t, [orders[w] for w in wanted], k, mode
            )
            for key, pred in zip(wanted, predicted, strict=True):
                curves[key].append(accuracies(pred, labels, correct))
            bar.update()
        random_runs = np.array([curves.pop(f"random{seed}") for seed in range(s.seeds)])
        mode_result = {
            key: {"correct": [c[0] for c in curve], "wrong": [c[1] for c in curve]}
            for key, curve in curves.items()
        }
        mode_result["random"] = {
            "correct": random_runs[:, :, 0].mean(0).tolist(),
            "wrong": random_runs[:, :, 1].mean(0).tolist(),
            "correct_std": random_runs[:, :, 0].std(0).tolist(),
            "wrong_std": random_runs[:, :, 1].std(0).tolist(),
        }
        result["modes"][mode] = mode_result
    bar.close()
    result["ig_completeness"] = _ig_completeness(ctx, specs["integrated_gradients"], keep)
    return result


def _ig_completeness(ctx: Context, spec, keep: np.ndarray) -> float:
    """Mean |Σ_t R_t − (f_c(x) − f_c(0))| over mean |f_c(x) − f_c(0)|: the quadrature error
    of Integrated Gradients with its few integration points (0 for the exact integral)."""
    summed = ctx.relevance(spec, "true")["relevance"][keep].sum(1)
    labels = torch.as_tensor(ctx.test_labels[keep])
    rows = torch.as_tensor(keep)
    embedded = ctx.test_batch.inputs(ctx.model, DTYPE)[rows]
    lengths = ctx.test_batch.lengths[rows]
    with torch.no_grad():
        full = ctx.model.forward_embedded(embedded, lengths)
        base = ctx.model.forward_embedded(torch.zeros_like(embedded), lengths)
    delta = (full - base).gather(1, labels[:, None])[:, 0].cpu().numpy()
    scale = float(np.abs(delta).mean())
    return float(np.abs(summed - delta).mean() / scale) if scale > 0 else float("nan")


def table3(mode_result: dict[str, Any], ks: tuple[int, ...]) -> dict[str, dict[str, float]]:
    """Raw (mean accuracy over ``ks``) and normalized scores per direction and method."""
    out: dict[str, dict[str, float]] = {}
    for direction, curve_key in (("decreasing", "correct"), ("increasing", "wrong")):
        raw = {key: condensed(v[curve_key], ks) for key, v in mode_result.items()}
        out[direction] = raw
        out[direction + "_normalized"] = normalized(raw)
    return out


def _spearman(a: list[float], b: list[float]) -> float:
    ra = np.argsort(np.argsort(a)).astype(float)
    rb = np.argsort(np.argsort(b)).astype(float)
    if ra.std() == 0 or rb.std() == 0:
        return float("nan")
    return float(np.corrcoef(ra, rb)[0, 1])


def _plot(mode_result: dict[str, Any], specs, mode: str, path, dpi: int) -> None:
    figure = new_figure(9.5, 3.6)
    axes = figure.subplots(1, 2)
    styles = {
        "gradient": ("#2a9d8f", "s"),
        "lrp": ("#c0392b", "o"),
        "lrp_cons": ("#8e44ad", "^"),
        "random": ("#555555", "x"),
    }
    for ax, curve_key, title in (
        (axes[0], "correct", "initially correct: delete most relevant first"),
        (axes[1], "wrong", "initially wrong: delete least relevant first"),
    ):
        for key in (*CURVE_METHODS, "random"):
            values = mode_result[key][curve_key]
            color, marker = styles[key]
            label = "random (10 runs)" if key == "random" else specs[key].label
            ax.plot(range(len(values)), values, marker=marker, color=color, label=label)
            if key == "random":
                std = np.array(mode_result[key][curve_key + "_std"])
                mean = np.array(values)
                ax.fill_between(
                    range(len(values)), mean - std, mean + std, color=color, alpha=0.15, linewidth=0
                )
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("words deleted")
        ax.set_ylabel("accuracy (%)")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    figure.suptitle(
        f"Word deletion ({'dropping the word' if mode == 'drop' else 'zero embedding'})",
        fontsize=11,
    )
    save_figure(figure, path, dpi)


def _fmt(value: float) -> str:
    if value != value:
        return "–"
    text = f"{value:.0f}"
    return "0" if text == "-0" else text


def section(result: dict[str, Any], ctx: Context) -> list[Block]:
    """The report blocks for ``result``; draws the stage's figures into ``ctx.out``."""
    s = ctx.settings
    specs = method_specs(s)
    keys = ["random", *specs]
    labels = ["random", *[specs[k].label for k in specs]]
    blocks: list[Block] = [
        Para(
            f"{result['n']} test sentences of ≥ {s.min_deletion_length} words (the papers: 1849); "
            f"{result['n_correct']} initially correct, {result['n_wrong']} initially wrong. "
            "Relevance for the true class on the unchanged sentence. Occlusion relevance is "
            "computed with the same kind of removal as the deletion (zeroed or dropped word); "
            f"Integrated Gradients uses {s.ig_steps} Gauss–Legendre points (instead of 50, to "
            "save time): its attributions sum to f(x) − f(0) up to a relative error of "
            f"{100 * result.get('ig_completeness', float('nan')):.2f}% (mean over the "
            f"sentences). Random: mean of {s.seeds} random orders."
        )
    ]
    ks = s.table_deletions
    scores = {mode: table3(result["modes"][mode], ks) for mode in MODES}
    rows = []
    for direction in ("decreasing", "increasing"):
        paper = PAPER_TABLE3[direction]
        rows.append(
            [f"{direction}: paper (drop)"] + [str(paper[k]) if k in paper else "–" for k in keys]
        )
        for mode in MODES:
            norm = scores[mode][direction + "_normalized"]
            rows.append([f"{direction}: ours ({mode})"] + [_fmt(norm[k]) for k in keys])
    blocks.append(
        Heading(
            "2019 Table 3: accuracy change over 1–3 deletions (random = 0, Occlusion P-diff = 100)",
            3,
        )
    )
    blocks.append(Table([""] + labels, rows))
    raw_rows = []
    for mode in MODES:
        for direction in ("decreasing", "increasing"):
            raw = scores[mode][direction]
            raw_rows.append([f"{direction} ({mode})"] + [f"{raw[k]:.1f}" for k in keys])
    blocks.append(
        Para(
            "Raw numbers behind the table: mean accuracy (%) after 1, 2 and 3 deletions "
            "(initially correct sentences for *decreasing*, initially wrong for *increasing*)."
        )
    )
    blocks.append(Table([""] + labels, raw_rows))
    blocks += _discussion(scores, result, keys, specs)
    blocks.append(Heading("2017 Fig. 3: accuracy after 0–5 deletions", 3))
    for mode in MODES:
        png = f"deletion_{mode}.png"
        _plot(result["modes"][mode], specs, mode, ctx.out / png, s.dpi)
        blocks.append(Image(png, f"word deletion, {mode}"))
    curve_rows = []
    for mode in MODES:
        for key in (*CURVE_METHODS, "random"):
            label = "random" if key == "random" else specs[key].label
            for curve_key in ("correct", "wrong"):
                values = result["modes"][mode][key][curve_key]
                curve_rows.append([mode, label, curve_key] + [f"{v:.1f}" for v in values])
    blocks.append(
        Table(
            ["mode", "method", "sentences"] + [f"k={k}" for k in range(s.max_deletions + 1)],
            curve_rows,
        )
    )
    blocks.append(
        Para(
            "**Paper (2017 Fig. 3)**: deleting the words LRP marks as most relevant lowers the "
            "accuracy on initially correct sentences faster than SA or random deletion, and "
            "deleting LRP's least relevant words of initially wrong sentences raises the accuracy "
            "faster. SA does no better than random there (2019 Table 3 even puts the gradient "
            "below random, −18): SA is unsigned, so its low end holds words the score is "
            "insensitive to, not words that speak against the true class. Compare with the curves "
            "above."
        )
    )
    return blocks


def _discussion(scores, result, keys, specs) -> list[Block]:
    """Data-driven comparison with the paper's row: rank agreement and largest gaps."""
    notes = []
    drop = scores["drop"]
    spans = {}
    for direction in ("decreasing", "increasing"):
        paper = PAPER_TABLE3[direction]
        common = [k for k in keys if k in paper and k not in ("random", REFERENCE)]
        ours = [drop[direction + "_normalized"][k] for k in common]
        theirs = [paper[k] for k in common]
        rho = _spearman(ours, theirs)
        gaps = sorted(
            (
                (abs(o - p), specs[k].label, o, p)
                for k, o, p in zip(common, ours, theirs, strict=True)
                if o == o
            ),
            reverse=True,
        )[:3]
        spans[direction] = drop[direction]["occlusion_p"] - drop[direction]["random"]
        notes.append(
            f"*{direction}* (drop): rank correlation of our row with the paper's over the "
            f"{len(common)} methods between the two anchors: {rho:+.2f}. Largest differences: "
            + ", ".join(f"{label} {o:.0f} (paper {p})" for _, label, o, p in gaps)
            + "."
        )
    notes.append(
        "Why numbers can differ: (1) our model is another training run of the same "
        "architecture (our embeddings and recipe), and how well a method's ranking predicts "
        "the effect of a deletion depends on the model; the paper, too, reports a single "
        "model. (2) One normalized point is 1/100 of the gap between Occlusion P-diff and "
        f"random, here {abs(spans['decreasing']):.1f} accuracy points (decreasing) and "
        f"{abs(spans['increasing']):.1f} (increasing), measured on "
        f"{result['n_correct']} and {result['n_wrong']} sentences: a difference of 10 "
        f"normalized points is about {abs(spans['decreasing']) / 10:.1f} and "
        f"{abs(spans['increasing']) / 10:.1f} accuracy points. (3) The anchor Occlusion "
        "P-diff removes first the word whose removal lowers the true class's probability most, "
        "which makes it strong on any model. Methods that lie close together in the paper "
        "(LRP-all, CD, Occlusion f-diff) can swap places on another model. We did not tune any "
        "setting towards the paper's values."
    )
    return [Para(n) for n in notes]
