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

from textlrp.experiments.document import Block, Para, Table
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


def _cells(rows: list) -> list[str]:
    return [f"{w} ({m:+.3g}, n={c})" for w, m, c in rows]


def _table(result: dict[str, Any], top: int, min_count: int) -> tuple[Table, int]:
    columns, headers = [], []
    eligible = 0
    for key, label in METHODS:
        rows = [tuple(r) for r in result["methods"][key]["words"]]
        most, least = extremes(rows, top, min_count)
        eligible = sum(1 for r in rows if r[2] >= min_count)
        columns += [_cells(most), _cells(least)]
        headers += [f"{label}: most relevant", f"{label}: least relevant"]
    height = max((len(c) for c in columns), default=0)
    body = [[c[i] if i < len(c) else "" for c in columns] for i in range(height)]
    return Table(["rank"] + headers, [[str(i + 1)] + row for i, row in enumerate(body)]), eligible


def section(result: dict[str, Any], ctx: Context) -> list[Block]:
    """The report blocks for ``result``; draws the stage's figures into ``ctx.out``."""
    s = ctx.settings
    target_name = ctx.class_names[result["target"]]
    table, eligible = _table(result, s.top_words, s.min_count)
    table_all, _ = _table(result, s.top_words, 1)
    lrp_rows = [tuple(r) for r in result["methods"]["lrp"]["words"]]
    lrp_most, lrp_least = extremes(lrp_rows, s.top_words, s.min_count)
    return [
        Para(
            f"Every one of the {len(ctx.test)} test sentences is explained for the target "
            f"class **{target_name}**, whatever its label. A word's score is the mean of its "
            "relevance over all its occurrences in the test set (no per-sentence "
            f"normalization); the first table keeps the {eligible} words that occur at least "
            f"{s.min_count} times, the second every word. Cells: word (mean relevance, "
            "occurrences)."
        ),
        Table(table.headers, table.rows),
        Para("All words (count ≥ 1):"),
        table_all,
        Para(
            "**Paper.** 2017 Table 1 lists such words for LRP and SA. LRP's most relevant "
            "words for *very positive* are positive sentiment words and its least relevant ones "
            "negative words, because LRP is signed. SA cannot make that distinction: a squared "
            "gradient is never negative, so its least relevant words are words the score is "
            "insensitive to, not words that speak against the class. "
            f"**Ours**: LRP's top {len(lrp_most)}: {', '.join(w for w, _, _ in lrp_most)}; "
            f"LRP's bottom {len(lrp_least)}: {', '.join(w for w, _, _ in lrp_least)}. "
            "Compare the lists with the paper's by eye. They are not expected to match word "
            "for word, since our model is a different training run."
        ),
    ]
