"""Stage ``deletion``: word deletion by relevance (2017 Fig. 3; 2019 Table 3).

Test sentences of ≥ 10 words; relevance computed once on the unchanged sentence for the true
class. On initially correct sentences words are deleted in decreasing relevance (accuracy
should fall fast), on initially wrong ones in increasing relevance (accuracy should rise).
Deleting is zeroing the word's embedding, as both papers define it (the 2019 paper's occlusion
and deletion zero the embedding); dropping the word is computed too, as our variant. Random
deletion is
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
from textlrp.experiments.sst.common import DTYPE, Context, method_specs

NAME = "deletion"
TITLE = "Word deletion (2017 Fig. 3, 2019 Table 3)"
MODES = ("zero", "drop")  # the papers' setting first; "drop" is our variant
PAPER_MODE = "zero"
CURVE_METHODS = ("gradient", "lrp", "lrp_cons")  # drawn in the Fig. 3 plot, with random
REFERENCE = "occlusion_p"
REPRODUCED_WITHIN = 10  # normalized points; a larger gap is reported as not reproduced
CHUNK_ROWS = 8192  # sentence copies per forward pass

# Arras et al. 2019, Table 3 (words deleted by zeroing their embedding): 1-3 deletions,
# random = 0, Occ P-diff = 100.
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
        "modes": sorted(MODES),  # the order only affects the report
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
