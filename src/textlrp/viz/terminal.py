"""Explanations as terminal text: 24-bit ANSI background colours, or signed values as plain text.

Colour follows :mod:`textlrp.viz.colors` (red positive, blue negative, white zero, normalized per
sentence). With ``color=None`` colour is used only when standard output is a terminal and the
``NO_COLOR`` environment variable is unset or empty (https://no-color.org); otherwise each token
is printed with its signed relevance, e.g. ``never(+0.12)``.
"""

from __future__ import annotations

import os
import shutil
import sys
import textwrap
import unicodedata
from collections.abc import Sequence

from textlrp.errors import InputError
from textlrp.explanation import Explanation
from textlrp.viz.colors import (
    TokenColors,
    explanation_colors,
    format_relevance,
    method_label,
    printable,
    probability_list,
    rgb_to_255,
)

RESET = "\x1b[0m"
UNDERLINE = "\x1b[4m"
UNKNOWN_MARK = "*"


def use_color(stream: object | None = None) -> bool:
    """Whether to colour output: ``stream`` (default stdout) is a TTY and NO_COLOR is unset."""
    if os.environ.get("NO_COLOR", ""):
        return False
    stream = sys.stdout if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except (OSError, ValueError):  # closed or detached stream
        return False


def render_terminal(
    explanation: Explanation,
    color: bool | None = None,
    width: int | None = None,
    digits: int = 2,
) -> str:
    """One explanation as text: a header, the class probabilities and the coloured sentence.

    ``color=None`` decides automatically (see :func:`use_color`); ``width`` defaults to the
    terminal width; ``digits`` is the number of decimals of the relevances shown without colour.
    """
    color = use_color() if color is None else color
    width = _terminal_width(width)
    colors = explanation_colors(explanation)
    lines = [
        f"{printable(method_label(explanation))} | target: {printable(explanation.target_name)}"
        f" | predicted: {printable(explanation.predicted_name)}",
        *_probability_lines(explanation, width),
    ]
    cells = _cells(explanation, colors, color, digits)
    lines += _wrap([w for _, w in cells], [c for c, _ in cells], width)
    lines += _footer([explanation], [colors], color, width)
    return "\n".join(lines)


def render_terminal_rows(
    explanations: Sequence[Explanation],
    color: bool | None = None,
    width: int | None = None,
    digits: int = 2,
) -> str:
    """Several explanations of the same sentence (e.g. one per method), one aligned row each.

    The method name is on the left; token columns line up across rows, and long sentences wrap
    into blocks that show every row. Each row is normalized to its own largest ``|R|``.
    """
    explanations = list(explanations)
    if not explanations:
        raise InputError("render_terminal_rows needs at least one explanation")
    first = explanations[0]
    for other in explanations[1:]:
        if list(other.tokens) != list(first.tokens):
            raise InputError(
                "render_terminal_rows shows explanations of the same sentence; got different "
                f"tokens for methods '{first.method}' and '{other.method}'"
            )
    color = use_color() if color is None else color
    width = _terminal_width(width)
    all_colors = [explanation_colors(e) for e in explanations]

    same_target = all(e.target == first.target for e in explanations)
    labels = [printable(e.method) for e in explanations]
    if not same_target:
        labels = [
            f"{label} -> {printable(e.target_name)}"
            for label, e in zip(labels, explanations, strict=True)
        ]
    label_width = max(_width(label) for label in labels)

    header = f"predicted: {printable(first.predicted_name)}"
    if same_target:
        header = f"target: {printable(first.target_name)} | " + header
    lines = [header, *_probability_lines(first, width)]

    rows = [_cells(e, c, color, digits) for e, c in zip(explanations, all_colors, strict=True)]
    column_widths = [max(row[j][1] for row in rows) for j in range(len(first.tokens))]
    available = max(10, width - label_width - 3)
    breaks = _line_breaks(column_widths, available)
    for block, (start, stop) in enumerate(breaks):
        if block:
            lines.append("")
        for label, row in zip(labels, rows, strict=True):
            padded = [
                text + " " * (column_widths[j] - cell_width)
                for j, (text, cell_width) in enumerate(row[start:stop], start)
            ]
            line = label + " " * (label_width - _width(label)) + " | " + " ".join(padded)
            lines.append(line.rstrip())
    if not breaks:  # empty sentence: still one (empty) row per method
        lines += [label + " " * (label_width - _width(label)) + " |" for label in labels]
    lines += _footer(explanations, all_colors, color, width)
    return "\n".join(lines)


def _cells(
    explanation: Explanation, colors: TokenColors, color: bool, digits: int
) -> list[tuple[str, int]]:
    """Each token as (printed text, display width)."""
    unknown = list(explanation.unknown) + [False] * len(explanation.tokens)
    cells = []
    for i, token in enumerate(explanation.tokens):
        text = printable(token)
        if unknown[i]:
            text += "" if color else UNKNOWN_MARK
        if color:
            br, bg, bb = rgb_to_255(colors.rgb[i])
            fr, fg, fb = rgb_to_255(colors.foreground(i))
            style = f"\x1b[48;2;{br};{bg};{bb}m\x1b[38;2;{fr};{fg};{fb}m"
            if unknown[i]:
                style += UNDERLINE
            cells.append((f"{style}{text}{RESET}", _width(text)))
        else:
            text += f"({format_relevance(float(colors.values[i]), digits)})"
            cells.append((text, _width(text)))
    return cells


def _probability_lines(explanation: Explanation, width: int) -> list[str]:
    """``name p | name p [target] | ...``, wrapped at ``|`` to ``width``."""
    parts = []
    for k, (name, p) in enumerate(
        zip(explanation.class_names, probability_list(explanation), strict=True)
    ):
        marks = [
            m
            for m, hit in (
                ("target", k == explanation.target),
                ("predicted", k == explanation.predicted),
            )
            if hit
        ]
        parts.append(f"{printable(name)} {p:.2f}" + (f" [{', '.join(marks)}]" if marks else ""))
    lines: list[str] = []
    for part in parts:
        if lines and _width(lines[-1]) + 3 + _width(part) <= width:
            lines[-1] += " | " + part
        else:
            lines.append(part)
    return lines


def _footer(
    explanations: Sequence[Explanation],
    all_colors: Sequence[TokenColors],
    color: bool,
    width: int,
) -> list[str]:
    """The colour legend (with colour) and the unknown-word note, wrapped to ``width``."""
    lines = []
    if color:
        scales = ", ".join(f"{c.scale:.3g}" for c in all_colors)
        lines.append(
            "red: evidence for the target class, blue: against it; "
            f"full colour = largest |relevance| ({scales})"
        )
    if any(any(e.unknown) for e in explanations):
        mark = "underlined" if color else UNKNOWN_MARK
        lines.append(f"{mark}: not in the vocabulary")
    return [wrapped for line in lines for wrapped in textwrap.wrap(line, width)]


def _wrap(cells: list[int], texts: list[str], width: int) -> list[str]:
    """Join ``texts`` (with display widths ``cells``) by spaces into lines of at most ``width``."""
    return [" ".join(texts[a:b]) for a, b in _line_breaks(cells, width)]


def _line_breaks(widths: list[int], width: int) -> list[tuple[int, int]]:
    """Greedy ``(start, stop)`` index ranges whose items, space-separated, fit in ``width``.

    An item wider than ``width`` gets a line of its own.
    """
    breaks: list[tuple[int, int]] = []
    start, used = 0, 0
    for i, w in enumerate(widths):
        if i > start and used + 1 + w > width:
            breaks.append((start, i))
            start, used = i, w
        else:
            used = w if i == start else used + 1 + w
    if widths:
        breaks.append((start, len(widths)))
    return breaks


def _terminal_width(width: int | None) -> int:
    if width is None:
        width = shutil.get_terminal_size((80, 24)).columns
    if width < 1:
        raise InputError(f"width must be a positive number of columns, got {width}")
    return width


def _width(text: str) -> int:
    """Columns ``text`` takes in a terminal (wide East Asian characters count two)."""
    return sum(
        0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1
        for c in text
    )
