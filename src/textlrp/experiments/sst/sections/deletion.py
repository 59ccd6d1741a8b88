"""Report section of stage ``deletion``: tables, figures and prose from its cached result.

The numbers come from :func:`textlrp.experiments.sst.deletion.compute`; nothing here computes
relevance or runs the model, so the text can be changed and re-rendered from the cache.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from textlrp.experiments.document import Block, Heading, Image, Para, Table
from textlrp.experiments.sst.common import Context, method_specs, new_figure, save_figure
from textlrp.experiments.sst.deletion import (
    CURVE_METHODS,
    MODES,
    PAPER_MODE,
    PAPER_TABLE3,
    REFERENCE,
    REPRODUCED_WITHIN,
    table3,
)


def _spearman(a: list[float], b: list[float]) -> float:
    ra = np.argsort(np.argsort(a)).astype(float)
    rb = np.argsort(np.argsort(b)).astype(float)
    if ra.std() == 0 or rb.std() == 0:
        return float("nan")
    return float(np.corrcoef(ra, rb)[0, 1])


def _plot(mode_result: dict[str, Any], specs, mode: str, path, dpi: int, seeds: int) -> None:
    figure = new_figure(9.5, 3.6)
    axes = figure.subplots(1, 2)
    styles = {
        "gradient": ("#2a9d8f", "s"),
        "lrp": ("#c0392b", "o"),
        "lrp_cons": ("#8e44ad", "^"),
        "random": ("#555555", "x"),
    }
    for ax, curve_key, title in (
        (axes[0], "correct", "initially correct: delete most relevant first"),
        (axes[1], "wrong", "initially wrong: delete least relevant first"),
    ):
        for key in (*CURVE_METHODS, "random"):
            values = mode_result[key][curve_key]
            color, marker = styles[key]
            label = f"random ({seeds} runs)" if key == "random" else specs[key].label
            ax.plot(range(len(values)), values, marker=marker, color=color, label=label)
            if key == "random":
                std = np.array(mode_result[key][curve_key + "_std"])
                mean = np.array(values)
                ax.fill_between(
                    range(len(values)), mean - std, mean + std, color=color, alpha=0.15, linewidth=0
                )
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("words deleted")
        ax.set_ylabel("accuracy (%)")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    figure.suptitle(
        "Word deletion "
        + (
            "(dropping the word: our variant)"
            if mode == "drop"
            else "(zero embedding, as the papers)"
        ),
        fontsize=11,
    )
    save_figure(figure, path, dpi)


def _fmt(value: float) -> str:
    if value != value:
        return "–"
    text = f"{value:.0f}"
    return "0" if text == "-0" else text


def render(result: dict[str, Any], ctx: Context) -> list[Block]:
    """The report blocks for ``result``; draws the stage's figures into ``ctx.out``."""
    s = ctx.settings
    specs = method_specs(s)
    keys = ["random", *specs]
    labels = ["random", *[specs[k].label for k in specs]]
    blocks: list[Block] = [
        Para(
            f"{result['n']} test sentences of ≥ {s.min_deletion_length} words (the papers: 1849); "
            f"{result['n_correct']} initially correct, {result['n_wrong']} initially wrong. "
            "Relevance for the true class on the unchanged sentence. Occlusion relevance is "
            "computed with the same kind of removal as the deletion (zeroed or dropped word). "
            "**Setting**: both papers delete a word by zeroing its embedding (the 2019 paper "
            "defines occlusion that way too), so *zero* is the main row below; *drop* (the word "
            "removed, the sentence one word shorter) is our variant, shown for comparison. "
            f"Integrated Gradients uses {s.ig_steps} Gauss–Legendre points (instead of 50, to "
            "save time): its attributions sum to f(x) − f(0) up to a relative error of "
            f"{100 * result.get('ig_completeness', float('nan')):.2f}% (mean over the "
            f"sentences). Random: mean of {s.seeds} random orders."
        )
    ]
    ks = s.table_deletions
    scores = {mode: table3(result["modes"][mode], ks) for mode in MODES}
    rows = []
    for direction in ("decreasing", "increasing"):
        paper = PAPER_TABLE3[direction]
        rows.append(
            [f"{direction}: paper (zero)"] + [str(paper[k]) if k in paper else "–" for k in keys]
        )
        for mode in MODES:
            norm = scores[mode][direction + "_normalized"]
            name = "ours (zero)" if mode == PAPER_MODE else "ours (drop; our variant)"
            rows.append([f"{direction}: {name}"] + [_fmt(norm[k]) for k in keys])
    blocks.append(
        Heading(
            "2019 Table 3: accuracy change over 1–3 deletions (random = 0, Occlusion P-diff = 100)",
            3,
        )
    )
    blocks.append(Table([""] + labels, rows))
    raw_rows = []
    for mode in MODES:
        for direction in ("decreasing", "increasing"):
            raw = scores[mode][direction]
            raw_rows.append([f"{direction} ({mode})"] + [f"{raw[k]:.1f}" for k in keys])
    blocks.append(
        Para(
            "Raw numbers behind the table: mean accuracy (%) after 1, 2 and 3 deletions "
            "(initially correct sentences for *decreasing*, initially wrong for *increasing*)."
        )
    )
    blocks.append(Table([""] + labels, raw_rows))
    blocks += _discussion(scores, result, keys, specs)
    blocks.append(Heading("2017 Fig. 3: accuracy after 0–5 deletions", 3))
    for mode in MODES:
        png = f"deletion_{mode}.png"
        _plot(result["modes"][mode], specs, mode, ctx.out / png, s.dpi, s.seeds)
        blocks.append(Image(png, f"word deletion, {mode}"))
    curve_rows = []
    for mode in MODES:
        for key in (*CURVE_METHODS, "random"):
            label = "random" if key == "random" else specs[key].label
            for curve_key in ("correct", "wrong"):
                values = result["modes"][mode][key][curve_key]
                curve_rows.append([mode, label, curve_key] + [f"{v:.1f}" for v in values])
    blocks.append(
        Table(
            ["mode", "method", "sentences"] + [f"k={k}" for k in range(s.max_deletions + 1)],
            curve_rows,
        )
    )
    blocks.append(Para(_fig3_claims(scores[PAPER_MODE])))
    return blocks


def _fig3_claims(main: dict[str, dict[str, float]]) -> str:
    """The papers' claims about LRP, SA and random deletion, checked on our zero-mode numbers."""
    dec, inc = main["decreasing"], main["increasing"]
    lrp_faster = dec["lrp"] < dec["gradient"] and dec["lrp"] < dec["random"]
    lrp_rises = inc["lrp"] > inc["gradient"] and inc["lrp"] > inc["random"]
    sa_worse = inc["gradient"] < inc["random"]
    verdict = (
        "reproduces" if sa_worse else "does **not** reproduce: here SA does better than random"
    )
    return (
        "**Paper (2017 Fig. 3)**: deleting the words LRP marks as most relevant lowers the "
        "accuracy on initially correct sentences faster than SA or random deletion, and "
        "deleting LRP's least relevant words of initially wrong sentences raises it faster; "
        'on the initially wrong sentences "SA performs even worse than random" (2019 Table 3: '
        "−18). **Ours (zero, 1–3 deletions)**: LRP-all lowers the accuracy of the initially "
        f"correct sentences to {dec['lrp']:.1f}% (SA {dec['gradient']:.1f}%, random "
        f"{dec['random']:.1f}%) — {'reproduces' if lrp_faster else 'does **not** reproduce'}; "
        f"it raises that of the initially wrong ones to {inc['lrp']:.1f}% (SA "
        f"{inc['gradient']:.1f}%, random {inc['random']:.1f}%) — "
        f"{'reproduces' if lrp_rises else 'does **not** reproduce'}. The claim that SA is "
        f"worse than random on the initially wrong sentences {verdict} "
        f"({inc['gradient']:.1f}% vs {inc['random']:.1f}%). SA is unsigned, so its low end "
        "holds words the score is insensitive to, which explains why it is no better than "
        "LRP there, but not whether it falls below random: that depends on the model."
    )


def _discussion(scores, result, keys, specs) -> list[Block]:
    """Data-driven comparison with the paper's row: rank agreement and largest gaps."""
    notes = []
    main = scores[PAPER_MODE]
    spans = {}
    for direction in ("decreasing", "increasing"):
        paper = PAPER_TABLE3[direction]
        common = [k for k in keys if k in paper and k not in ("random", REFERENCE)]
        ours = [main[direction + "_normalized"][k] for k in common]
        theirs = [paper[k] for k in common]
        rho = _spearman(ours, theirs)
        gaps = sorted(
            (
                (abs(o - p), specs[k].label, o, p)
                for k, o, p in zip(common, ours, theirs, strict=True)
                if o == o
            ),
            reverse=True,
        )[:3]
        spans[direction] = main[direction]["occlusion_p"] - main[direction]["random"]
        off = [
            f"{specs[k].label} {o:.0f} vs {p}"
            for k, o, p in zip(common, ours, theirs, strict=True)
            if o == o and abs(o - p) > REPRODUCED_WITHIN
        ]
        notes.append(
            f"*{direction}* (zero): rank correlation of our row with the paper's over the "
            f"{len(common)} methods between the two anchors: {rho:+.2f}. Largest differences: "
            + ", ".join(f"{label} {o:.0f} (paper {p})" for _, label, o, p in gaps)
            + ". "
            + (
                f"**Not reproduced** (more than {REPRODUCED_WITHIN} normalized points from "
                f"the paper): {'; '.join(off)}."
                if off
                else f"Every method lies within {REPRODUCED_WITHIN} normalized points of the "
                "paper's value."
            )
        )
    notes.append(
        "Why numbers can differ: (1) our model is another training run of the same "
        "architecture (our embeddings and recipe), and how well a method's ranking predicts "
        "the effect of a deletion depends on the model; the paper, too, reports a single "
        "model. (2) One normalized point is 1/100 of the gap between Occlusion P-diff and "
        f"random, here {abs(spans['decreasing']):.1f} accuracy points (decreasing) and "
        f"{abs(spans['increasing']):.1f} (increasing), measured on "
        f"{result['n_correct']} and {result['n_wrong']} sentences: a difference of 10 "
        f"normalized points is about {abs(spans['decreasing']) / 10:.1f} and "
        f"{abs(spans['increasing']) / 10:.1f} accuracy points. (3) The anchor Occlusion "
        "P-diff removes first the word whose removal lowers the true class's probability most, "
        "which makes it strong on any model. Methods that lie close together in the paper "
        "(LRP-all, CD, Occlusion f-diff) can swap places on another model. We did not tune any "
        "setting towards the paper's values."
    )
    return [Para(n) for n in notes]
