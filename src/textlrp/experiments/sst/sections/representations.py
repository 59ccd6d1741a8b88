"""Report section of stage ``representations``: tables, figures and prose from its cached result.

The numbers come from :func:`textlrp.experiments.sst.representations.compute`; nothing here computes
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
from textlrp.experiments.sst.representations import (
    PANELS,
    VARIANT_PANELS,
)


def _plot(result: dict[str, Any], names: list[str], path, dpi: int) -> None:
    figure = new_figure(12, 7.5)
    axes = figure.subplots(2, 3)
    labels = np.asarray(result["labels"])
    for ax, (key, title) in zip(axes.ravel(), PANELS, strict=True):
        panel = result["panels"].get(key)
        if panel is None:
            ax.set_axis_off()
            continue
        coords = np.asarray(panel["coords"])
        for c, name in enumerate(names):
            rows = labels == c
            ax.scatter(
                coords[rows, 0],
                coords[rows, 1],
                s=4,
                alpha=0.6,
                color=CLASS_COLORS[c % len(CLASS_COLORS)],
                label=name,
                linewidths=0,
            )
        e1, e2 = (100 * v for v in panel["explained"][:2])
        ax.set_title(f"{title}\nexplained variance {e1:.1f}% + {e2:.1f}%", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0][0].legend(fontsize=7, markerscale=3, title="true class", title_fontsize=7)
    save_figure(figure, path, dpi)


def _knn_text(result: dict[str, Any], key: str) -> str:
    panel = result["panels"].get(key)
    if panel is None or panel["knn_binary"] != panel["knn_binary"]:
        return "–"
    return f"{100 * panel['knn_binary']:.1f}%"


def _rows(panels: dict[str, Any], titles: tuple[tuple[str, str], ...]) -> list[list[str]]:
    rows = []
    for key, title in titles:
        panel = panels.get(key)
        if panel is None:
            rows.append([title, "–", "–", "–", "–"])
            continue
        shares = [100 * v for v in panel["explained"]]
        knn = panel["knn_binary"]
        rows.append(
            [
                title,
                str(panel["dims"]),
                " + ".join(f"{v:.1f}%" for v in shares[:2]) + f" = {sum(shares[:2]):.1f}%",
                f"{shares[2]:.1f}%" if len(shares) > 2 else "–",
                "–" if knn != knn else f"{100 * knn:.1f}%",
            ]
        )
    return rows


HEADER = [
    "representation",
    "dimensions",
    "explained variance PC1 + PC2 (ours)",
    "PC3 (ours)",
    "10-NN positive vs negative in 2-D (ours)",
]


def render(result: dict[str, Any], ctx: Context) -> list[Block]:
    """The report blocks for ``result``; draws the stage's figures into ``ctx.out``."""
    names = ctx.class_names
    png = "representations.png"
    _plot(result, names, ctx.out / png, ctx.settings.dpi)
    panels = result["panels"]
    best = max(
        (k for k, _ in PANELS if k in panels),
        key=lambda k: np.nan_to_num(panels[k]["knn_binary"], nan=-1.0),
    )
    titles = dict(PANELS)
    blocks: list[Block] = [
        Para(
            f"All {len(result['labels'])} test sentences, relevance for the "
            f"**{result['target']}** class (the paper's footnote to Fig. 1: the true class); "
            "Occlusion is P-diff with the word's embedding zeroed, as in the paper; points "
            "coloured by the true class. Whitened PCA: projection on the first two principal "
            "components, each scaled to unit variance."
        ),
        Image(png, "sentence representations, whitened PCA"),
        Table(HEADER, _rows(panels, PANELS)),
        Para(
            "**Paper.** 2019 Fig. 1 shows these six projections and prints, for each, the "
            "share of the variance its principal components explain. Those percentages exist "
            "in the paper but were not available to us (no copy of the paper's text here), so "
            "they are not quoted beside ours. **Ours**: the 2-D projection that best separates "
            "positive from negative sentences (10-NN) is "
            f"*{titles[best]}* ({100 * panels[best]['knn_binary']:.1f}%); the plain average "
            f"reaches {_knn_text(result, 'average')}. The vectors are built with the true "
            "class, so they carry label information the average does not have; that they "
            "separate the classes better is expected."
        ),
    ]
    variant = result.get("variant")
    if variant:
        blocks += [
            Para(
                f"**Variant (our earlier setting, not the paper's)**: target the "
                f"**{result['variant_target']}** class, Occlusion f-diff, and R(h_T) without "
                "the factor h_T. Its numbers, to show what the protocol change does:"
            ),
            Table(HEADER, _rows(variant, VARIANT_PANELS)),
        ]
    return blocks
