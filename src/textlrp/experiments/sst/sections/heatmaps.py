"""Report section of stage ``heatmaps``: tables, figures and prose from its cached result.

The numbers come from :func:`textlrp.experiments.sst.heatmaps.compute`; nothing here computes
relevance or runs the model, so the text can be changed and re-rendered from the cache.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from textlrp.experiments.document import Block, Heading, Heatmaps, HeatRow, Para, Table
from textlrp.experiments.sst.common import Context, make_explanation

NOT_QUOTED = (
    "The papers print, with these heatmaps, the class their model predicted and the words it "
    "found most relevant. That text is not available to us, so the paper's predicted classes "
    "and top words are **not quoted** beside ours, and this report cannot say for which "
    "sentences they reproduce; compare with the paper's figures by eye."
)


def _quoted(texts: list[str]) -> str:
    return "; ".join(f"“{t}”" for t in texts)


def _top_word(tokens: list[str], relevance: list[float]) -> str:
    i = int(np.argmax(relevance))
    return f"{tokens[i]} ({relevance[i]:+.2f})"


def render(result: dict[str, Any], ctx: Context) -> list[Block]:
    """The report blocks for ``result``; draws the stage's figures into ``ctx.out``."""
    from textlrp.viz.png import render_png

    names = ctx.class_names
    blocks: list[Block] = []
    fig = result["fig"]
    not_found = [f["text"] for f in fig if f["gold"] is None]
    rows = []
    for i, item in enumerate(fig, start=1):
        tokens = item["text"].split(" ")
        gold = names[item["gold"]] if item["gold"] is not None else "–"
        lrp = item["lrp"]
        rows.append(
            [
                str(i),
                item["text"],
                f"{gold} ({item['source']})",
                f"{names[lrp['predicted']]} ({lrp['probabilities'][lrp['predicted']]:.2f})",
                _top_word(tokens, item["lrp"]["relevance"]),
                _top_word(tokens, item["sa"]["relevance"]),
            ]
        )
    correct = sum(1 for f in fig if f["gold"] is not None and f["lrp"]["predicted"] == f["gold"])
    found = len(fig) - len(not_found)
    blocks.append(
        Para(
            "**Paper.** 2017 Fig. 1–2 show these sentences with SA and LRP heatmaps for the true "
            "class. LRP is signed: red words speak for the target class, blue words against it. "
            "SA is a squared gradient, so it is never negative and shows only how sensitive the "
            "score is to a word, not in which direction the word pushes it."
        )
    )
    blocks.append(
        Para(
            f"**Ours.** {found} of the {len(fig)} sentences were found in the SST trees "
            f"(labels from there); our model predicts the true class for {correct} of them. "
            + (
                f"Not found (explained for the predicted class): {_quoted(not_found)}. "
                if not_found
                else "Every sentence was found. "
            )
            + (
                f"Skipped (no word in the model's vocabulary): {_quoted(result['skipped'])}."
                if result["skipped"]
                else ""
            )
        )
    )
    blocks.append(
        Table(
            [
                "#",
                "sentence",
                "true class (source)",
                "predicted (P)",
                "top word LRP",
                "top word SA",
            ],
            rows,
        )
    )
    blocks.append(Para(NOT_QUOTED))
    for key, label in (("lrp", "LRP"), ("sa", "SA")):
        explanations, heat_rows = [], []
        for i, item in enumerate(fig, start=1):
            e = item[key]
            tokens = item["text"].split(" ")
            title = f"#{i} {label}"
            explanations.append(
                make_explanation(
                    tokens,
                    e["relevance"],
                    e["probabilities"],
                    e["target"],
                    e["predicted"],
                    names,
                    title,
                    e.get("unknown"),
                )
            )
            heat_rows.append(
                HeatRow(
                    f"#{i} {label} — target (true): {names[e['target']]}, predicted: "
                    f"{names[e['predicted']]}",
                    tokens,
                    e["relevance"],
                )
            )
        png = f"heatmaps_2017_{key}.png"
        if explanations:
            render_png(explanations, ctx.out / png, dpi=ctx.settings.dpi, width=11, fontsize=10)
        blocks.append(Heading(f"2017 Fig. 1–2 with {label}", 3))
        blocks.append(Heatmaps(heat_rows, png if explanations else None, f"{label} heatmaps"))

    blocks.append(Heading("2019 Table 5: LRP for the predicted class", 3))
    blocks.append(
        Para(
            "**Paper.** The 2019 paper explains these sentences (the first and fifth from the test "
            "set, the others built from them) for the *predicted* class with LRP, to see which "
            "words a (mis)classification rests on. **Ours** below; the classes are our model's. "
            + NOT_QUOTED
        )
    )
    t5 = result["table5"]
    explanations, heat_rows, rows = [], [], []
    for item in t5:
        e = item["lrp"]
        tokens = item["text"].split(" ")
        gold = names[item["gold"]] if item["gold"] is not None else "–"
        explanations.append(
            make_explanation(
                tokens,
                e["relevance"],
                e["probabilities"],
                e["target"],
                e["predicted"],
                names,
                "LRP",
                e.get("unknown"),
            )
        )
        heat_rows.append(HeatRow(f"predicted: {names[e['predicted']]}", tokens, e["relevance"]))
        rows.append(
            [
                item["text"],
                f"{gold} ({item['source']})",
                f"{names[e['predicted']]} ({e['probabilities'][e['predicted']]:.2f})",
                _top_word(tokens, e["relevance"]),
            ]
        )
    blocks.append(Table(["sentence", "SST label (source)", "predicted (P)", "top word LRP"], rows))
    if explanations:
        render_png(
            explanations,
            ctx.out / "heatmaps_2019_table5.png",
            dpi=ctx.settings.dpi,
            width=9,
            fontsize=10,
        )
    blocks.append(
        Heatmaps(
            heat_rows, "heatmaps_2019_table5.png" if explanations else None, "2019 Table 5 heatmaps"
        )
    )
    return blocks
