"""Explanations as one self-contained HTML page (inline CSS, no scripts, no external resources).

Every token and every other user-controlled string (class names, title, method name and
options) is escaped with :func:`html.escape`, so a token such as ``<script>`` shows as text.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path

from textlrp.errors import InputError
from textlrp.explanation import Explanation
from textlrp.viz.colors import (
    TokenColors,
    explanation_colors,
    format_options,
    format_relevance,
    intensity_to_rgb,
    probability_list,
    rgb_to_hex,
)

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       margin: 2em auto; max-width: 60em; padding: 0 1em; color: #222; background: #fff; }
h1 { font-size: 1.4em; }
section.explanation { border-top: 1px solid #ddd; padding: 0.6em 0 1em; }
h2 { font-size: 1.1em; margin: 0.3em 0; }
h2 .options { font-weight: normal; color: #555; font-size: 0.9em; }
p.sentence { line-height: 2.1; font-size: 1.1em; margin: 0.5em 0; }
span.tok { padding: 0.15em 0.2em; border-radius: 0.2em; white-space: pre; }
span.tok.unk { text-decoration: underline dotted; text-underline-offset: 0.2em; }
table.prediction { border-collapse: collapse; font-size: 0.9em; margin: 0.5em 0; }
table.prediction th, table.prediction td { border: 1px solid #ddd; padding: 0.15em 0.6em;
       text-align: left; }
table.prediction td.num { text-align: right; font-variant-numeric: tabular-nums; }
table.prediction tr.target td, table.prediction tr.predicted td { font-weight: bold; }
div.legend { font-size: 0.85em; color: #444; display: flex; align-items: center; gap: 0.5em;
       flex-wrap: wrap; }
div.legend .bar { display: inline-block; width: 12em; height: 0.9em; border: 1px solid #bbb;
       background: linear-gradient(to right, BLUE, WHITE, RED); }
p.note { font-size: 0.85em; color: #555; margin: 0.3em 0; }
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def render_html(
    explanations: Explanation | Sequence[Explanation],
    title: str = "textlrp explanation",
    digits: int = 4,
) -> str:
    """A complete HTML page showing each explanation's coloured tokens, prediction and legend.

    Each token is a ``<span>`` with the background colour of its relevance (red positive, blue
    negative, normalized per explanation) and a tooltip giving the value to ``digits`` decimals.
    """
    if isinstance(explanations, Explanation):
        explanations = [explanations]
    explanations = list(explanations)
    if not explanations:
        raise InputError("render_html needs at least one explanation")
    css = (
        _CSS.replace("BLUE", rgb_to_hex(intensity_to_rgb(-1.0)))
        .replace("WHITE", rgb_to_hex(intensity_to_rgb(0.0)))
        .replace("RED", rgb_to_hex(intensity_to_rgb(1.0)))
    )
    sections = "\n".join(_section(e, digits) for e in explanations)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(title)}</title>\n<style>{css}</style>\n</head>\n<body>\n"
        f"<h1>{_e(title)}</h1>\n{sections}\n</body>\n</html>\n"
    )


def write_html(
    explanations: Explanation | Sequence[Explanation],
    path: str | Path,
    title: str = "textlrp explanation",
) -> Path:
    """Write :func:`render_html` to ``path`` (UTF-8) and return the path."""
    path = Path(path)
    path.write_text(render_html(explanations, title=title), encoding="utf-8")
    return path


def _section(explanation: Explanation, digits: int) -> str:
    colors = explanation_colors(explanation)
    options = format_options(dict(explanation.options or {}))
    heading = _e(explanation.method)
    if options:
        heading += f' <span class="options">({_e(options)})</span>'
    parts = [
        '<section class="explanation">',
        f"<h2>{heading}</h2>",
        f'<p class="sentence">{_tokens(explanation, colors, digits)}</p>',
        _prediction_table(explanation),
        _legend(explanation, colors),
        "</section>",
    ]
    return "\n".join(parts)


def _tokens(explanation: Explanation, colors: TokenColors, digits: int) -> str:
    unknown = list(explanation.unknown) + [False] * len(explanation.tokens)
    spans = []
    for i, token in enumerate(explanation.tokens):
        tip = f"relevance {format_relevance(float(colors.values[i]), digits)}"
        tip += f" ({float(colors.intensity[i]):+.0%} of max)"
        css_class = "tok"
        if unknown[i]:
            tip += ", not in the vocabulary"
            css_class += " unk"
        style = f"background-color:{colors.hex(i)};color:{rgb_to_hex(colors.foreground(i))}"
        spans.append(
            f'<span class="{css_class}" style="{style}" title="{_e(tip)}">{_e(token)}</span>'
        )
    return " ".join(spans)


def _prediction_table(explanation: Explanation) -> str:
    probabilities = probability_list(explanation)
    scores = [float(s) for s in explanation.scores.detach().cpu().reshape(-1)]
    if len(scores) != len(probabilities):
        scores = [float("nan")] * len(probabilities)
    rows = []
    for k, name in enumerate(explanation.class_names):
        roles = [
            role
            for role, hit in (
                ("target", k == explanation.target),
                ("predicted", k == explanation.predicted),
            )
            if hit
        ]
        row_class = f' class="{" ".join(roles)}"' if roles else ""
        rows.append(
            f'<tr{row_class}><td>{_e(name)}</td><td class="num">{probabilities[k]:.3f}</td>'
            f'<td class="num">{scores[k]:.3f}</td><td>{_e(", ".join(roles))}</td></tr>'
        )
    return (
        '<table class="prediction">\n'
        "<thead><tr><th>class</th><th>probability</th><th>score</th><th></th></tr></thead>\n"
        f"<tbody>\n{chr(10).join(rows)}\n</tbody>\n</table>"
    )


def _legend(explanation: Explanation, colors: TokenColors) -> str:
    scale = colors.scale
    if scale > 0:
        low, high = format_relevance(-scale, 3), format_relevance(scale, 3)
        meaning = "normalized to this sentence&#x27;s largest |relevance|"
    else:
        low, high, meaning = "", "", "all relevance is zero"
    legend = (
        '<div class="legend">'
        f"<span>{low}</span>"
        '<span class="bar" role="img" aria-label="blue-white-red colour scale"></span>'
        f"<span>{high}</span>"
        f"<span>red: evidence for <b>{_e(explanation.target_name)}</b>, blue: against it"
        f" ({meaning})</span>"
        "</div>"
    )
    total = float(colors.values.sum()) if len(colors) else 0.0
    note = (
        f'<p class="note">sum of relevance {format_relevance(total, 4)}; '
        f"score of {_e(explanation.target_name)} {explanation.target_score:+.4f}"
    )
    if any(explanation.unknown):
        note += "; dotted underline: not in the vocabulary"
    return legend + "\n" + note + "</p>"
