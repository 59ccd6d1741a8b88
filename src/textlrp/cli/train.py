"""``textlrp train TASK``: one module per task."""

from __future__ import annotations

import argparse

from textlrp.cli.common import register_group

TASKS = ("textlrp.cli.train_sst", "textlrp.cli.train_20news")


def register(subparsers: argparse._SubParsersAction) -> None:
    register_group(subparsers, "train", "train a model (sst, 20news)", "tasks", TASKS)
