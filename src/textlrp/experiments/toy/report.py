"""``run_toy``: train until N accepted models per task, evaluate, write toy.md and toy.json."""

from __future__ import annotations

import dataclasses
import json
import math
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from textlrp.errors import InputError
from textlrp.experiments.toy.data import SPLITS, TASKS, ToyData, make_split
from textlrp.experiments.toy.evaluate import METHODS, evaluate_params
from textlrp.experiments.toy.stats import STATISTICS, mean_std
from textlrp.experiments.toy.train import TrainConfig, train_models

# Arras et al. 2019, Table 2 (mean over 50 accepted models per task), as printed there.
# method -> task -> (ρ(R_a, n_a) %, ρ(R_b, n_b) %, share %, MSE)
PAPER_TABLE2_TEXT: dict[str, dict[str, tuple[str, str, str, str]]] = {
    "Gradient×Input": {
        "add": ("99.960", "99.954", "99.68", "2.4e-3"),
        "sub": ("97.9", "-98.8", "98.3", "6e-4"),
    },
    "Occlusion": {
        "add": ("99.990", "99.990", "99.82", "2e-4"),
        "sub": ("99.0", "-69.0", "25.4", "0.05"),
    },
    "LRP-prop": {
        "add": ("0.785", "10.111", "18.14", "1.3"),
        "sub": ("3.1", "-8.4", "15.0", "0.04"),
    },
    "LRP-abs": {
        "add": ("7.002", "12.410", "18.01", "1.3"),
        "sub": ("1.2", "-23.0", "15.1", "0.04"),
    },
    "LRP-half": {
        "add": ("29.035", "51.460", "54.09", "1.1"),
        "sub": ("7.7", "-28.9", "42.3", "0.05"),
    },
    "LRP-all": {
        "add": ("99.995", "99.995", "99.95", "2e-6"),
        "sub": ("98.5", "-99.3", "99.3", "8e-4"),
    },
    "CD": {
        "add": ("99.997", "99.997", "99.92", "4e-5"),
        "sub": ("-25.9", "-50.0", "49.4", "0.05"),
    },
}
PAPER_TABLE2: dict[str, dict[str, tuple[float, ...]]] = {
    method: {task: tuple(float(v) for v in cells) for task, cells in tasks.items()}
    for method, tasks in PAPER_TABLE2_TEXT.items()
}
PAPER_RUNS = "the paper kept 50 models per task; about 1/2 of the addition and 1/3 of the "
PAPER_RUNS += "subtraction runs converged"
HEADERS = {"rho_a": "ρ(R_a, n_a)", "rho_b": "ρ(R_b, n_b)", "share": "share", "mse": "MSE"}
MAX_BATCH = 256


def run_seed(seed: int, task: str, run: int) -> int:
    """Init seed of run ``run`` (1, 2, ...) of a task, from the experiment's seed."""
    state = np.random.SeedSequence([int(seed), TASKS.index(task), int(run), 7]).generate_state(1)
    return int(state[0])


def _next_batch_size(wanted: int, accepted: int, runs: int, room: int) -> int:
    """Runs to train next: enough for the missing models at the rate seen so far.

    Only the cost depends on this (a run's result does not depend on its batch). The rate
    starts from a prior of 1/2 and follows the observed acceptance as batches come in.
    """
    rate = (accepted + 1) / (runs + 2)
    size = math.ceil((wanted - accepted) / rate)
    return max(1, min(size, MAX_BATCH, room))


def train_task(
    task: str,
    wanted: int,
    data: dict[str, ToyData],
    seed: int,
    config: TrainConfig,
    max_runs: int,
    progress: bool,
) -> dict[str, Any]:
    """Train batches of runs until ``wanted`` are accepted (or ``max_runs`` were trained)."""
    runs: list[dict[str, Any]] = []
    accepted = 0
    seconds = 0.0
    evaluations = 0
    native = False
    batch = 0
    while accepted < wanted and len(runs) < max_runs:
        size = _next_batch_size(wanted, accepted, len(runs), max_runs - len(runs))
        seeds = [run_seed(seed, task, len(runs) + 1 + k) for k in range(size)]
        result = train_models(
            data["train"],
            data["val"],
            seeds,
            config=config,
            progress=progress,
            description=f"{task}: runs {len(runs) + 1}-{len(runs) + size}",
        )
        seconds += result.seconds
        evaluations += result.evaluations
        native = result.native
        for k in range(size):
            runs.append(
                {
                    "run": len(runs) + 1,
                    "batch": batch,
                    "run_seed": seeds[k],
                    "train_loss": float(result.train_loss[k]),
                    "val_mse": float(result.val_mse[k]),
                    "accepted": bool(result.accepted[k]),
                    "params": result.params[k].tolist(),
                }
            )
        accepted += int(result.accepted.sum())
        if progress:
            print(
                f"{task}: {accepted} of {len(runs)} runs accepted "
                f"({result.seconds:.0f} s for {size} runs)",
                flush=True,
            )
        batch += 1
    chosen = [r for r in runs if r["accepted"]][:wanted]
    runs_needed = chosen[-1]["run"] if len(chosen) == wanted else None
    return {
        "runs": runs,
        "accepted_total": accepted,
        "trained": len(runs),
        "runs_to_reach_wanted": runs_needed,
        "chosen_runs": [r["run"] for r in chosen],
        "train_seconds": seconds,
        "model_evaluations": evaluations,
        "native_kernel": native,
    }


def evaluate_task(training: dict[str, Any], test: ToyData, progress: bool) -> list[dict[str, Any]]:
    """Table 2 statistics of every chosen model, in run order."""
    from tqdm import tqdm

    by_run = {r["run"]: r for r in training["runs"]}
    results = []
    for run in tqdm(training["chosen_runs"], desc="explaining", disable=not progress, leave=False):
        params = torch.tensor(by_run[run]["params"], dtype=torch.float64)
        results.append({"run": run, "methods": evaluate_params(params, test)})
    return results


def summarize(models: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, float]]]:
    """Mean, std and count per method and statistic over the models."""
    summary: dict[str, dict[str, dict[str, float]]] = {}
    for spec in METHODS:
        summary[spec.label] = {}
        for stat in STATISTICS:
            values = [
                m["methods"][spec.label][stat]
                for m in models
                if m["methods"].get(spec.label) is not None
            ]
            mean, std, count = mean_std(values)
            finite = [v for v in values if v is not None and math.isfinite(v)]
            median = float(np.median(finite)) if finite else float("nan")
            summary[spec.label][stat] = {
                "mean": mean,
                "std": std,
                "median": median,
                "count": count,
            }
    return summary


def _format(stat: str, value: float | None, std: bool = False) -> str:
    """A mean: MSE as 1.2e-03, ρ/share with 3 decimals near ±100 and 2 otherwise; a std: 2
    significant digits."""
    if value is None or not math.isfinite(value):
        return "n/a"
    if stat == "mse":
        return f"{value:.1e}"
    if std:
        return f"{value:.2g}"
    return f"{value:.3f}" if abs(value) >= 99 else f"{value:.2f}"


def _differences(summary: dict, task: str, count: int) -> list[str]:
    """Cells that differ clearly from the paper (no analysis, just the facts)."""
    notes = []
    for spec in METHODS:
        paper = PAPER_TABLE2[spec.label][task]
        for k, stat in enumerate(STATISTICS):
            cell = summary[spec.label][stat]
            ours, std, median = cell["mean"], cell["std"], cell.get("median", float("nan"))
            if not math.isfinite(ours):
                continue
            if stat == "mse":
                ratio = max(ours, 1e-300) / paper[k]
                clear = ratio > 3 or ratio < 1 / 3
                text = f"{ours:.1e} vs {paper[k]:g} (×{ratio:.2g}; our median {median:.2g})"
            else:
                gap = ours - paper[k]
                clear = abs(gap) > max(1.0, 2 * std / math.sqrt(max(count, 1)))
                text = (
                    f"{ours:.2f} vs {paper[k]:g} ({gap:+.2f} points; our std {std:.2g},"
                    f" median {median:.2f})"
                )
            if clear:
                notes.append(f"- {task} / {spec.label} / {HEADERS[stat]}: {text}")
    return notes


def markdown_report(result: dict[str, Any]) -> str:
    """The Markdown page: settings, runs, the table beside the paper's, and the differences."""
    tasks = result["tasks"]
    names = {"add": "addition", "sub": "subtraction"}
    lines = [
        "# Toy arithmetic task — Table 2 of Arras et al. (2019)",
        "",
        f"Command: `{result['command']}`",
        "",
        f"Settings: {result['models_per_task']} accepted models per task, seed {result['seed']},"
        f" {result['config']['steps']} L-BFGS steps of {result['config']['max_iter']} iterations,"
        f" lr {result['config']['lr']} (×{result['config']['lr_factor']} after"
        f" {result['config']['patience']} steps without improvement), gradient norm clipped at"
        f" {result['config']['clip_norm']}, accepted if validation MSE <"
        f" {result['config']['accept_mse']:g}; data sizes"
        f" {'/'.join(str(v) for v in result['data_sizes'].values())} (train/val/test).",
        "",
        "Runs:",
        "",
    ]
    for task in tasks:
        t = result["training"][task]
        needed = t["runs_to_reach_wanted"]
        reach = (
            f"{result['models_per_task']} accepted after {needed} runs"
            if needed
            else f"only {t['accepted_total']} accepted within the run limit"
        )
        rate = t["accepted_total"] / max(t["trained"], 1)
        lines.append(
            f"- {names[task]}: {t['accepted_total']} of {t['trained']} trained runs accepted"
            f" ({100 * rate:.0f}%); {reach}; training {t['train_seconds'] / 60:.1f} min"
            f" ({'native kernel' if t['native_kernel'] else 'eager PyTorch'},"
            f" {t['model_evaluations']} model evaluations)."
        )
    lines += [f"- Paper: {PAPER_RUNS}.", ""]
    header = ["method"]
    for task in tasks:
        header += [f"{task} {HEADERS[s]}" for s in STATISTICS]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "---|" * len(header))
    for spec in METHODS:
        ours = [f"**{spec.label}**"]
        paper = ["*paper*"]
        for task in tasks:
            summary = result["summary"][task][spec.label]
            for k, stat in enumerate(STATISTICS):
                cell = summary[stat]
                ours.append(
                    f"{_format(stat, cell['mean'])} ({_format(stat, cell['std'], std=True)})"
                    if cell["count"]
                    else "n/a"
                )
                paper.append(PAPER_TABLE2_TEXT[spec.label][task][k])
        lines.append("| " + " | ".join(ours) + " |")
        lines.append("| " + " | ".join(paper) + " |")
    lines += [
        "",
        "Ours: mean (standard deviation) over the accepted models; paper: its mean over 50"
        " models. ρ and share in %, relevance R_t summed over both input dimensions, target"
        " the single output; ε = 0 for every LRP rule.",
        "",
    ]
    missing = [
        f"{task} / {label}: {cells['rho_a']['count']} of {len(result['models'][task])} models"
        for task in tasks
        for label, cells in result["summary"][task].items()
        if cells["rho_a"]["count"] < len(result["models"][task])
    ]
    if missing:
        lines += [
            "Methods without a result on some models (undefined statistic or a failed"
            " explanation, e.g. a division by an exact zero at ε = 0):",
            "",
        ]
        lines += [f"- {m}" for m in missing] + [""]
    notes = [
        n
        for task in tasks
        for n in _differences(result["summary"][task], task, len(result["models"][task]))
    ]
    lines += ["## Where the numbers differ from the paper", ""]
    lines += notes or ["- No cell differs clearly (more than 1 point / a factor 3 in MSE)."]
    lines.append("")
    return "\n".join(lines)


def render_json(path: str | Path) -> str:
    """The Markdown page of a ``toy.json`` written by :func:`run_toy` (re-rendered offline)."""
    result = json.loads(Path(path).read_text(encoding="utf-8"))
    for task in result["tasks"]:
        result["summary"][task] = summarize(result["models"][task])
    return markdown_report(result)


def _json_ready(value: Any) -> Any:
    """NaN/inf become None so the file is strict JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(v) for v in value]
    return value


def run_toy(
    models: int = 5,
    task: str = "both",
    out: str | Path = "out/toy",
    seed: int = 0,
    config: TrainConfig | None = None,
    max_runs: int | None = None,
    data_sizes: tuple[int, int, int] | None = None,
    progress: bool = True,
    command: str | None = None,
) -> dict[str, Any]:
    """Reproduce Table 2: train until ``models`` are accepted per task, evaluate, write files.

    ``task`` is ``"add"``, ``"sub"`` or ``"both"``. Writes ``out/toy.md`` (the table beside the
    paper's) and ``out/toy.json`` (settings, every run, per-model statistics) and returns the
    JSON content. ``max_runs`` (default 20 × models, at least 64) bounds the training per task;
    ``data_sizes`` (train, val, test) shrinks the data for quick checks.
    """
    if task not in (*TASKS, "both"):
        raise InputError(f"unknown task '{task}'; choose add, sub or both")
    if models < 1:
        raise InputError(f"--models must be at least 1, got {models}")
    config = config or TrainConfig()
    tasks = list(TASKS) if task == "both" else [task]
    max_runs = max_runs if max_runs is not None else max(20 * models, 64)
    sizes = dict(zip(SPLITS, data_sizes or [s[1] for s in SPLITS.values()], strict=True))
    started = time.perf_counter()
    result: dict[str, Any] = {
        "command": command
        or f"textlrp reproduce toy --models {models} --task {task} --out {out} --seed {seed}",
        "models_per_task": models,
        "seed": seed,
        "config": dataclasses.asdict(config),
        "data_sizes": sizes,
        "max_runs": max_runs,
        "tasks": tasks,
        "methods": [dataclasses.asdict(m) for m in METHODS],
        "paper_table2": PAPER_TABLE2,
        "machine": {
            "platform": platform.platform(),
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
        },
        "training": {},
        "models": {},
        "summary": {},
    }
    for name in tasks:
        data = {split: make_split(name, split, seed, sizes[split]) for split in SPLITS}
        training = train_task(name, models, data, seed, config, max_runs, progress)
        result["training"][name] = training
        result["models"][name] = evaluate_task(training, data["test"], progress)
        result["summary"][name] = summarize(result["models"][name])
    result["total_seconds"] = time.perf_counter() - started
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "toy.json").write_text(json.dumps(_json_ready(result), indent=1), encoding="utf-8")
    (out / "toy.md").write_text(markdown_report(result), encoding="utf-8")
    return result
