"""Run the SST stages (cached, timed, with progress bars) and write ``report.md``/``report.html``.

Each stage module has ``NAME``, ``TITLE``, ``settings(ctx)`` and ``compute(ctx) -> dict`` (JSON,
cached); its report section, ``sections/<stage>.py``, has ``render(result, ctx) -> blocks``
(tables, prose, and figures drawn into the output folder). Computation and report writing are
apart: a new experiment is a compute module plus a section module, listed in ``STAGES``.
A stage's result is cached under the model's and the data's hashes plus its settings, so a
rerun after a crash recomputes only what is missing; within the expensive stages the
per-method relevance arrays are cached too.
"""

from __future__ import annotations

import datetime
import importlib
import platform
import sys
import time
from pathlib import Path
from typing import Any

import torch

from textlrp.data.sst import SST_SPLITS, find_sst_dir
from textlrp.errors import InputError, ModelError
from textlrp.experiments.cache import StageCache, file_digest
from textlrp.experiments.document import Block, Heading, Para, Table, to_html, to_markdown
from textlrp.experiments.sst import (
    accuracy,
    composition,
    deletion,
    heatmaps,
    position,
    representations,
    sections,
    top_words,
)
from textlrp.experiments.sst.common import Context, Settings
from textlrp.models import BUNDLED_MODEL, load_model

STAGES = (accuracy, heatmaps, top_words, deletion, position, composition, representations)
SECTIONS = {
    stage.NAME: importlib.import_module(f"{sections.__name__}.{stage.NAME}") for stage in STAGES
}
STAGE_NAMES = tuple(stage.NAME for stage in STAGES)
TITLE = "Reproducing the SST experiments of Arras et al. (2017, 2019) on textlrp's own model"


def build_context(
    out: str | Path,
    model_path: str | Path | None = None,
    data_dir: str | Path | None = None,
    cache_dir: str | Path | None = None,
    fresh: bool = False,
    progress: bool = True,
    settings: Settings | None = None,
    download: bool = True,
) -> Context:
    """Load the model (float32, eval mode), locate the data and open the cache."""
    path = Path(model_path) if model_path is not None else BUNDLED_MODEL
    digest = file_digest(path)
    model = load_model(path).float().eval()
    if file_digest(path) != digest:  # the cache key must describe the weights loaded
        raise ModelError(f"{path} changed while it was being loaded; run again")
    folder = find_sst_dir(data_dir, download=download)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    base = {
        "model": digest,
        "data": {split: file_digest(folder / f"{split}.txt") for split in SST_SPLITS},
    }
    cache = StageCache(Path(cache_dir) if cache_dir else out / "cache", base, enabled=not fresh)
    return Context(model, path, folder, out, cache, settings or Settings(), progress)


def run_report(ctx: Context, stages: tuple[str, ...] | list[str] = STAGE_NAMES) -> Path:
    """Compute (or load) the chosen stages, then write the report of every stage available.

    Stages not chosen are included when their cached result exists. Returns report.md.
    """
    unknown = sorted(set(stages) - set(STAGE_NAMES))
    if unknown:
        raise InputError(f"unknown stage(s) {', '.join(unknown)}; choose from {STAGE_NAMES}")
    started = time.perf_counter()
    results: dict[str, dict[str, Any]] = {}
    timing: dict[str, dict[str, Any]] = {}
    for stage in STAGES:
        settings = stage.settings(ctx)
        if stage.NAME not in stages:
            cached = ctx.cache.load_json(stage.NAME, settings)
            if cached is not None:
                results[stage.NAME] = cached
                timing[stage.NAME] = {"cached": True, "run": 0.0}
            continue
        print(f"[{stage.NAME}] running…", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        value, cached = ctx.cache.json(stage.NAME, settings, lambda s=stage: _timed(s, ctx))
        elapsed = time.perf_counter() - t0
        results[stage.NAME] = value
        timing[stage.NAME] = {"cached": cached, "run": elapsed}
        note = f" (from cache; computed in {value['_seconds']:.1f} s)" if cached else ""
        print(f"[{stage.NAME}] {elapsed:.1f} s{note}", file=sys.stderr, flush=True)

    body: list[Block] = []
    for stage in STAGES:
        if stage.NAME not in results:
            continue
        t0 = time.perf_counter()
        blocks = SECTIONS[stage.NAME].render(results[stage.NAME], ctx)
        timing[stage.NAME]["render"] = time.perf_counter() - t0
        info = timing[stage.NAME]
        body.append(Heading(stage.TITLE, 2))
        body.append(
            Para(
                f"*Stage `{stage.NAME}`: computed in {results[stage.NAME]['_seconds']:.1f} s"
                + (" (loaded from the cache in this run)" if info["cached"] else "")
                + f"; figures and tables drawn in {info['render']:.1f} s.*"
            )
        )
        body += blocks
    total = time.perf_counter() - started
    print(f"[report] total {total:.1f} s", file=sys.stderr, flush=True)
    blocks = _header(ctx, results, timing, total) + body
    report = ctx.out / "report.md"
    report.write_text(to_markdown(blocks), encoding="utf-8")
    (ctx.out / "report.html").write_text(to_html(blocks, TITLE), encoding="utf-8")
    return report


def _timed(stage, ctx: Context) -> dict[str, Any]:
    t0 = time.perf_counter()
    value = stage.compute(ctx)
    value["_seconds"] = time.perf_counter() - t0
    return value


def _header(
    ctx: Context, results: dict[str, Any], timing: dict[str, Any], total: float
) -> list[Block]:
    rows = []
    computed = 0.0
    for stage in STAGES:
        if stage.NAME not in results:
            rows.append([stage.NAME, "not run", "–", "–"])
            continue
        seconds = results[stage.NAME]["_seconds"]
        computed += seconds
        info = timing[stage.NAME]
        rows.append(
            [
                stage.NAME,
                f"{seconds:.1f}",
                "cache" if info["cached"] else "computed",
                f"{info['run'] + info.get('render', 0.0):.1f}",
            ]
        )
    rows.append(["**all stages**", f"{computed:.1f}", "", f"{total:.1f}"])
    try:
        model_name = str(ctx.model_path.relative_to(Path.cwd()))
    except ValueError:
        model_name = str(ctx.model_path)
    return [
        Heading(TITLE, 1),
        Para(
            "Generated by `textlrp reproduce sst`. Every table and figure of the papers' SST "
            "sections, recomputed on this project's bi-LSTM (the 2017 architecture, our own "
            "training run). The papers' numbers are quoted beside ours where this project has "
            "them (2017 accuracy, 2019 Table 3); for the other figures and word lists the "
            "paper's text is not available to us, so the report describes what the paper shows "
            "and says plainly that its values are not quoted. Every departure from the papers' "
            "protocol is flagged as ours, with its effect measured where we computed both. "
            "Where our numbers differ, the text says so and gives a likely reason; no setting "
            "was tuned towards the paper's numbers."
        ),
        Table(
            ["", ""],
            [
                ["model", f"`{model_name}` (sha256 {ctx.cache.base['model']})"],
                [
                    "data",
                    f"SST PTB trees in `{ctx.data_dir}`; test split, {len(ctx.test)} sentences",
                ],
                ["date", datetime.datetime.now().strftime("%Y-%m-%d %H:%M")],
                [
                    "software",
                    f"Python {platform.python_version()}, torch {torch.__version__}, "
                    f"{torch.get_num_threads()} CPU threads",
                ],
            ],
        ),
        Para(
            "Stage times in seconds: *computed* is the stage's own computation when it was "
            "computed (a stage also pays for any relevance arrays it is the first to need); "
            "*this run* adds loading and drawing the figures. Times depend on the machine and on "
            "what else runs on it."
        ),
        Table(["stage", "computed (s)", "this run", "this run (s)"], rows),
    ]
