"""Stage ``deletion``: word deletion on test posts, CNN (LRP, SA, G×I, occlusion, random) and
the bag-of-words SVM (exact relevance, random).

Protocol (2016 paper): posts the model classifies correctly lose their words in *decreasing*
relevance for the true class, and accuracy should fall fast; posts it misclassifies lose
their words in *increasing* relevance for the true class, and accuracy should rise fast.
Accuracy is measured after 0, 1, 2, … deletions. Random deletion is the mean of several seeded
orders. *Deleting* a word: ``zero`` sets its embedding to zero (the length stays); ``drop``
removes the word (the post gets shorter). For the SVM both mean removing the word from the bag
(its TF-IDF vector is recomputed). Ours: a stratified sample of test posts with at least 20
tokens (cut at 400 tokens like everywhere), the step grid, and occlusion in zero mode.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from textlrp.experiments.document import Block, Image, Para, Table
from textlrp.experiments.figures import new_figure, save_figure
from textlrp.experiments.newsgroups.common import CNN_METHODS, Context, stratified_sample

NAME = "deletion"
TITLE = "Word deletion (2016 paper)"
MODES = ("zero", "drop")
CNN_KEYS = ("lrp", "gradient", "gradient_x_input", "occlusion")
LABELS = {key: spec.label for key, spec in CNN_METHODS.items()} | {
    "random": "random", "svm": "SVM exact", "svm_random": "SVM random"}


def settings(ctx: Context) -> dict[str, Any]:
    s = ctx.settings
    return {"docs": ctx.docs_key, "n": s.deletion_docs, "steps": s.deletion_steps,
            "orders": s.random_orders, "min": s.min_deletion_length, "seed": s.seed,
            "model": ctx.model_settings() if ctx.model_path is None else str(ctx.model_path),
            "svm_c": s.svm_c}


def sample(ctx: Context) -> np.ndarray:
    s = ctx.settings
    eligible = np.flatnonzero(ctx.test_lengths >= max(s.min_deletion_length,
                                                      max(s.deletion_steps)))
    return stratified_sample(ctx.test_labels, eligible, s.deletion_docs, s.seed)


def deletion_orders(relevance: np.ndarray, length: int, increasing: bool) -> np.ndarray:
    """Positions of a post in deletion order (ties by position)."""
    values = relevance[:length].astype(np.float64)
    return np.argsort(values if increasing else -values, kind="stable")


def without(items: list, positions: np.ndarray) -> list:
    """``items`` with the given positions removed."""
    gone = set(positions.tolist())
    return [item for j, item in enumerate(items) if j not in gone]


def cnn_scores_after(ctx: Context, index: np.ndarray, deleted: list[np.ndarray], mode: str):
    """CNN scores (B, C) of posts ``index`` with the positions ``deleted[i]`` deleted."""
    model = ctx.model
    rows = [ctx.test_rows[i] for i in index]
    if mode == "drop":
        rows = [without(row, d) for row, d in zip(rows, deleted, strict=True)]
    order = sorted(range(len(rows)), key=lambda i: len(rows[i]))
    scores = np.zeros((len(rows), model.num_classes), dtype=np.float32)
    size = ctx.settings.batch_size
    with torch.no_grad():
        for start in range(0, len(order), size):
            picked = order[start : start + size]
            lengths = torch.tensor([len(rows[i]) for i in picked], dtype=torch.long)
            ids = torch.zeros((len(picked), max(int(lengths.max()), 1)), dtype=torch.long)
            keep = torch.ones(ids.shape, dtype=torch.bool)
            for b, i in enumerate(picked):
                if rows[i]:
                    ids[b, : len(rows[i])] = torch.tensor(rows[i])
                if mode == "zero" and len(deleted[i]):
                    keep[b, torch.as_tensor(deleted[i])] = False
            embedded = model.embedding(ids) * keep[..., None]
            scores[picked] = model.forward_embedded(embedded, lengths).numpy()
    return scores


def compute(ctx: Context) -> dict[str, Any]:
    s = ctx.settings
    index = sample(ctx)
    labels = ctx.test_labels[index]
    lengths = ctx.test_lengths[index]
    steps = list(s.deletion_steps)
    rng = np.random.default_rng(s.seed)
    random_orders = [[rng.permutation(n) for n in lengths] for _ in range(s.random_orders)]
    result: dict[str, Any] = {"steps": steps, "docs": int(len(index)), "cnn": {}, "svm": {}}

    cnn_correct = ctx.test_scores[index].argmax(1) == labels
    relevance = {key: ctx.relevance(key, "true", rows=index)[index] for key in CNN_KEYS}
    cnn_orders: dict[str, list[list[np.ndarray]]] = {}
    for key in CNN_KEYS:
        cnn_orders[key] = [[
            deletion_orders(relevance[key][b], int(lengths[b]), increasing=not cnn_correct[b])
            for b in range(len(index))]]
    cnn_orders["random"] = random_orders
    total = len(MODES) * sum(len(v) for v in cnn_orders.values()) * len(steps)
    bar = ctx.bar(total, "deletion (CNN)")
    for mode in MODES:
        curves = {}
        for key, orders in cnn_orders.items():
            runs = []
            for order in orders:
                curve = []
                for k in steps:
                    if k == 0:  # nothing deleted: the initial split by definition
                        curve.append([1.0, 0.0])
                        bar.update(1)
                        continue
                    deleted = [o[:k] for o in order]
                    predicted = cnn_scores_after(ctx, index, deleted, mode).argmax(1)
                    hit = predicted == labels
                    curve.append([float(hit[cnn_correct].mean()) if cnn_correct.any() else 0.0,
                                  float(hit[~cnn_correct].mean()) if (~cnn_correct).any()
                                  else 0.0])
                    bar.update(1)
                runs.append(curve)
            curves[key] = np.mean(np.array(runs), axis=0).tolist()  # (steps, 2)
            if key == "random":
                curves["random_std"] = np.std(np.array(runs), axis=0).tolist()
        result["cnn"][mode] = curves
    bar.close()
    result["cnn_counts"] = [int(cnn_correct.sum()), int((~cnn_correct).sum())]

    # the bag-of-words SVM: deleting = removing the word from the bag
    docs = [ctx.test_docs[i] for i in index]
    svm_correct = ctx.svm_scores[index].argmax(1) == labels
    svm_relevance = ctx.relevance("svm", "true", rows=index)[index]
    svm_orders = {
        "svm": [[deletion_orders(svm_relevance[b], int(lengths[b]),
                                 increasing=not svm_correct[b]) for b in range(len(index))]],
        "svm_random": random_orders,
    }
    for key, orders in svm_orders.items():
        runs = []
        for order in orders:
            curve = []
            for k in steps:
                if k == 0:
                    curve.append([1.0, 0.0])
                    continue
                kept = [without(doc, o[:k]) for doc, o in zip(docs, order, strict=True)]
                hit = ctx.svm.predict(kept) == labels
                curve.append([float(hit[svm_correct].mean()) if svm_correct.any() else 0.0,
                              float(hit[~svm_correct].mean()) if (~svm_correct).any() else 0.0])
            runs.append(curve)
        result["svm"][key] = np.mean(np.array(runs), axis=0).tolist()
    result["svm_counts"] = [int(svm_correct.sum()), int((~svm_correct).sum())]
    return result


def section(result: dict[str, Any], ctx: Context) -> list[Block]:
    steps = result["steps"]
    cnn_ok, cnn_wrong = result["cnn_counts"]
    svm_ok, svm_wrong = result["svm_counts"]
    blocks: list[Block] = [
        Para(
            f"**Ours.** {result['docs']} test posts (stratified sample of those with ≥ "
            f"{max(ctx.settings.min_deletion_length, max(steps))} tokens): the CNN classifies "
            f"{cnn_ok} correctly and {cnn_wrong} wrongly, the SVM {svm_ok} and {svm_wrong}. "
            f"Random: mean of {ctx.settings.random_orders} seeded orders. Left panels: accuracy "
            "on the initially correct posts (lower is better for the explanation); right: on "
            "the initially wrong ones (higher is better)."
        ),
        Para(
            "**Paper.** Only the 2016 paper's summary is available to us: it compares LRP with "
            "SA by this word-deletion experiment and reports that the experiment supports LRP; "
            "the 2017 paper adds that its SST deletion results (LRP ahead of SA and random on "
            "both post sets) lead to similar conclusions as the CNN's. We have no numbers of the "
            "paper to put beside ours."
        ),
        Para(
            "For this CNN (ReLU, max-pooling, linear output) LRP's ε-rule with δ = 0 gives "
            "Gradient×Input up to the small stabiliser ε, a known identity for such networks, so "
            "their curves nearly coincide; SA, being unsigned, cannot pick the words that speak "
            "*against* the true class, and barely repairs the initially wrong posts."
        ),
    ]
    figure = new_figure(11, 7)
    for row, mode in enumerate(("zero", "drop")):
        curves = result["cnn"][mode]
        for col in range(2):
            axis = figure.add_subplot(2, 2, 2 * row + col + 1)
            for key in (*CNN_KEYS, "random"):
                values = [c[col] for c in curves[key]]
                axis.plot(steps, values, marker="o", markersize=3, label=f"CNN {LABELS[key]}")
            for key in ("svm", "svm_random"):
                values = [c[col] for c in result["svm"][key]]
                axis.plot(steps, values, linestyle="--", marker="x", markersize=3,
                          label=LABELS[key])
            which = "initially correct" if col == 0 else "initially wrong"
            axis.set_title(f"{which}, deletion = {mode}", fontsize=10)
            axis.set_xlabel("words deleted")
            axis.set_ylabel("accuracy")
            axis.grid(alpha=0.3)
            if row == 0 and col == 1:
                axis.legend(fontsize=7)
    figure.tight_layout()
    path = save_figure(figure, ctx.out / "deletion.png", ctx.settings.dpi)
    blocks.append(Image(path.name, "word deletion curves"))
    shown = [k for k in steps if k in (0, 1, 2, 3, 5, 10, 15, 20)] or steps
    for col, which in ((0, "initially correct posts (decreasing relevance)"),
                       (1, "initially wrong posts (increasing relevance)")):
        rows = []
        for mode in MODES:
            for key in (*CNN_KEYS, "random"):
                curve = result["cnn"][mode][key]
                rows.append([f"CNN {LABELS[key]}", mode] +
                            [f"{100 * curve[steps.index(k)][col]:.1f}" for k in shown])
        for key in ("svm", "svm_random"):
            curve = result["svm"][key]
            rows.append([LABELS[key], "remove"] +
                        [f"{100 * curve[steps.index(k)][col]:.1f}" for k in shown])
        blocks.append(Para(f"Accuracy (%) on the {which} after k deletions:"))
        blocks.append(Table(["method", "deletion"] + [f"k={k}" for k in shown], rows))
    return blocks
