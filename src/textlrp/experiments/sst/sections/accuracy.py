"""Report section of stage ``accuracy``: tables, figures and prose from its cached result.

The numbers come from :func:`textlrp.experiments.sst.accuracy.compute`; nothing here computes
relevance or runs the model, so the text can be changed and re-rendered from the cache.
"""

from __future__ import annotations

from typing import Any

from textlrp.experiments.document import Block, Para, Table
from textlrp.experiments.sst.accuracy import (
    PAPER,
)
from textlrp.experiments.sst.common import Context


def _pct(value: float) -> str:
    return "–" if value != value else f"{100 * value:.1f}%"


def render(result: dict[str, Any], ctx: Context) -> list[Block]:
    """The report blocks for ``result``; draws the stage's figures into ``ctx.out``."""
    test, dev = result["test"], result["dev"]
    rows = [
        [
            "this model, test",
            _pct(test["fine"]),
            _pct(test["binary"]),
            f"{int(test['n'])} / {int(test['n_binary'])}",
        ],
        [
            "this model, dev",
            _pct(dev["fine"]),
            _pct(dev["binary"]),
            f"{int(dev['n'])} / {int(dev['n_binary'])}",
        ],
        ["Arras et al. 2017, test", f"{PAPER['fine']}%", f"{PAPER['binary']}%", "2210 / 1821"],
    ]
    fine_gap = 100 * test["fine"] - PAPER["fine"]
    binary_gap = 100 * test["binary"] - PAPER["binary"]
    largest = max(abs(fine_gap), abs(binary_gap))
    if largest < 1.0:
        verdict = "Both are within one point of the paper's."
    else:
        verdict = (
            f"Our test accuracy differs from the paper's by {fine_gap:+.1f} points (five-class) "
            f"and {binary_gap:+.1f} points (binary). The architecture is the paper's, but the "
            "weights are our own training run (own initialisation and embeddings, trained on "
            "all labelled phrases with dropout, selected on dev accuracy). The authors published "
            "their model, but its embedding file is missing from every copy of the release "
            "we could get, so their model cannot be run here. "
            + (
                "Differences of a point or two are within what separate training runs of such "
                "small models give."
                if largest <= 2.0
                else "That is more than the point or two separate training runs usually differ "
                "by, so our training recipe is the likely cause. The rule that turns the "
                "five-class scores into a binary decision (summed probabilities, above) may also "
                "differ from the paper's."
            )
        )
    return [
        Para(
            "Binary accuracy drops the neutral sentences and predicts *positive* when "
            "P(positive) + P(very positive) > P(negative) + P(very negative), from the "
            "five-class model (no separate binary model)."
        ),
        Table(["", "five-class", "binary", "sentences (all / polar)"], rows),
        Para(verdict),
    ]
