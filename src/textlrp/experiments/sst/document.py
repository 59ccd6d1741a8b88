"""Moved to :mod:`textlrp.experiments.document` (shared by every reproduction); re-exported
here so that existing imports keep working."""

from textlrp.experiments.document import (
    Block,
    Bullets,
    Heading,
    Heatmaps,
    HeatRow,
    Image,
    Para,
    Table,
    heat_html,
    to_html,
    to_markdown,
)

__all__ = [
    "Block",
    "Bullets",
    "Heading",
    "Heatmaps",
    "HeatRow",
    "Image",
    "Para",
    "Table",
    "heat_html",
    "to_html",
    "to_markdown",
]
