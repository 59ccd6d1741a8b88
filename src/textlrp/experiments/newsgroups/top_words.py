"""Stage ``top_words``: the most relevant words of each class over the test set.

For class c, the relevance of every token for c is summed per word over the test posts of
class c (LRP of the CNN; the SVM's exact relevance beside it); words in fewer than 3 of those
posts are left out (ours, so one long post cannot fill a list).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

from textlrp.experiments.document import Block, Para, Table
from textlrp.experiments.newsgroups.common import Context

NAME = "top_words"
TITLE = "Most relevant words per class (test set)"


def settings(ctx: Context) -> dict[str, Any]:
    s = ctx.settings
    return {"docs": ctx.docs_key, "top": s.top_words, "min_docs": s.min_word_docs,
            "model": ctx.model_settings() if ctx.model_path is None else str(ctx.model_path),
            "svm_c": s.svm_c}


def top_words(ctx: Context, relevance: np.ndarray) -> list[list[list[Any]]]:
    lists = []
    for label in range(len(ctx.class_names)):
        total: dict[str, float] = defaultdict(float)
        docs: dict[str, int] = defaultdict(int)
        for i in np.flatnonzero(ctx.test_labels == label):
            doc = ctx.test_docs[i]
            for t, word in enumerate(doc):
                total[word] += float(relevance[i, t])
            for word in set(doc):
                docs[word] += 1
        ranked = sorted((w for w in total if docs[w] >= ctx.settings.min_word_docs),
                        key=lambda w: (-total[w], w))
        lists.append([[w, round(total[w], 4)] for w in ranked[: ctx.settings.top_words]])
    return lists


def compute(ctx: Context) -> dict[str, Any]:
    return {"lrp": top_words(ctx, ctx.relevance("lrp", "true")),
            "svm": top_words(ctx, ctx.relevance("svm", "true"))}


def section(result: dict[str, Any], ctx: Context) -> list[Block]:
    rows = [
        [name, ", ".join(w for w, _ in result["lrp"][c]), ", ".join(w for w, _ in result["svm"][c])]
        for c, name in enumerate(ctx.class_names)
    ]
    return [
        Para(
            "**Paper.** The 2016 paper's summary mentions \"various visualizations\" of which "
            "words are relevant; these lists are ours in that spirit. **Ours.** Summed relevance "
            "for the true class "
            f"over that class's test posts; words in ≥ {ctx.settings.min_word_docs} of them."
        ),
        Table(["class", "CNN LRP", "SVM exact"], rows),
    ]
