"""Corpus insight from an explain-corpus file: which words matter, where, and for what errors.

Each function streams the Parquet file in record batches (only the columns it needs) and
aggregates with pyarrow's group-by, so memory grows with the number of distinct
(method, class, word) keys, not with the corpus. Results are pandas DataFrames;
:func:`write_report` renders them as Markdown, HTML (every token escaped, cells coloured with
the relevance colours of :mod:`textlrp.viz`) and a PNG of relevance by position.
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from textlrp.corpus._deps import pyarrow, require
from textlrp.errors import InputError

pa = pyarrow()
import pyarrow.compute as pc  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

ROW_COLUMNS = (
    "method",
    "target_name",
    "predicted",
    "predicted_name",
    "target",
    "label",
    "label_name",
)


def _token_batches(source: str | Path, method: str | None) -> Iterator[Any]:
    """One Arrow table per record batch: a row per token with its document's columns."""
    path = Path(source)
    if not path.is_file():
        raise InputError(f"no corpus file {path}; write one with `textlrp explain-corpus`")
    try:
        file = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"{path} is not a readable Parquet file ({exc})") from None
    missing = {"tokens", "relevance", *ROW_COLUMNS} - set(file.schema_arrow.names)
    if missing:
        raise InputError(
            f"{path} lacks column(s) {', '.join(sorted(missing))}; is it an explain-corpus file?"
        )
    for batch in file.iter_batches(batch_size=8192, columns=["tokens", "relevance", *ROW_COLUMNS]):
        table = pa.Table.from_batches([batch])
        if method is not None:
            table = table.filter(pc.equal(table["method"], method))
        if table.num_rows == 0:
            continue
        tokens = table["tokens"].combine_chunks()
        parents = pc.list_parent_indices(tokens)
        lengths = pc.list_value_length(tokens).to_numpy(zero_copy_only=False)
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        positions = np.arange(int(lengths.sum())) - np.repeat(starts, lengths)
        columns = {
            "word": pc.list_flatten(tokens),
            "relevance": pc.cast(
                pc.list_flatten(table["relevance"].combine_chunks()), pa.float64()
            ),
            "position": pa.array(positions, pa.int64()),
            "length": pa.array(np.repeat(lengths, lengths), pa.int64()),
        }
        for name in ROW_COLUMNS:
            columns[name] = pc.take(table[name], parents)
        yield pa.table(columns)


def _grouped(parts: list[Any], keys: list[str]) -> Any:
    """Re-group partial (sum, count) tables from several batches into one."""
    pd = require("pandas", "corpus")
    if not parts:
        return pd.DataFrame(columns=[*keys, "count", "total", "mean"])
    table = (
        pa.concat_tables(parts)
        .group_by(keys)
        .aggregate([("relevance_sum", "sum"), ("relevance_count", "sum")])
    )
    frame = table.to_pandas().rename(
        columns={"relevance_sum_sum": "total", "relevance_count_sum": "count"}
    )
    frame["mean"] = frame["total"] / frame["count"]
    return frame[[*keys, "count", "total", "mean"]]


def _partial(table: Any, keys: list[str]) -> Any:
    return table.group_by(keys).aggregate([("relevance", "sum"), ("relevance", "count")])


def _top(frame: Any, group: list[str], by: str, top: int, min_count: int) -> Any:
    frame = frame[frame["count"] >= min_count]
    frame = frame.sort_values([*group, by, "word"], ascending=[True] * len(group) + [False, True])
    return frame.groupby(group, sort=True).head(top).reset_index(drop=True)


def top_words(
    source: str | Path,
    method: str | None = None,
    min_count: int = 5,
    top: int = 20,
    by: str = "mean",
) -> Any:
    """Per method and explained class (``target_name``): words with the highest ``by``
    (``mean`` or ``total`` relevance) among words seen at least ``min_count`` times."""
    if by not in ("mean", "total"):
        raise InputError("by must be 'mean' or 'total'")
    keys = ["method", "target_name", "word"]
    parts = [_partial(t, keys) for t in _token_batches(source, method)]
    parts = [p.rename_columns([*keys, "relevance_sum", "relevance_count"]) for p in parts]
    return _top(_grouped(parts, keys), ["method", "target_name"], by, top, min_count)


def misclassification_words(
    source: str | Path, method: str | None = None, min_count: int = 3, top: int = 20
) -> Any:
    """Words that push towards a wrong prediction: relevance for the predicted class in
    misclassified documents (rows with a label, target = predicted ≠ label), per predicted
    class, with the same word's mean relevance for that class where the prediction was right
    (``mean_when_correct``) for contrast."""
    pd = require("pandas", "corpus")
    keys = ["method", "target_name", "word"]
    wrong, right = [], []
    labelled = False
    for table in _token_batches(source, method):
        has_label = pc.is_valid(table["label"])
        labelled = labelled or bool(pc.any(has_label).as_py())
        explained_prediction = pc.and_(has_label, pc.equal(table["target"], table["predicted"]))
        mistaken = pc.not_equal(table["predicted"], table["label"])
        for sink, condition in (
            (wrong, pc.and_(explained_prediction, mistaken)),
            (right, pc.and_(explained_prediction, pc.invert(mistaken))),
        ):
            part = table.filter(condition)
            if part.num_rows:
                sink.append(
                    _partial(part, keys).rename_columns([*keys, "relevance_sum", "relevance_count"])
                )
    if not labelled:
        raise InputError("the corpus has no labels; rerun explain-corpus with --label-column")
    frame = _grouped(wrong, keys)
    correct = _grouped(right, keys)[[*keys, "mean"]].rename(columns={"mean": "mean_when_correct"})
    frame = frame.merge(correct, on=keys, how="left")
    frame = frame.rename(columns={"target_name": "predicted_name"})
    result = _top(frame, ["method", "predicted_name"], "mean", top, min_count)
    return pd.DataFrame(result)


def relevance_by_position(source: str | Path, method: str | None = None, bins: int = 10) -> Any:
    """Mean relevance and mean |relevance| by relative position in the document, ``bins``
    equal bins of (position + 0.5) / length, per method."""
    if bins < 1:
        raise InputError("bins must be at least 1")
    keys = ["method", "bin"]
    parts = []
    for table in _token_batches(source, method):
        relative = (table["position"].to_numpy() + 0.5) / table["length"].to_numpy()
        bin_index = np.minimum((relative * bins).astype(np.int64), bins - 1)
        values = table["relevance"].to_numpy()
        small = pa.table(
            {
                "method": table["method"],
                "bin": bin_index,
                "relevance": values,
                "absolute": np.abs(values),
            }
        )
        parts.append(
            small.group_by(keys).aggregate(
                [("relevance", "sum"), ("relevance", "count"), ("absolute", "sum")]
            )
        )
    pd = require("pandas", "corpus")
    if not parts:
        return pd.DataFrame(columns=[*keys, "start", "end", "count", "mean", "mean_abs"])
    table = (
        pa.concat_tables(parts)
        .group_by(keys)
        .aggregate([("relevance_sum", "sum"), ("relevance_count", "sum"), ("absolute_sum", "sum")])
    )
    frame = table.to_pandas()
    frame["count"] = frame["relevance_count_sum"]
    frame["mean"] = frame["relevance_sum_sum"] / frame["count"]
    frame["mean_abs"] = frame["absolute_sum_sum"] / frame["count"]
    frame["start"] = frame["bin"] / bins
    frame["end"] = (frame["bin"] + 1) / bins
    frame = frame.sort_values(keys).reset_index(drop=True)
    return frame[[*keys, "start", "end", "count", "mean", "mean_abs"]]


# --------------------------------------------------------------------------- report
def write_report(
    source: str | Path,
    out_dir: str | Path,
    method: str | None = None,
    min_count: int = 5,
    top: int = 15,
    bins: int = 10,
    title: str | None = None,
) -> dict[str, Path]:
    """Markdown, HTML and PNG summaries of a corpus file in ``out_dir``; returns their paths."""
    from textlrp.corpus import corpus_metadata

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    meta = corpus_metadata(source)
    words = top_words(source, method, min_count, top)
    try:
        mistakes = misclassification_words(source, method, max(1, min_count // 2), top)
    except InputError:
        mistakes = None
    position = relevance_by_position(source, method, bins)
    title = title or f"Corpus report: {Path(source).name}"
    png = out_dir / "position.png"
    _position_png(position, png)
    md = out_dir / "report.md"
    md.write_text(_markdown(title, meta, words, mistakes, position, min_count), encoding="utf-8")
    page = out_dir / "report.html"
    page.write_text(_html(title, meta, words, mistakes, position, min_count), encoding="utf-8")
    return {"markdown": md, "html": page, "png": png}


def _groups(frame: Any, class_column: str, class_names: list[str]) -> list[tuple[Any, Any]]:
    """(method, class) groups: methods by name, classes in the model's order."""
    rank = {name: k for k, name in enumerate(class_names)}
    groups = list(frame.groupby(["method", class_column], sort=True))
    return sorted(groups, key=lambda g: (g[0][0], rank.get(g[0][1], len(rank)), g[0][1]))


def _number(value: float, digits: int = 3) -> str:
    return "–" if value != value else f"{value:.{digits}f}"  # NaN: no such rows


def _md_cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _markdown(title, meta, words, mistakes, position, min_count) -> str:
    lines = [
        f"# {title}",
        "",
        f"Model `{meta.get('model')}` (hash `{meta.get('model_hash')}`), "
        f"textlrp {meta.get('textlrp_version')}.",
        "",
    ]
    lines += [f"## Most relevant words per explained class (seen ≥ {min_count} times)", ""]
    for (method, cls), group in _groups(words, "target_name", meta.get("class_names", [])):
        lines += [
            f"### {method}: {cls}",
            "",
            "| word | mean | total | count |",
            "|---|---:|---:|---:|",
        ]
        lines += [
            f"| {_md_cell(r.word)} | {r.mean:.3f} | {r.total:.2f} | {r.count} |"
            for r in group.itertuples()
        ]
        lines.append("")
    if mistakes is not None:
        lines += [
            "## Words pushing towards misclassification",
            "",
            "Relevance for the (wrong) predicted class in misclassified documents; "
            "`when correct`: the same word's mean relevance for that class where the "
            "prediction was right.",
            "",
        ]
        classes = meta.get("class_names", [])
        for (method, cls), group in _groups(mistakes, "predicted_name", classes):
            lines += [
                f"### {method}: wrongly predicted {cls}",
                "",
                "| word | mean | when correct | count |",
                "|---|---:|---:|---:|",
            ]
            lines += [
                f"| {_md_cell(r.word)} | {r.mean:.3f} | {_number(r.mean_when_correct)} | "
                f"{r.count} |"
                for r in group.itertuples()
            ]
            lines.append("")
    lines += [
        "## Relevance by relative position",
        "",
        "![relevance by position](position.png)",
        "",
        "| method | position | mean | mean abs | tokens |",
        "|---|---|---:|---:|---:|",
    ]
    lines += [
        f"| {r.method} | {r.start:.1f}–{r.end:.1f} | {r.mean:.4f} | {r.mean_abs:.4f} | {r.count} |"
        for r in position.itertuples()
    ]
    return "\n".join(lines) + "\n"


def _colored_word(word: str, value: float, scale: float) -> str:
    from textlrp.viz.colors import contrast_text_color, intensity_to_rgb, rgb_to_hex

    background = intensity_to_rgb(value / scale if scale else 0.0)
    foreground = rgb_to_hex(contrast_text_color(background))
    return (
        f'<span style="background:{rgb_to_hex(background)};color:{foreground};'
        f'padding:0 3px">{html.escape(str(word))}</span>'
    )


def _html_table(frame, extra: str, extra_name: str) -> str:
    scale = float(frame["mean"].abs().max()) if len(frame) else 0.0
    rows = "".join(
        f"<tr><td>{_colored_word(r.word, r.mean, scale)}</td><td>{r.mean:.3f}</td>"
        f"<td>{_number(getattr(r, extra))}</td><td>{r.count}</td></tr>"
        for r in frame.itertuples()
    )
    return (
        f"<table><tr><th>word</th><th>mean</th><th>{html.escape(extra_name)}</th>"
        f"<th>count</th></tr>{rows}</table>"
    )


def _html(title, meta, words, mistakes, position, min_count) -> str:
    e = html.escape
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{e(title)}</title>",
        "<style>body{font-family:sans-serif;max-width:70em;margin:2em auto}"
        "table{border-collapse:collapse;margin:0 2em 1em 0;display:inline-table;"
        "vertical-align:top}td,th{padding:2px 8px;text-align:right}"
        "td:first-child{text-align:left}</style></head><body>",
        f"<h1>{e(title)}</h1><p>Model <code>{e(str(meta.get('model')))}</code> (hash "
        f"<code>{e(str(meta.get('model_hash')))}</code>), textlrp "
        f"{e(str(meta.get('textlrp_version')))}. Red: relevance for the class, blue: "
        "against.</p>",
        f"<h2>Most relevant words per explained class (seen ≥ {min_count} times)</h2>",
    ]
    for (method, cls), group in _groups(words, "target_name", meta.get("class_names", [])):
        parts.append(
            f"<div style='display:inline-block'><h3>{e(method)}: {e(cls)}</h3>"
            f"{_html_table(group, 'total', 'total')}</div>"
        )
    if mistakes is not None:
        parts.append(
            "<h2>Words pushing towards misclassification</h2><p>Relevance for the "
            "(wrong) predicted class in misclassified documents, beside the word's "
            "mean relevance for that class where the prediction was right.</p>"
        )
        classes = meta.get("class_names", [])
        for (method, cls), group in _groups(mistakes, "predicted_name", classes):
            parts.append(
                f"<div style='display:inline-block'><h3>{e(method)}: wrongly "
                f"predicted {e(cls)}</h3>"
                f"{_html_table(group, 'mean_when_correct', 'when correct')}</div>"
            )
    parts.append(
        "<h2>Relevance by relative position</h2><img src='position.png' "
        "alt='relevance by position'>"
    )
    parts.append("</body></html>")
    return "\n".join(parts)


def _position_png(position, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from textlrp.viz.colors import BLUE, RED

    figure, axis = plt.subplots(figsize=(6, 3.2), dpi=100)
    methods = list(position.groupby("method", sort=True))
    palette = plt.get_cmap("tab10").colors
    for k, (method, group) in enumerate(methods):
        # One method: the heatmaps' red/blue; several: one colour per method.
        mean_color, abs_color = (RED, BLUE) if len(methods) == 1 else (palette[k % 10],) * 2
        centres = (group["start"] + group["end"]) / 2
        axis.plot(centres, group["mean"], marker="o", label=f"{method}: mean", color=mean_color)
        axis.plot(
            centres,
            group["mean_abs"],
            marker="s",
            linestyle="--",
            label=f"{method}: mean |R|",
            color=abs_color,
        )
    axis.axhline(0, color="grey", linewidth=0.5)
    axis.set_xlabel("relative position in the document")
    axis.set_ylabel("relevance per token")
    axis.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
