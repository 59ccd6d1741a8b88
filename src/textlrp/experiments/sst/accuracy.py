"""Stage ``accuracy``: five-class and binary sentence accuracy, beside the 2017 paper's."""

from __future__ import annotations

from typing import Any

from textlrp.data.sst import load_sst
from textlrp.experiments.sst.common import Context
from textlrp.training import evaluate

NAME = "accuracy"
TITLE = "Model accuracy (2017 paper)"
PAPER = {"fine": 46.3, "binary": 82.9}  # Arras et al. 2017, test sentences, in %


def settings(ctx: Context) -> dict[str, Any]:
    """The settings this stage's cached result depends on."""
    return {}


def compute(ctx: Context) -> dict[str, Any]:
    """Compute the stage's numbers (a JSON-ready dict, cached by the runner)."""
    bar = ctx.bar(2, NAME)
    result: dict[str, Any] = {}
    for split in ("dev", "test"):
        examples = ctx.test if split == "test" else load_sst(split, ctx.data_dir, download=False)
        metrics = evaluate(ctx.model, examples)
        result[split] = {k: float(v) for k, v in metrics.items()}
        bar.update()
    bar.close()
    return result
