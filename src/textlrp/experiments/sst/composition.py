"""Stage ``composition``: how the model composes sentiment (2019 Table 4).

1. Every vocabulary word is classified alone (a one-word sentence). The model's *positive*
   words are those it puts in a positive class, its *negative* words those in a negative class.
2. Of the 39 negations and 69 amplifiers (:mod:`wordlists`), only those in the vocabulary that
   the model classifies as *neutral* are kept, so that their own sentiment does not mix in.
3. Patterns: negation + positive word, amplifier + positive word, amplifier + negative word,
   negation + amplifier + positive word. Every combination is built; where there are more
   than ``max_ngrams``, a uniform random sample of that size (fixed seed) is used.
4. Each n-gram is explained with LRP for its predicted class; the report gives, per pattern
   and predicted class, the count and the average relevance of each slot (an average heatmap).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from textlrp.api import encode_batch, explain_batch
from textlrp.experiments.document import Block, Heatmaps, HeatRow, Para, Table
from textlrp.experiments.sst.common import DTYPE, Context, make_explanation
from textlrp.experiments.sst.wordlists import AMPLIFIERS, NEGATIONS

NAME = "composition"
TITLE = "Semantic composition: negations and amplifiers (2019 Table 4)"
PATTERNS = {
    "negated positive": ("negation", "positive"),
    "amplified positive": ("amplifier", "positive"),
    "amplified negative": ("amplifier", "negative"),
    "negated amplified positive": ("negation", "amplifier", "positive"),
}


def settings(ctx: Context) -> dict[str, Any]:
    """The settings this stage's cached result depends on."""
    s = ctx.settings
    return {
        "max_ngrams": s.max_ngrams,
        "seed": s.ngram_seed,
        "negations": NEGATIONS,
        "amplifiers": AMPLIFIERS,
    }


def polarity_classes(class_names: list[str]) -> dict[str, list[int]]:
    """Class indices that count as positive, negative and neutral, from the class names."""
    lowered = [n.lower() for n in class_names]
    return {
        "positive": [i for i, n in enumerate(lowered) if "positive" in n],
        "negative": [i for i, n in enumerate(lowered) if "negative" in n],
        "neutral": [i for i, n in enumerate(lowered) if n == "neutral"],
    }


def single_word_classes(model: torch.nn.Module, words: list[str]) -> np.ndarray:
    """The predicted class of each word read alone."""
    ids = torch.tensor(model.vocab.encode(words), dtype=torch.long)[:, None]
    with torch.no_grad():
        scores = model(
            ids.to(model.embedding.weight.device), torch.ones(len(words), dtype=torch.long)
        )
    return scores.argmax(1).cpu().numpy()


def combinations(sizes: list[int], limit: int, seed: int) -> np.ndarray:
    """Index tuples (N, len(sizes)) of all combinations, or of a uniform sample of ``limit``."""
    total = int(np.prod(sizes)) if sizes else 0
    if total == 0:
        return np.zeros((0, len(sizes)), dtype=np.int64)
    flat = (
        np.arange(total)
        if total <= limit
        else np.sort(np.random.default_rng(seed).choice(total, size=limit, replace=False))
    )
    return np.stack(np.unravel_index(flat, sizes), axis=1).astype(np.int64)


def group_by_class(
    relevance: np.ndarray, probabilities: np.ndarray, predicted: np.ndarray, classes: int
) -> dict[str, dict[str, Any]]:
    """Per predicted class: count, mean relevance per slot, mean class probabilities."""
    groups = {}
    for c in range(classes):
        rows = predicted == c
        if rows.any():
            groups[str(c)] = {
                "count": int(rows.sum()),
                "mean_relevance": relevance[rows].mean(0).tolist(),
                "mean_probabilities": probabilities[rows].mean(0).tolist(),
            }
    return groups


def compute(ctx: Context) -> dict[str, Any]:
    """Compute the stage's numbers (a JSON-ready dict, cached by the runner)."""
    s = ctx.settings
    model = ctx.model
    polar = polarity_classes(ctx.class_names)
    if not (polar["positive"] and polar["negative"] and polar["neutral"]):
        return {"skipped": "the model's classes are not positive/negative/neutral ones"}
    bar = ctx.bar(1 + len(PATTERNS), NAME)
    words = model.vocab.to_list()
    classes = single_word_classes(model, words)
    positive = [w for w, c in zip(words, classes, strict=True) if c in polar["positive"]]
    negative = [w for w, c in zip(words, classes, strict=True) if c in polar["negative"]]
    word_class = dict(zip(words, classes.tolist(), strict=True))

    def neutral_only(candidates: tuple[str, ...]) -> tuple[list[str], list[list[Any]]]:
        kept, dropped = [], []
        for w in candidates:
            if w not in word_class:
                dropped.append([w, "not in vocabulary"])
            elif word_class[w] in polar["neutral"]:
                kept.append(w)
            else:
                dropped.append([w, ctx.class_names[word_class[w]]])
        return kept, dropped

    negations, negations_dropped = neutral_only(NEGATIONS)
    amplifiers, amplifiers_dropped = neutral_only(AMPLIFIERS)
    slots = {
        "negation": negations,
        "amplifier": amplifiers,
        "positive": positive,
        "negative": negative,
    }
    bar.update()
    result: dict[str, Any] = {
        "n_positive": len(positive),
        "n_negative": len(negative),
        "n_words": len(words),
        "negations": negations,
        "negations_dropped": negations_dropped,
        "amplifiers": amplifiers,
        "amplifiers_dropped": amplifiers_dropped,
        "patterns": {},
    }
    for p, (name, pattern) in enumerate(PATTERNS.items()):
        lists = [slots[slot] for slot in pattern]
        picks = combinations([len(x) for x in lists], s.max_ngrams, s.ngram_seed + p)
        entry: dict[str, Any] = {
            "slots": list(pattern),
            "possible": int(np.prod([len(x) for x in lists])),
            "evaluated": int(len(picks)),
            "groups": {},
            "examples": {},
        }
        if len(picks):
            token_lists = [[lists[j][i] for j, i in enumerate(row)] for row in picks.tolist()]
            explanations = explain_batch(
                model,
                encode_batch(model, token_lists),
                "lrp",
                "predicted",
                dtype=DTYPE,
                batch_size=max(s.batch_size, 4096),
            )
            batch = explanations.batch
            relevance = batch.relevance.cpu().numpy()[:, : len(pattern)]
            probabilities = torch.softmax(batch.scores, -1).cpu().numpy()
            predicted = batch.scores.argmax(1).cpu().numpy()
            entry["groups"] = group_by_class(
                relevance, probabilities, predicted, len(ctx.class_names)
            )
            for c in entry["groups"]:
                rows = np.flatnonzero(predicted == int(c))[:3]
                entry["examples"][c] = [" ".join(token_lists[r]) for r in rows]
        result["patterns"][name] = entry
        bar.update()
    bar.close()
    return result


def section(result: dict[str, Any], ctx: Context) -> list[Block]:
    """The report blocks for ``result``; draws the stage's figures into ``ctx.out``."""
    from textlrp.viz.png import render_png

    if "skipped" in result:
        return [Para(f"Skipped: {result['skipped']}.")]
    names = ctx.class_names
    s = ctx.settings
    blocks: list[Block] = [
        Para(
            f"Of the {result['n_words']} vocabulary words read alone, the model classifies "
            f"**{result['n_positive']}** as positive or very positive and "
            f"**{result['n_negative']}** as negative or very negative (its own positive and "
            f"negative words). Negations kept (classified neutral alone, "
            f"{len(result['negations'])} of 39): {', '.join(result['negations']) or '–'}. "
            f"Amplifiers kept ({len(result['amplifiers'])} of 69): "
            f"{', '.join(result['amplifiers']) or '–'}."
        ),
        Para(
            "Left out: "
            + "; ".join(
                f"{w} ({why})"
                for w, why in result["negations_dropped"] + result["amplifiers_dropped"]
            )
            + ". The source of the lists is documented in "
            "`textlrp/experiments/sst/wordlists.py`."
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
        for c, group in sorted(entry["groups"].items(), key=lambda kv: -kv[1]["count"]):
            share = group["count"] / max(entry["evaluated"], 1)
            rel = group["mean_relevance"]
            rows.append(
                [
                    name,
                    f"{entry['possible']} ({sample})",
                    names[int(c)],
                    f"{group['count']} ({100 * share:.0f}%)",
                    ", ".join(f"{slot} {r:+.3f}" for slot, r in zip(slot_names, rel, strict=True)),
                    "; ".join(entry["examples"].get(c, [])),
                ]
            )
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
                "predicted class",
                "count (share)",
                "mean LRP relevance per slot (target = predicted)",
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
            "**Paper.** 2019 Table 4 shows such average LRP heatmaps, with counts, for negated "
            "positive words, amplified positive and negative words, and negated amplified positive "
            "words, to read off which slot carries the evidence for the predicted class. "
            "**Ours**: " + _summary(result, names) + " Our counts differ from the paper's: the "
            "word lists depend on which words our model finds positive, negative or neutral, and "
            f"patterns with more than {s.max_ngrams} combinations are sampled."
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
