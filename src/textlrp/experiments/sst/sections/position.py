"""Report section of stage ``position``: tables, figures and prose from its cached result.

The numbers come from :func:`textlrp.experiments.sst.position.compute`; nothing here computes
relevance or runs the model, so the text can be changed and re-rendered from the cache.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from textlrp.experiments.document import Block, Image, Para, Table
from textlrp.experiments.sst.common import (
    CLASS_COLORS,
    Context,
    new_figure,
    save_figure,
)
from textlrp.experiments.sst.position import (
    PARTS,
    centre,
)


def _plot(result: dict[str, Any], names: list[str], path, dpi: int, bins: int) -> None:
    figure = new_figure(11, 6.2)
    axes = figure.subplots(2, 3, sharex=True)
    x = (np.arange(bins) + 0.5) / bins
    for r, (method, label) in enumerate((("sa", "SA"), ("lrp", "LRP |R|"))):
        for col, part in enumerate(PARTS):
            ax = axes[r][col]
            for c, name in enumerate(names):
                values = result[method].get(str(c), {}).get(part)
                if values is None:
                    continue
                ax.plot(
                    x,
                    values,
                    marker="o",
                    markersize=3,
                    color=CLASS_COLORS[c % len(CLASS_COLORS)],
                    label=name,
                )
            ax.set_title(f"{label}: {part if part == 'total' else part + ' encoder'}", fontsize=10)
            ax.grid(alpha=0.3)
            if r == 1:
                ax.set_xlabel("position in sentence")
            if col == 0:
                ax.set_ylabel("share of relevance")
    axes[0][0].legend(fontsize=7, title="target class", title_fontsize=7)
    save_figure(figure, path, dpi)


def _centre_rows(curves: dict[str, Any], classes: int) -> list[list[str]]:
    rows = []
    for method, label in (("sa", "SA"), ("lrp", "LRP |R|")):
        for part in PARTS:
            cells = []
            for c in range(classes):
                values = curves[method].get(str(c), {}).get(part)
                cells.append(
                    "–"
                    if values is None
                    else f"{centre(values):.2f} (first {values[0]:.2f}, last {values[-1]:.2f})"
                )
            rows.append([label, part] + cells)
    return rows


def render(result: dict[str, Any], ctx: Context) -> list[Block]:
    """The report blocks for ``result``; draws the stage's figures into ``ctx.out``."""
    s = ctx.settings
    names = ctx.class_names
    png = "position.png"
    _plot(result, names, ctx.out / png, s.dpi, s.bins)
    rows = _centre_rows(result, len(names))
    blocks: list[Block] = [
        Para(
            f"{result['n']} test sentences of ≥ {s.min_position_length} words, {s.bins} "
            "intervals; a word straddling an interval boundary is split between the intervals "
            "in proportion to its overlap. As in the paper, |R| is summed over the sentences "
            "per interval and the summed curve is scaled to sum 1. Forward encoder = the left "
            "one (reads the sentence left to right), backward = the right one. SA per "
            "encoder: squared gradient through that encoder's final state alone."
            + (
                ""
                if result["encoder_split"]
                else " This model has no two-encoder read-out, so only the totals are shown."
            )
        ),
        Image(png, "relevance over sentence position"),
        Para(
            "Centre of mass of each curve (0 = sentence start, 1 = end), with the share of "
            "the first and the last interval:"
        ),
        Table(["method", "part"] + names, rows),
    ]
    variant = result.get("per_sentence")
    if variant and variant["lrp"]:
        blocks += [
            Para(
                "**Variant (ours, not the paper's)**: each sentence's |R| scaled to sum 1 "
                "before averaging (every sentence counts equally), the normalisation our earlier "
                "report used. Centres of mass:"
            ),
            Table(["method", "part"] + names, _centre_rows(variant, len(names))),
        ]
    notes = []
    for method, label in (("sa", "SA"), ("lrp", "LRP")):
        by_class = result[method]
        if not by_class or "forward" not in next(iter(by_class.values())):
            continue
        fwd = np.mean([centre(v["forward"]) for v in by_class.values()])
        bwd = np.mean([centre(v["backward"]) for v in by_class.values()])
        tot = np.mean([centre(v["total"]) for v in by_class.values()])
        notes.append(
            f"{label}: mean centre of mass {tot:.2f} in total, {fwd:.2f} for the forward and "
            f"{bwd:.2f} for the backward encoder"
        )
    blocks.append(
        Para(
            "**Paper.** 2017 Fig. 4 shows these distributions for SA and LRP, per target class, "
            "in total and per encoder. **Ours**: "
            + ("; ".join(notes) + "." if notes else "–")
            + " An encoder's final state was updated last by the words it read last: the forward "
            "encoder's by the sentence end, the backward encoder's by the sentence start. A centre "
            "of mass shifted that way shows this recency. Compare the shapes with the paper's "
            "figure. We do not restate the paper's curves here."
        )
    )
    return blocks
