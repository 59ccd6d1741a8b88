"""Visualising explanations: terminal text, a self-contained HTML page, and a PNG heatmap.

All three share one colour convention (:mod:`textlrp.viz.colors`): positive relevance red,
negative blue, zero white, normalized per sentence to its largest absolute relevance.
:func:`render_png` imports matplotlib on first use, so importing this package stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textlrp.viz.colors import TokenColors, explanation_colors, relevance_colors
from textlrp.viz.html import render_html, write_html
from textlrp.viz.terminal import render_terminal, render_terminal_rows, use_color

if TYPE_CHECKING:
    from textlrp.viz.png import render_png

__all__ = [
    "TokenColors",
    "explanation_colors",
    "relevance_colors",
    "render_html",
    "render_png",
    "render_terminal",
    "render_terminal_rows",
    "use_color",
    "write_html",
]


def __getattr__(name: str) -> Any:
    if name == "render_png":
        from textlrp.viz.png import render_png

        return render_png
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
