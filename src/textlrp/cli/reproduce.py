"""``textlrp reproduce EXPERIMENT``: one module per experiment."""

from __future__ import annotations

import argparse

from textlrp.cli.common import register_group

EXPERIMENTS = (
    "textlrp.cli.reproduce_toy",
    "textlrp.cli.reproduce_sst",
    "textlrp.cli.reproduce_20news",
)


def register(subparsers: argparse._SubParsersAction) -> None:
    register_group(
        subparsers,
        "reproduce",
        "reproduce the papers' experiments (toy, sst, 20news)",
        "experiments",
        EXPERIMENTS,
    )
