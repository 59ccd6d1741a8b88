"""Stage ``heatmaps``: one test post per class, LRP beside SA, G×I and the SVM's exact split.

Per class, one post of that class that the CNN classifies correctly, drawn at random (seeded)
among those with 25–90 tokens (short enough to read); every method explains the true class.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from textlrp.experiments.document import Block, Heading, Heatmaps, HeatRow, Para
from textlrp.experiments.figures import make_explanation
from textlrp.experiments.newsgroups.common import CNN_METHODS, Context, softmax

NAME = "heatmaps"
TITLE = "Heatmaps: one test post per class (LRP, SA, G×I; the SVM's exact relevance)"
METHODS = ("lrp", "gradient", "gradient_x_input", "svm")
LABELS = {"lrp": "CNN LRP", "gradient": "CNN SA", "gradient_x_input": "CNN G×I",
          "svm": "SVM exact"}


def settings(ctx: Context) -> dict[str, Any]:
    s = ctx.settings
    return {"docs": ctx.docs_key, "range": s.heatmap_length, "seed": s.seed,
            "model": ctx.model_settings() if ctx.model_path is None else str(ctx.model_path)}


def compute(ctx: Context) -> dict[str, Any]:
    low, high = ctx.settings.heatmap_length
    rng = np.random.default_rng(ctx.settings.seed)
    predicted = ctx.test_scores.argmax(1)
    probabilities = softmax(ctx.test_scores)
    chosen = []
    for label in range(len(ctx.class_names)):
        pool = np.flatnonzero(
            (ctx.test_labels == label) & (predicted == label)
            & (ctx.test_lengths >= low) & (ctx.test_lengths <= high)
        )
        if len(pool):
            chosen.append((label, int(rng.choice(pool))))
    rows = np.array([i for _, i in chosen], dtype=np.int64)
    relevance = {key: ctx.relevance(key, "true", rows=rows) for key in METHODS}
    examples = []
    for label, i in chosen:
        n = int(ctx.test_lengths[i])
        examples.append({
            "index": i,
            "name": ctx.test_names[i],
            "label": label,
            "tokens": ctx.test_docs[i],
            "probability": float(probabilities[i, label]),
            "probabilities": probabilities[i].astype(float).round(6).tolist(),
            "svm_predicted": int(ctx.svm_scores[i].argmax()),
            "relevance": {key: relevance[key][i, :n].astype(float).round(6).tolist()
                          for key in METHODS},
        })
    return {"examples": examples}


def section(result: dict[str, Any], ctx: Context) -> list[Block]:
    from textlrp.viz.png import render_png

    names = ctx.class_names
    folder = ctx.out / "heatmaps"
    folder.mkdir(exist_ok=True)
    blocks: list[Block] = [
        Para(
            "**Paper.** The 2016 paper visualises LRP and SA relevance on test posts (its "
            "figures are not available to us). LRP marks words for (red) and against (blue) the "
            "class; SA (squared gradient) is never negative. "
            "**Ours.** One correctly classified post per class; all rows explain the true class. "
            "G×I is the gradient times the embedding (signed); *SVM exact* is the bag-of-words "
            "SVM's exact decomposition (word weight × TF-IDF value, split over the word's "
            "occurrences), shown for comparison."
        )
    ]
    for example in result["examples"]:
        label = example["label"]
        title = (f"{names[label]} — `{example['name']}`, CNN P(true) = "
                 f"{example['probability']:.2f}, SVM predicts {names[example['svm_predicted']]}")
        explanations = []
        rows = []
        for key in METHODS:
            relevance = example["relevance"][key]
            rows.append(HeatRow(LABELS[key], example["tokens"], relevance))
            explanations.append(make_explanation(
                example["tokens"], relevance, example["probabilities"], label, label, names,
                LABELS[key]))
        png = folder / f"{label:02d}_{names[label]}.png"
        render_png(explanations, png, dpi=ctx.settings.dpi, width=11.0, fontsize=10.0)
        blocks.append(Heading(title, 3))
        blocks.append(Heatmaps(rows, png=str(png.relative_to(ctx.out)), alt=f"heatmaps {label}"))
    return blocks


__all__ = ["NAME", "TITLE", "compute", "section", "settings", "CNN_METHODS"]
