"""Report section of stage ``top_words``: tables, figures and prose from its cached result.

The numbers come from :func:`textlrp.experiments.sst.top_words.compute`; nothing here computes
relevance or runs the model, so the text can be changed and re-rendered from the cache.
"""

from __future__ import annotations

from typing import Any

from textlrp.experiments.document import Block, Para, Table
from textlrp.experiments.sst.common import Context
from textlrp.experiments.sst.top_words import (
    METHODS,
    extremes,
)

# Function words and punctuation ("stop words") of SST's lower-cased tokens, to test the
# paper's observation about SA's least relevant words. NLTK's stop-word list needs a data
# download, so this short closed-class list is written out here.
FUNCTION_WORDS = frozenset(
    """a an the this that these those it its it 's he she they them his her their we us our
    you your i me my of in on at to for from by with about as into than then so and or but
    nor if because while is are was were be been being am has have had do does did 's 're
    've 'd 'll n't not no can could will would should may might must there here what which
    who whom whose when where how why all any some each every both either neither more most
    such very too just only also even . , ; : ! ? ... -- - ` `` ' '' -lrb- -rrb-""".split()
)


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


def render(result: dict[str, Any], ctx: Context) -> list[Block]:
    """The report blocks for ``result``; draws the stage's figures into ``ctx.out``."""
    s = ctx.settings
    target_name = ctx.class_names[result["target"]]
    table, eligible = _table(result, s.top_words, s.min_count)
    table_all, _ = _table(result, s.top_words, 1)
    lrp_rows = [tuple(r) for r in result["methods"]["lrp"]["words"]]
    lrp_most, lrp_least = extremes(lrp_rows, s.top_words, s.min_count)
    sa_rows = [tuple(r) for r in result["methods"]["gradient"]["words"]]
    _, sa_least = extremes(sa_rows, s.top_words, s.min_count)
    sa_function = [w for w, _, _ in sa_least if w in FUNCTION_WORDS]
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
            "**Paper.** 2017 Table 1 lists such words for LRP and SA; the lists themselves are "
            "not quoted here (the paper's text is not available to us). As the paper describes "
            "them, LRP's most relevant words for *very positive* are positive sentiment words "
            "and its least relevant ones negative words, because LRP is signed, while SA's "
            "least relevant words are stop words: a squared gradient is never negative, so its "
            "low end holds words the score is insensitive to. "
            f"**Ours**: LRP's top {len(lrp_most)}: {', '.join(w for w, _, _ in lrp_most)}; "
            f"LRP's bottom {len(lrp_least)}: {', '.join(w for w, _, _ in lrp_least)}. "
            f"SA's bottom {len(sa_least)}: {', '.join(w for w, _, _ in sa_least)}: "
            f"{len(sa_function)} of them are function words or punctuation"
            + (f" ({', '.join(sa_function)})" if sa_function else "")
            + (
                ", so the paper's observation that SA's least relevant words are stop words "
                "**does not reproduce** on our model."
                if len(sa_function) * 2 < len(sa_least)
                else ", as in the paper."
            )
            + " The lists are not expected to match the paper's word for word, since our "
            "model is a different training run."
        ),
    ]
