"""Explanations as a PNG heatmap: one row per explanation, tokens as coloured boxes.

Drawn on a :class:`matplotlib.figure.Figure` with its own Agg canvas, so the global matplotlib
backend (and any pyplot state of the caller) is left alone. Text is measured with the Agg
renderer before layout, so tokens wrap across lines without overlapping.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle

from textlrp.errors import InputError
from textlrp.explanation import Explanation
from textlrp.viz.colors import (
    explanation_colors,
    format_options,
    intensity_to_rgb,
    printable,
    probability_list,
)

_POINTS = 72.0  # points per inch


class _Measure:
    """Text extents in points, from the Agg renderer that will draw the text."""

    def __init__(self, dpi: float) -> None:
        figure = Figure(dpi=dpi)
        self._renderer = FigureCanvasAgg(figure).get_renderer()
        self._scale = _POINTS / dpi

    def width(self, text: str, prop: FontProperties) -> float:
        if not text:
            return 0.0
        w, _, _ = self._renderer.get_text_width_height_descent(text, prop, ismath=False)
        return w * self._scale

    def ascent_descent(self, prop: FontProperties) -> tuple[float, float]:
        _, h, d = self._renderer.get_text_width_height_descent("ÅÉgjpqy|", prop, ismath=False)
        return (h - d) * self._scale, d * self._scale


def render_png(
    explanations: Explanation | Sequence[Explanation],
    path: str | Path,
    dpi: float = 150,
    width: float = 10.0,
    fontsize: float = 12.0,
    title: str | None = None,
) -> Path:
    """Draw each explanation as a row of coloured token boxes and save a PNG at ``path``.

    ``width`` is the figure width in inches; the height follows from how many lines the
    wrapped sentences need. The row label on the left gives the method (and options), the
    target and predicted classes with their probabilities, and the row's largest ``|R|``, to
    which its colours are normalized. Returns the path written.
    """
    if isinstance(explanations, Explanation):
        explanations = [explanations]
    explanations = list(explanations)
    if not explanations:
        raise InputError("render_png needs at least one explanation")
    if dpi <= 0 or width <= 0 or fontsize <= 0:
        raise InputError("dpi, width and fontsize must be positive")
    path = Path(path)
    all_colors = [explanation_colors(e) for e in explanations]
    measure = _Measure(dpi)

    # Everything below is in points, y measured downwards from the top of the figure.
    fs = fontsize
    token_prop = FontProperties(size=fs)
    bold_prop = FontProperties(size=fs * 0.95, weight="bold")
    label_prop = FontProperties(size=fs * 0.8)
    page_w = width * _POINTS
    margin = 0.9 * fs
    pad_x = 0.3 * fs
    gap_x = 0.35 * fs
    ascent, descent = measure.ascent_descent(token_prop)
    box_h = ascent + descent + 0.4 * fs
    line_h = box_h + 0.35 * fs
    label_line_h = 1.3 * label_prop.get_size_in_points()

    labels = [_label_lines(e, c.scale) for e, c in zip(explanations, all_colors, strict=True)]
    max_label_w = 0.32 * page_w
    labels = [
        [
            (_fit(text, bold_prop if k == 0 else label_prop, max_label_w, measure), k == 0)
            for k, text in enumerate(lines)
        ]
        for lines in labels
    ]
    label_w = max(
        measure.width(text, bold_prop if bold else label_prop)
        for lines in labels
        for text, bold in lines
    )
    x_tokens = margin + label_w + 1.2 * fs
    x_end = page_w - margin
    if x_end - x_tokens < 8 * fs:
        raise InputError(f"figure width {width} in is too narrow for the row labels")

    # Lay out each row's tokens: (text, x, line, width) per token; overlong tokens get an "…".
    layouts = []
    for explanation in explanations:
        positions, x, line = [], x_tokens, 0
        for token in explanation.tokens:
            shown = _fit(printable(token), token_prop, x_end - x_tokens - 2 * pad_x, measure)
            w = measure.width(shown, token_prop) + 2 * pad_x
            if x > x_tokens and x + w > x_end:
                x, line = x_tokens, line + 1
            positions.append((shown, x, line, w))
            x += w + gap_x
        layouts.append(positions)

    title_h = 2.2 * fs if title else 0.0
    row_gap = 0.8 * fs
    row_heights = [
        max((max((p[2] for p in positions), default=0) + 1) * line_h, len(lines) * label_line_h)
        for positions, lines in zip(layouts, labels, strict=True)
    ]
    legend_h = 2.6 * fs
    page_h = margin + title_h + sum(row_heights) + row_gap * len(row_heights) + legend_h

    # Shrink the page to its content when every sentence fits on fewer columns than allowed.
    note = _legend_note(any(any(e.unknown) for e in explanations))
    note_prop = FontProperties(size=fs * 0.7)
    legend_w = _LEGEND_BAR * fs + fs + max(measure.width(n, note_prop) for n in note)
    used = max((x + w for positions in layouts for _, x, _, w in positions), default=x_tokens)
    page_w = min(page_w, max(used, margin + legend_w, x_tokens + 8 * fs) + margin)
    x_end = page_w - margin

    figure = Figure(figsize=(page_w / _POINTS, page_h / _POINTS), dpi=dpi, facecolor="white")
    FigureCanvasAgg(figure)
    to_inches = figure.dpi_scale_trans

    def y_of(top: float) -> float:  # points from the top -> inches from the bottom
        return (page_h - top) / _POINTS

    def text(x: float, top: float, s: str, prop: FontProperties, **kw: object) -> None:
        figure.text(
            x / _POINTS,
            y_of(top),
            s,
            fontproperties=prop,
            transform=to_inches,
            parse_math=False,
            **kw,
        )

    top = margin
    if title:
        text(
            margin,
            top + fs * 1.2,
            printable(title),
            FontProperties(size=fs * 1.2, weight="bold"),
            va="baseline",
        )
        top += title_h
    for r, (explanation, colors, positions, lines) in enumerate(
        zip(explanations, all_colors, layouts, labels, strict=True)
    ):
        if r:
            figure.add_artist(
                Line2D(
                    [margin / _POINTS, x_end / _POINTS],
                    [y_of(top - row_gap / 2)] * 2,
                    transform=to_inches,
                    color="#cccccc",
                    linewidth=0.8,
                )
            )
        for k, (label, bold) in enumerate(lines):
            text(
                margin,
                top + (k + 0.8) * label_line_h,
                label,
                bold_prop if bold else label_prop,
                va="baseline",
                color="#111111" if bold else "#444444",
            )
        unknown = list(explanation.unknown) + [False] * len(explanation.tokens)
        for i, (shown, x, line, w) in enumerate(positions):
            box_top = top + line * line_h
            face = colors.rgb[i]
            figure.add_artist(
                Rectangle(
                    (x / _POINTS, y_of(box_top + box_h)),
                    w / _POINTS,
                    box_h / _POINTS,
                    transform=to_inches,
                    facecolor=face,
                    linewidth=0.8 if unknown[i] else 0,
                    edgecolor="#555555" if unknown[i] else face,
                    linestyle=(0, (2, 2)) if unknown[i] else "solid",
                )
            )
            baseline = box_top + (box_h - ascent - descent) / 2 + ascent
            text(
                x + pad_x,
                baseline,
                shown,
                token_prop,
                va="baseline",
                ha="left",
                color=colors.foreground(i),
            )
        top += row_heights[r] + row_gap

    _legend(figure, margin, top, page_h, fs, note)
    figure.savefig(path, format="png", dpi=dpi, facecolor="white")
    return path


def _label_lines(explanation: Explanation, scale: float) -> list[str]:
    """Method, options (if any), target and predicted class, and the row's max |R|."""
    p = probability_list(explanation)
    lines = [printable(explanation.method)]
    options = format_options(dict(explanation.options or {}))
    if options:
        lines.append(printable(options))
    target, predicted = explanation.target, explanation.predicted
    lines.append(f"target: {printable(explanation.target_name)} ({p[target]:.2f})")
    lines.append(f"predicted: {printable(explanation.predicted_name)} ({p[predicted]:.2f})")
    lines.append(f"max |R| = {scale:.3g}")
    return lines


def _fit(text: str, prop: FontProperties, max_width: float, measure: _Measure) -> str:
    """``text``, shortened with an ellipsis until it is at most ``max_width`` wide."""
    if measure.width(text, prop) <= max_width:
        return text
    while text and measure.width(text + "…", prop) > max_width:
        text = text[:-1]
    return text + "…"


_LEGEND_BAR = 10.0  # colour bar width, in font sizes


def _legend_note(unknown: bool) -> list[str]:
    second = "each row is normalized to its largest |relevance|"
    if unknown:
        second += "; dashed box: not in the vocabulary"
    return ["red: evidence for the target class, blue: evidence against it", second]


def _legend(
    figure: Figure, margin: float, top: float, page_h: float, fs: float, note: list[str]
) -> None:
    """A blue-white-red colour bar with its meaning, below the rows."""
    bar_w, bar_h = _LEGEND_BAR * fs, 0.8 * fs
    page_w = figure.get_figwidth() * _POINTS
    y = (page_h - top - bar_h) / _POINTS
    axes = figure.add_axes(
        (
            margin / page_w,
            y / figure.get_figheight(),
            bar_w / page_w,
            bar_h / (figure.get_figheight() * _POINTS),
        )
    )
    gradient = np.array([[intensity_to_rgb(x) for x in np.linspace(-1, 1, 256)]])
    axes.imshow(gradient, aspect="auto", extent=(-1, 1, 0, 1))
    axes.set_yticks([])
    axes.set_xticks([-1, 0, 1], ["-max |R|", "0", "+max |R|"])
    axes.tick_params(labelsize=fs * 0.7, length=2, pad=1)
    labels = axes.get_xticklabels()
    labels[0].set_horizontalalignment("left")
    labels[-1].set_horizontalalignment("right")
    figure.text(
        (margin + bar_w + fs) / _POINTS,
        y + bar_h / 2 / _POINTS,
        "\n".join(note),
        transform=figure.dpi_scale_trans,
        fontsize=fs * 0.7,
        va="center",
        color="#444444",
        parse_math=False,
    )
