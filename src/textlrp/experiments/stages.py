"""Run a reproduction's stages (cached, timed) and assemble their report sections.

A stage is a module with ``NAME``, ``TITLE``, ``settings(ctx)``, ``compute(ctx) -> dict``
(JSON, cached in ``ctx.cache``, a :class:`~textlrp.experiments.cache.StageCache`) and
``section(result, ctx) -> blocks`` (draws its figures into ``ctx.out``). Shared by every
``textlrp reproduce`` experiment, so each one is resumable per stage in the same way.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from typing import Any

from textlrp.errors import InputError
from textlrp.experiments.document import Block, Heading, Para

Results = dict[str, dict[str, Any]]
Timing = dict[str, dict[str, Any]]


def run_stages(ctx: Any, stages: Sequence[Any], chosen: Sequence[str]) -> tuple[Results, Timing]:
    """Compute (or load) the ``chosen`` stages, in order; other stages only from the cache."""
    names = [stage.NAME for stage in stages]
    unknown = sorted(set(chosen) - set(names))
    if unknown:
        raise InputError(f"unknown stage(s) {', '.join(unknown)}; choose from {tuple(names)}")
    results: Results = {}
    timing: Timing = {}
    for stage in stages:
        settings = stage.settings(ctx)
        if stage.NAME not in chosen:
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
    return results, timing


def _timed(stage: Any, ctx: Any) -> dict[str, Any]:
    t0 = time.perf_counter()
    value = stage.compute(ctx)
    value["_seconds"] = time.perf_counter() - t0
    return value


def stage_sections(
    ctx: Any, stages: Sequence[Any], results: Results, timing: Timing
) -> list[Block]:
    """Each available stage's heading, timing note and blocks (figures drawn now)."""
    body: list[Block] = []
    for stage in stages:
        if stage.NAME not in results:
            continue
        t0 = time.perf_counter()
        blocks = stage.section(results[stage.NAME], ctx)
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
    return body


def timing_rows(
    stages: Sequence[Any], results: Results, timing: Timing, total: float
) -> list[list[str]]:
    """Rows ``stage | computed (s) | this run | this run (s)`` plus a total row."""
    rows = []
    computed = 0.0
    for stage in stages:
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
    return rows


TIMING_NOTE = (
    "Stage times in seconds: *computed* is the stage's own computation when it was "
    "computed (a stage also pays for any cached arrays it is the first to need); "
    "*this run* adds loading and drawing the figures. Times depend on the machine and on "
    "what else runs on it."
)
TIMING_HEADERS = ["stage", "computed (s)", "this run", "this run (s)"]
