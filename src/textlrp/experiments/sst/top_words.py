"""Stage ``top_words``: most and least relevant words for "very positive" (2017 Table 1).

Word-level statistic: every test sentence is explained for the target class, and a word type's
score is the **mean relevance over all its occurrences** in the 2210 test sentences (relevance
as returned, not normalized per sentence). Words need ``min_count`` occurrences so that one
lucky occurrence of a rare word does not top the list; the table with every word (count ≥ 1) is
shown as well.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np

from textlrp.experiments.sst.common import Context, method_specs

NAME = "top_words"
TITLE = 'Most and least relevant words for "very positive" (2017 Table 1)'
METHODS = (("lrp", "LRP"), ("gradient", "SA"))


def settings(ctx: Context) -> dict[str, Any]:
    """The settings this stage's cached result depends on."""
    s = ctx.settings
    return {"top": s.top_words, "min_count": s.min_count}


def target_class(ctx: Context) -> int:
    """ "very positive" when the model has that class, else the last class."""
    names = [n.lower() for n in ctx.class_names]
    return names.index("very positive") if "very positive" in names else len(names) - 1


def aggregate_words(
    token_lists: Sequence[Sequence[str]], relevances: Sequence[Sequence[float]]
) -> list[tuple[str, float, int]]:
    """``(word, mean relevance, count)`` per word type, highest mean first (ties: by word)."""
    total: dict[str, float] = defaultdict(float)
    count: dict[str, int] = defaultdict(int)
    for tokens, relevance in zip(token_lists, relevances, strict=True):
        for token, value in zip(tokens, relevance, strict=False):
            total[token] += float(value)
            count[token] += 1
    rows = [(w, total[w] / count[w], count[w]) for w in total]
    return sorted(rows, key=lambda r: (-r[1], r[0]))


def extremes(
    rows: list[tuple[str, float, int]], top: int, min_count: int
) -> tuple[list[tuple[str, float, int]], list[tuple[str, float, int]]]:
    """The ``top`` most and least relevant words among those seen ``min_count`` times."""
    kept = [r for r in rows if r[2] >= min_count]
    return kept[:top], list(reversed(kept[-top:])) if kept else []


def compute(ctx: Context) -> dict[str, Any]:
    """Compute the stage's numbers (a JSON-ready dict, cached by the runner)."""
    specs = method_specs(ctx.settings)
    target = target_class(ctx)
    tokens = [list(e.tokens) for e in ctx.test]
    bar = ctx.bar(len(METHODS), NAME)
    result: dict[str, Any] = {"target": target, "methods": {}}
    for key, _ in METHODS:
        relevance = ctx.relevance(specs[key], target)["relevance"]
        rows = aggregate_words(
            tokens, [r[: len(t)] for r, t in zip(relevance, tokens, strict=True)]
        )
        result["methods"][key] = {
            "words": [[w, m, c] for w, m, c in rows],
            "mean_abs_sentence_total": float(np.mean(np.abs(relevance.sum(1)))),
        }
        bar.update()
    bar.close()
    return result
