"""Report section of stage ``composition``: tables, figures and prose from its cached result.

The numbers come from :func:`textlrp.experiments.sst.composition.compute`; nothing here computes
relevance or runs the model, so the text can be changed and re-rendered from the cache.
"""

from __future__ import annotations

from typing import Any

from textlrp.experiments.document import Block, Heatmaps, HeatRow, Para, Table
from textlrp.experiments.sst.common import Context, make_explanation
from textlrp.experiments.sst.composition import (
    MODIFIER_SHARE,
)


def _words(words: list[str]) -> str:
    return ", ".join(words) or "–"


def render(result: dict[str, Any], ctx: Context) -> list[Block]:
    """The report blocks for ``result``; draws the stage's figures into ``ctx.out``."""
    from textlrp.viz.png import render_png

    if "skipped" in result:
        return [Para(f"Skipped: {result['skipped']}.")]
    if "positive_words" not in result:
        return [Para("Cached result of an older protocol; rerun the stage.")]
    names = ctx.class_names
    s = ctx.settings
    share = f"{100 * MODIFIER_SHARE:.0f}%"
    blocks: list[Block] = [
        Para(
            "**Protocol** (the 2019 appendix as our issue describes it; the appendix text is "
            "not available here, so the details marked *our reading* are ours). Of the "
            f"{result['n_words']} vocabulary words read alone, the model classifies "
            f"{result['n_positive_all']} as positive or very positive and "
            f"{result['n_negative_all']} as negative or very negative. Its "
            f"**{result['top_words']} positive words** are those with the highest summed "
            'probability of the positive classes (*our reading* of "model score"): '
            f"{_words(result['positive_words'])}. Its **{result['top_words']} negative "
            f"words**: {_words(result['negative_words'])}."
        ),
        Para(
            "**Modifiers.** The word lists are **our own** (39 negations and 69 amplifiers "
            "assembled for this project from the sentiment literature, see "
            "`textlrp/experiments/sst/wordlists.py`); the paper's lists have the same sizes but "
            "are not printed in it, so ours are not the paper's. A modifier must be in the "
            "vocabulary and classified neutral alone (*ours*: "
            + f"{len(result['negations_neutral'])} of our 39 negations, "
            f"{len(result['amplifiers_neutral'])} of our 69 amplifiers), then pass the "
            f'≥ {share} filter (*our reading*): a negation is kept when "negation + positive '
            f'word" is classified negative for ≥ {share} of the positive words; an amplifier '
            'is kept for a polarity when "amplifier + word" lands in that polarity\'s extreme '
            f"class for ≥ {share} of its words. Kept negations "
            f"({len(result['negations'])}): {_words(result['negations'])}. Kept amplifiers of "
            f"positive words ({len(result['amplifiers_positive'])}): "
            f"{_words(result['amplifiers_positive'])}. Kept amplifiers of negative words "
            f"({len(result['amplifiers_negative'])}): "
            f"{_words(result['amplifiers_negative'])}."
        ),
        Para(
            "Left out as not neutral alone: "
            + "; ".join(
                f"{w} ({why})"
                for w, why in result["negations_dropped"] + result["amplifiers_dropped"]
            )
            + ". Left out by the share filter (share of the modifier's bigrams in the "
            "wanted classes): "
            + "; ".join(
                f"{w} ({why})"
                for w, why in result["negations_weak"]
                + result["amplifiers_positive_weak"]
                + result["amplifiers_negative_weak"]
            )
            + "."
        ),
    ]
    rows, heat_rows, explanations = [], [], []
    for name, entry in result["patterns"].items():
        slot_names = [f"[{slot}]" for slot in entry["slots"]]
        sample = (
            "all"
            if entry["evaluated"] == entry["possible"]
            else f"random sample of {entry['evaluated']}"
        )
        if entry.get("bigram_rejected"):
            sample += f"; {entry['bigram_rejected']} left out by the bigram check"
        shares = "; ".join(
            f"{names[int(c)]} {100 * g['share']:.0f}%"
            for c, g in sorted(entry["groups"].items(), key=lambda kv: -kv[1]["count"])
        )
        for c, group in sorted(entry["groups"].items(), key=lambda kv: -kv[1]["count"]):
            rel, std = group["mean_relevance"], group["std_relevance"]
            rows.append(
                [
                    name,
                    f"{entry['possible']} ({sample})",
                    shares,
                    names[int(c)],
                    str(group["count"]),
                    ", ".join(
                        f"{slot} {r:+.2f} ± {d:.2f}"
                        for slot, r, d in zip(slot_names, rel, std, strict=True)
                    ),
                    "; ".join(entry["examples"].get(c, [])),
                ]
            )
            shares = ""  # once per pattern
            label = f"{name} → {names[int(c)]} (n={group['count']})"
            heat_rows.append(HeatRow(label, slot_names, rel))
            explanations.append(
                make_explanation(
                    slot_names,
                    rel,
                    group["mean_probabilities"],
                    int(c),
                    int(c),
                    names,
                    f"{name} (n={group['count']})",
                )
            )
    blocks.append(
        Table(
            [
                "pattern",
                "n-grams (evaluated)",
                "class shares",
                "predicted class",
                "count",
                "LRP relevance per slot, mean ± std (target = predicted)",
                "examples",
            ],
            rows,
        )
    )
    png = "composition.png"
    if explanations:
        render_png(explanations, ctx.out / png, dpi=s.dpi, width=9, fontsize=10)
    blocks.append(Heatmaps(heat_rows, png if explanations else None, "average heatmaps"))
    blocks.append(
        Para(
            "**Paper.** 2019 Table 4 shows such average LRP heatmaps, with standard deviations "
            "and class shares, for negated positive words, amplified positive and negative "
            "words, and negated amplified positive words, to read off which slot carries the "
            "evidence for the predicted class. Its numbers are not quoted here (the paper's "
            "table is not available to us). **Ours**: " + _summary(result, names) + " Our "
            "counts differ from the paper's by construction: the top words are our model's, and "
            f"the modifier lists are our own; patterns with more than {s.max_ngrams} "
            "combinations are sampled."
        )
    )
    return blocks


def _summary(result: dict[str, Any], names: list[str]) -> str:
    """One sentence per pattern: its most frequent predicted class and the slot relevances."""
    parts = []
    for name, entry in result["patterns"].items():
        if not entry["groups"]:
            parts.append(f"{name}: no n-grams")
            continue
        c, group = max(entry["groups"].items(), key=lambda kv: kv[1]["count"])
        share = 100 * group["count"] / entry["evaluated"]
        slots = ", ".join(
            f"{slot} {r:+.2f}"
            for slot, r in zip(entry["slots"], group["mean_relevance"], strict=True)
        )
        parts.append(f"{name} mostly → {names[int(c)]} ({share:.0f}%; {slots})")
    return "; ".join(parts) + "."
