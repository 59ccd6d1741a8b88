"""A tiny document model: the report is a list of blocks, rendered to Markdown and to HTML.

Both renderings come from the same blocks, so ``report.md`` and ``report.html`` always say the
same thing; the HTML shows heatmaps inline (coloured token spans with the shared colour map),
the Markdown links the PNG renderings of the same heatmaps.
"""

from __future__ import annotations

import dataclasses
import html
import re
from collections.abc import Sequence

from textlrp.viz.colors import intensity_to_rgb, relevance_colors, rgb_to_hex


@dataclasses.dataclass
class Heading:
    text: str
    level: int = 2


@dataclasses.dataclass
class Para:
    """A paragraph; inline ``code``, **bold** and [links](url) are understood."""

    text: str


@dataclasses.dataclass
class Bullets:
    items: list[str]


@dataclasses.dataclass
class Table:
    headers: list[str]
    rows: list[list[str]]


@dataclasses.dataclass
class Image:
    path: str  # relative to the report folder
    alt: str


@dataclasses.dataclass
class HeatRow:
    label: str
    tokens: list[str]
    relevance: list[float]


@dataclasses.dataclass
class Heatmaps:
    """Rows of coloured tokens; Markdown shows ``png`` instead (when given)."""

    rows: list[HeatRow]
    png: str | None = None
    alt: str = "heatmaps"


Block = Heading | Para | Bullets | Table | Image | Heatmaps


# ------------------------------------------------------------------ Markdown
def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def to_markdown(blocks: Sequence[Block]) -> str:
    out: list[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            out.append("#" * block.level + " " + block.text)
        elif isinstance(block, Para):
            out.append(block.text)
        elif isinstance(block, Bullets):
            out.append("\n".join(f"- {item}" for item in block.items))
        elif isinstance(block, Table):
            lines = ["| " + " | ".join(_md_cell(h) for h in block.headers) + " |"]
            lines.append("|" + "|".join("---" for _ in block.headers) + "|")
            lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in block.rows]
            out.append("\n".join(lines))
        elif isinstance(block, Image):
            out.append(f"![{block.alt}]({block.path})")
        elif isinstance(block, Heatmaps):
            if block.png:
                out.append(f"![{block.alt}]({block.png})")
            else:
                lines = []
                for row in block.rows:
                    words = " ".join(
                        f"{t}({r:+.2f})" for t, r in zip(row.tokens, row.relevance, strict=True)
                    )
                    lines.append(f"- {row.label}: {words}")
                out.append("\n".join(lines))
        else:  # pragma: no cover - all block types are handled above
            raise TypeError(f"unknown block {block!r}")
    return "\n\n".join(out) + "\n"


# ---------------------------------------------------------------------- HTML
_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2em auto;
       max-width: 70em; padding: 0 1em; color: #222; line-height: 1.45; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.5em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
img { max-width: 100%; }
code { background: #f3f3f3; padding: 0 0.2em; }
div.heat { margin: 0.3em 0 0.6em; }
div.heat .label { font-size: 0.8em; color: #555; }
div.heat .tokens { line-height: 2.0; }
span.tok { padding: 0.15em 0.25em; border-radius: 0.2em; white-space: pre; }
.bar { display: inline-block; width: 10em; height: 0.8em; border: 1px solid #bbb;
       background: linear-gradient(to right, BLUE, WHITE, RED); vertical-align: middle; }
"""


def _inline(text: str) -> str:
    """Escape, then turn `code`, **bold** and [text](url) into HTML."""
    escaped = html.escape(text, quote=False)
    escaped = re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped)
    escaped = re.sub(r"\*\*([^*]+)\*\*", r"<b>\1</b>", escaped)
    return re.sub(r"\[([^\]]+)\]\(([^)\s]+)\)", r'<a href="\2">\1</a>', escaped)


def heat_html(row: HeatRow) -> str:
    """One heatmap row: the label, then tokens coloured by R / max|R| (red +, blue −)."""
    colors = relevance_colors(row.relevance)
    spans = []
    for i, token in enumerate(row.tokens):
        fg = rgb_to_hex(colors.foreground(i))
        value = float(colors.values[i])
        spans.append(
            f'<span class="tok" style="background:{colors.hex(i)};color:{fg}" '
            f'title="{value:+.4f}">{html.escape(token)}</span>'
        )
    return (
        f'<div class="heat"><div class="label">{_inline(row.label)}</div>'
        f'<div class="tokens">{" ".join(spans)}</div></div>'
    )


def to_html(blocks: Sequence[Block], title: str) -> str:
    css = (
        _CSS.replace("BLUE", rgb_to_hex(intensity_to_rgb(-1.0)))
        .replace("WHITE", rgb_to_hex(intensity_to_rgb(0.0)))
        .replace("RED", rgb_to_hex(intensity_to_rgb(1.0)))
    )
    body: list[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            level = min(max(block.level, 1), 6)
            body.append(f"<h{level}>{_inline(block.text)}</h{level}>")
        elif isinstance(block, Para):
            body.append(f"<p>{_inline(block.text)}</p>")
        elif isinstance(block, Bullets):
            items = "".join(f"<li>{_inline(item)}</li>" for item in block.items)
            body.append(f"<ul>{items}</ul>")
        elif isinstance(block, Table):
            head = "".join(f"<th>{_inline(h)}</th>" for h in block.headers)
            rows = "".join(
                "<tr>" + "".join(f"<td>{_inline(str(c))}</td>" for c in row) + "</tr>"
                for row in block.rows
            )
            body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
        elif isinstance(block, Image):
            body.append(
                f'<p><img src="{html.escape(block.path)}" alt="{html.escape(block.alt)}"></p>'
            )
        elif isinstance(block, Heatmaps):
            legend = (
                '<p><span class="bar"></span> blue: against the target class, red: for it; '
                "each row normalized to its largest |R| (hover a word for its value)</p>"
            )
            body.append(legend + "".join(heat_html(row) for row in block.rows))
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n<style>{css}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )
