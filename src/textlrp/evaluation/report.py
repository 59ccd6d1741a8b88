"""The faithfulness table as text, Markdown and JSON, and one plot per metric.

Everything here renders the JSON-ready summary of
:func:`textlrp.evaluation.evaluate_faithfulness`, so a saved ``faithfulness.json`` can be
re-rendered without recomputing it (:func:`write_report`).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

RANDOM = "random"
JSON_NAME = "faithfulness.json"
MARKDOWN_NAME = "report.md"
COLORS = [  # matplotlib's tab10 without its grey, which marks the random baseline
    "#d62728", "#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd",
    "#8c564b", "#e377c2", "#bcbd22", "#17becf", "#000000",
]  # fmt: skip


def metric_columns(summary: dict[str, Any]) -> list[str]:
    return list(summary["metrics"])


def row_order(summary: dict[str, Any]) -> list[str]:
    """Methods by mean rank (best first), the random baseline last."""
    ranks = summary["ranking"]["mean_rank"]
    names = [n for n in summary["methods"] if n != RANDOM]
    names.sort(key=lambda n: (ranks.get(n, math.inf), n))
    return names + ([RANDOM] if RANDOM in summary["methods"] else [])


def _arrow(better: str) -> str:
    return "↑" if better == "higher" else "↓"


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _cell(stat: dict[str, Any] | None, with_se: bool) -> str:
    if stat is None or _missing(stat["mean"]):
        return "–"
    text = f"{stat['mean']:.3f}"
    if with_se and not _missing(stat.get("se")):
        text += f" ± {stat['se']:.3f}"
    return text


def json_ready(value: Any) -> Any:
    """``value`` with NaN/inf floats replaced by ``None`` (strict JSON has no NaN)."""
    if isinstance(value, dict):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _label(name: str, summary: dict[str, Any]) -> str:
    if name == RANDOM:
        return f"random (mean of {summary['settings']['seeds']} seeds)"
    return name


def table(
    summary: dict[str, Any], with_se: bool = True, short: bool = False
) -> tuple[list[str], list[list[str]]]:
    """Header and rows: one row per method, one column per metric, then the mean rank."""
    columns = metric_columns(summary)
    key = "short" if short else "label"
    header = ["method"]
    header += [
        f"{summary['metrics'][m].get(key, m)} {_arrow(summary['metrics'][m]['better'])}"
        for m in columns
    ]
    header.append("mean rank ↓")
    ranks = summary["ranking"]["mean_rank"]
    rows = []
    for name in row_order(summary):
        metrics = summary["methods"][name]["metrics"]
        row = [_label(name, summary)]
        row += [_cell(metrics.get(m), with_se) for m in columns]
        row.append(f"{ranks[name]:.1f}" if name in ranks else "–")
        rows.append(row)
    return header, rows


def render_terminal(summary: dict[str, Any]) -> str:
    """An aligned plain-text table (means only) with the best method per metric below it."""
    header, rows = table(summary, with_se=False, short=True)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in [header, *rows]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.append("")
    lines.append(verdict(summary))
    return "\n".join(lines)


def render_markdown_table(summary: dict[str, Any]) -> str:
    header, rows = table(summary, with_se=True)
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join([":---"] + ["---:"] * (len(header) - 1)) + "|",
    ]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def verdict(summary: dict[str, Any]) -> str:
    """Which method is best per metric and overall (lowest mean rank), as measured."""
    ranking = summary["ranking"]
    parts = [f"{summary['metrics'][m]['label']}: {name}" for m, name in ranking["best"].items()]
    overall = ranking["overall"]
    text = "Best per metric: " + "; ".join(parts) + "."
    if overall is not None:
        text += (
            f" Overall (lowest mean rank over the faithfulness metrics): {overall} "
            f"(mean rank {ranking['mean_rank'][overall]:.1f})."
        )
    return text


def margin_lines(summary: dict[str, Any]) -> list[str]:
    """Markdown bullets: each metric's winner against the runner-up and random, paired."""
    margins = summary["ranking"].get("margins", {})
    lines = []
    for metric, entry in margins.items():
        label = summary["metrics"][metric]["label"]
        parts = []
        for key in ("runner_up", "random"):
            other = entry.get(key)
            if other is None or _missing(other["mean"]):
                continue
            se = "" if _missing(other["se"]) else f" ± {other['se']:.3f}"
            close = not _missing(other["se"]) and abs(other["mean"]) < 2 * other["se"]
            note = " (within 2 standard errors: no clear difference)" if close else ""
            parts.append(f"{_label(other['method'], summary)} by {other['mean']:+.3f}{se}{note}")
        if parts:
            lines.append(f"- {label}: {entry['best']} is ahead of " + " and of ".join(parts))
    if lines:
        lines = [
            "Margins of each metric's best method, paired over the same texts (positive: the "
            "best method is better; ± standard error of the mean difference):",
            "",
            *lines,
            "",
        ]
    below = below_random(summary)
    if below:
        lines += [
            "Worse than the random baseline: "
            + "; ".join(f"{m} on {', '.join(names)}" for m, names in below.items())
            + ".",
            "",
        ]
    return lines


def below_random(summary: dict[str, Any]) -> dict[str, list[str]]:
    """Methods whose mean is worse than the random baseline's, per method."""
    rows = summary["methods"]
    if RANDOM not in rows:
        return {}
    result: dict[str, list[str]] = {}
    for name, row in rows.items():
        if name == RANDOM:
            continue
        for metric, info in summary["metrics"].items():
            base = rows[RANDOM]["metrics"].get(metric)
            own = row["metrics"].get(metric)
            if base is None or own is None or _missing(base["mean"]) or _missing(own["mean"]):
                continue
            sign = 1.0 if info["better"] == "higher" else -1.0
            if sign * (own["mean"] - base["mean"]) < 0:
                result.setdefault(name, []).append(info["short"] if "short" in info else metric)
    return result


def render_markdown(summary: dict[str, Any], images: dict[str, str], title: str) -> str:
    """The whole report: settings, table, verdict, plots; definitions live in the docs."""
    s = summary["settings"]
    removal = "zeroing its embedding" if s["removal"] == "zero" else "dropping it"
    lines = [f"# {title}", ""]
    source = [f"{key}: {s[key]}" for key in ("model", "input") if s.get(key) not in (None, "None")]
    if s.get("limit"):
        source.append(f"the first {s['limit']} texts only (--limit {s['limit']})")
    if source:
        text = "; ".join(source)
        lines += [text[0].upper() + text[1:] + ".", ""]
    lines.append(
        f"{s['sentences']} texts ({s['tokens']} tokens"
        + (f"; {len(s['skipped_texts'])} skipped" if s["skipped_texts"] else "")
        + f"), target class: {s['target']}, metrics on the target's softmax probability. "
        f"Removing a token: {removal}. "
        f"Comprehensiveness and sufficiency: AOPC over k = 1..{s['k_max']}% of each text's "
        f"tokens. Random baseline: mean of {s['seeds']} seeds (± is the mean standard error of "
        f"one seed; the spread between seeds is in the JSON). dtype {s['dtype']}."
    )
    lines.append("")
    lines.append(
        "Values are means over texts ± their standard error. Definitions and sources: "
        "docs/evaluation.md."
    )
    lines.append("")
    lines.append(render_markdown_table(summary))
    lines.append("")
    lines.append(verdict(summary))
    lines.append("")
    lines += margin_lines(summary)
    if s.get("skipped_methods"):
        for name, why in s["skipped_methods"].items():
            lines.append(f"- skipped {name}: {why}")
        lines.append("")
    options = {n: o for n, o in s.get("method_options", {}).items() if o}
    if options:
        lines.append(
            "Method options (all others at their defaults): "
            + "; ".join(f"{n}: {json.dumps(o)}" for n, o in options.items())
            + "."
        )
        lines.append("")
    times = [
        f"{n} {sum(row['seconds'].values()):.0f} s"
        for n, row in summary["methods"].items()
        if row.get("seconds")
    ]
    lines.append(
        f"Time: {s['seconds_total']:.0f} s in all ({s['seconds_shared']:.0f} s shared "
        "set-up: full, empty and leave-one-out copies); per method (explanations + metrics"
        + (" + randomised model" if s.get("randomization") else "")
        + "): "
        + ", ".join(times)
        + "."
    )
    lines.append("")
    for metric, path in images.items():
        lines.append(f"![{summary['metrics'].get(metric, {}).get('label', metric)}]({path})")
        lines.append("")
    return "\n".join(lines)


# ------------------------------------------------------------------ plots
def _figure(width: float = 6.4, height: float = 4.0):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height))
    FigureCanvasAgg(figure)
    return figure


def _styles(names: list[str]) -> dict[str, dict[str, Any]]:
    styles = {}
    for i, name in enumerate(n for n in names if n != RANDOM):
        styles[name] = {"color": COLORS[i % len(COLORS)], "linestyle": "-"}
    styles[RANDOM] = {"color": "#555555", "linestyle": "--"}
    return styles


def plot_metric(summary: dict[str, Any], metric: str, path: Path, dpi: int = 110) -> Path:
    """One PNG for ``metric``: curves for the four perturbation metrics, bars otherwise."""
    names = row_order(summary)
    styles = _styles(names)
    figure = _figure()
    ax = figure.subplots()
    info = summary["metrics"][metric]
    curve_key = {
        "comprehensiveness": "comprehensiveness",
        "sufficiency": "sufficiency",
        "deletion_auc": "deletion",
        "insertion_auc": "insertion",
    }.get(metric)
    if curve_key is not None:
        for name in names:
            curve = summary["methods"][name]["curves"][curve_key]
            value = summary["methods"][name]["metrics"][metric]["mean"]
            if curve_key in ("comprehensiveness", "sufficiency"):
                x = list(range(1, len(curve) + 1))
            else:
                x = [i / (len(curve) - 1) for i in range(len(curve))]
            ax.plot(x, curve, label=f"{_label(name, summary)} ({value:.3f})", **styles[name])
        if curve_key in ("comprehensiveness", "sufficiency"):
            ax.set_xlabel("k (% of each text's tokens, most relevant first)")
            ax.set_ylabel(f"mean {curve_key} (Δ probability)")
        else:
            verb = "removed" if curve_key == "deletion" else "inserted"
            ax.set_xlabel(f"fraction of tokens {verb}, most relevant first")
            ax.set_ylabel("mean probability of the target class")
        ax.legend(fontsize=7, title=f"{'AOPC' if 'auc' not in metric else 'AUC'}", title_fontsize=7)
    else:
        shown = [n for n in names if metric in summary["methods"][n]["metrics"]]
        means = [summary["methods"][n]["metrics"][metric]["mean"] for n in shown]
        errors = [summary["methods"][n]["metrics"][metric]["se"] for n in shown]
        means = [float("nan") if _missing(m) else m for m in means]
        errors = [0.0 if _missing(e) else e for e in errors]
        positions = list(range(len(shown)))
        ax.barh(positions, means, xerr=errors, color=[styles[n]["color"] for n in shown])
        ax.set_yticks(positions, [_label(n, summary) for n in shown], fontsize=8)
        ax.invert_yaxis()
        ax.axvline(0.0, color="black", linewidth=0.8)
        ax.set_xlabel("mean Spearman ρ over texts (± standard error)")
    ax.set_title(f"{info['label']} ({info['better']} is better)", fontsize=10)
    ax.grid(alpha=0.3)
    figure.savefig(path, dpi=dpi, bbox_inches="tight", facecolor="white")
    return path


def write_report(
    summary: dict[str, Any], out: Path, title: str = "Faithfulness of explanation methods"
) -> dict[str, Path]:
    """Write ``faithfulness.json``, ``report.md`` and one ``<metric>.png`` per metric."""
    out.mkdir(parents=True, exist_ok=True)
    written = {"json": out / JSON_NAME}
    text = json.dumps(json_ready(summary), indent=1, allow_nan=False)
    written["json"].write_text(text, encoding="utf-8")
    images = {}
    for metric in metric_columns(summary):
        written[metric] = plot_metric(summary, metric, out / f"{metric}.png")
        images[metric] = f"{metric}.png"
    written["markdown"] = out / MARKDOWN_NAME
    written["markdown"].write_text(render_markdown(summary, images, title), encoding="utf-8")
    return written
