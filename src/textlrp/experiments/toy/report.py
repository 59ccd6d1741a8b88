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
from textlrp.experiments.toy.train import TrainConfig, train_models, validation_mse

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
DEFAULT_MODELS = 50  # accepted models per task, as in the paper


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


def test_mse_of(params: list[list[float | None]], test: ToyData) -> list[float]:
    """Test MSE of stored parameter rows (a row with a missing value gets NaN)."""
    if not params:
        return []
    rows = [[math.nan if v is None else float(v) for v in row] for row in params]
    mse = validation_mse(torch.tensor(rows, dtype=torch.float64), test)
    return [float(v) for v in mse]


def _accept(run: dict[str, Any], config: TrainConfig) -> None:
    """Set a run's acceptance flags from its validation and test MSE (in place)."""
    val, test = run["val_mse"], run["test_mse"]
    run["accepted_val"] = val is not None and math.isfinite(val) and val < config.accept_mse
    test_ok = test is not None and math.isfinite(test) and test < config.accept_mse
    run["accepted"] = run["accepted_val"] and (test_ok or not config.accept_test)


def train_task(
    task: str,
    wanted: int,
    data: dict[str, ToyData],
    seed: int,
    config: TrainConfig,
    max_runs: int,
    progress: bool,
    previous: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Train batches of runs until ``wanted`` are accepted (or ``max_runs`` were trained).

    A run is accepted when its validation MSE is below ``config.accept_mse`` and, with
    ``config.accept_test``, its test MSE too. ``previous``: runs stored by an earlier call
    (same seed and data); they are re-scored under ``config`` and only the runs still needed
    are trained (run ``k`` always gets the same initialisation, see :func:`run_seed`).
    """
    runs: list[dict[str, Any]] = []
    for old in previous or []:
        run = {key: value for key, value in old.items() if key != "accepted"}
        runs.append(run)
    for run, mse in zip(runs, test_mse_of([r["params"] for r in runs], data["test"]), strict=True):
        run["test_mse"] = mse
        _accept(run, config)
    accepted = sum(r["accepted"] for r in runs)
    seconds = 0.0
    evaluations = 0
    native = False
    batch = max((r["batch"] for r in runs), default=-1) + 1
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
        test_mse = test_mse_of(result.params.tolist(), data["test"])
        for k in range(size):
            run = {
                "run": len(runs) + 1,
                "batch": batch,
                "run_seed": seeds[k],
                "train_loss": float(result.train_loss[k]),
                "val_mse": float(result.val_mse[k]),
                "test_mse": test_mse[k],
                "params": result.params[k].tolist(),
            }
            _accept(run, config)
            runs.append(run)
            accepted += run["accepted"]
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
        "accepted_val_total": sum(r["accepted_val"] for r in runs),
        "trained": len(runs),
        "runs_to_reach_wanted": runs_needed,
        "chosen_runs": [r["run"] for r in chosen],
        "train_seconds": seconds,
        "model_evaluations": evaluations,
        "native_kernel": native,
    }


def evaluate_task(
    training: dict[str, Any],
    test: ToyData,
    progress: bool,
    previous: list[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """Table 2 statistics of every chosen model, in run order (``previous``: per-model
    results of an earlier call on the same test data, reused by run number)."""
    from tqdm import tqdm

    by_run = {r["run"]: r for r in training["runs"]}
    known = {m["run"]: m for m in previous or []}
    results = []
    for run in tqdm(training["chosen_runs"], desc="explaining", disable=not progress, leave=False):
        if run in known:
            results.append(known[run])
            continue
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
        f" {result['config']['clip_norm']}, {_criterion(result['config'])}; data sizes"
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
        lines.append(f"  {_test_mse_note(result, task)}")
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


def _criterion(config: dict[str, Any]) -> str:
    threshold = f"{config['accept_mse']:g}"
    if config.get("accept_test", False):
        return f"accepted if validation MSE < {threshold} and test MSE < {threshold}"
    return f"accepted if validation MSE < {threshold}"


def _test_mse_note(result: dict[str, Any], task: str) -> str:
    """Test MSE of the kept models, and the runs the test criterion turned away."""
    training = result["training"][task]
    by_run = {r["run"]: r for r in training["runs"]}
    kept = [by_run[run].get("test_mse") for run in training["chosen_runs"]]
    known = [v for v in kept if v is not None and math.isfinite(v)]
    threshold = result["config"]["accept_mse"]
    if not known:
        return "Test MSE of the kept models: not recorded."
    above = sum(v >= threshold for v in known)
    text = (
        f"Test MSE of the {len(kept)} kept models: median {np.median(known):.1e}, largest"
        f" {max(known):.1e}; {above} of them at or above {threshold:g}."
    )
    turned = [r for r in training["runs"] if r.get("accepted_val") and not r.get("accepted", False)]
    if turned:
        listed = ", ".join(f"run {r['run']} ({r['test_mse']:.2e})" for r in turned)
        text += (
            f" {len(turned)} run(s) passed the validation criterion but not the test one and"
            f" were not kept: {listed}."
        )
    return text


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


def _load_previous(path: str | Path, seed: int, config: TrainConfig, sizes: dict) -> dict:
    """A stored ``toy.json`` whose runs can be reused: same seed, recipe and data sizes."""
    try:
        stored = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise InputError(f"cannot read {path} as a toy.json: {error}") from error
    recipe = {k: v for k, v in dataclasses.asdict(config).items() if not k.startswith("accept")}
    recipe.pop("native")
    old = {k: stored.get("config", {}).get(k) for k in recipe}
    if stored.get("seed") != seed or old != recipe or stored.get("data_sizes") != sizes:
        raise InputError(
            f"{path} was made with another seed, recipe or data size; its runs cannot be "
            "reused (run without --resume, or with the same settings)"
        )
    return stored


def run_toy(
    models: int = DEFAULT_MODELS,
    task: str = "both",
    out: str | Path = "out/toy",
    seed: int = 0,
    config: TrainConfig | None = None,
    max_runs: int | None = None,
    data_sizes: tuple[int, int, int] | None = None,
    progress: bool = True,
    command: str | None = None,
    resume: str | Path | None = None,
) -> dict[str, Any]:
    """Reproduce Table 2: train until ``models`` are accepted per task, evaluate, write files.

    ``task`` is ``"add"``, ``"sub"`` or ``"both"``. Writes ``out/toy.md`` (the table beside the
    paper's) and ``out/toy.json`` (settings, every run, per-model statistics) and returns the
    JSON content. ``max_runs`` (default 20 × models, at least 64) bounds the training per task;
    ``data_sizes`` (train, val, test) shrinks the data for quick checks. ``resume``: a
    ``toy.json`` of an earlier run with the same seed, recipe and data sizes; its trained runs
    are re-scored under ``config``'s acceptance rule, only missing runs are trained and only
    models not evaluated before are explained.
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
    stored = _load_previous(resume, seed, config, sizes) if resume is not None else None
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
        old_runs = stored["training"][name]["runs"] if stored and name in stored["tasks"] else None
        old_models = stored["models"][name] if stored and name in stored["tasks"] else None
        training = train_task(name, models, data, seed, config, max_runs, progress, old_runs)
        if stored and name in stored["tasks"]:
            training["train_seconds"] += stored["training"][name]["train_seconds"]
            training["model_evaluations"] += stored["training"][name]["model_evaluations"]
            training["native_kernel"] |= stored["training"][name]["native_kernel"]
        result["training"][name] = training
        result["models"][name] = evaluate_task(training, data["test"], progress, old_models)
        result["summary"][name] = summarize(result["models"][name])
    result["total_seconds"] = time.perf_counter() - started
    if stored is not None:
        result["resumed_from"] = {"command": stored["command"], "seconds": stored["total_seconds"]}
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "toy.json").write_text(json.dumps(_json_ready(result), indent=1), encoding="utf-8")
    (out / "toy.md").write_text(markdown_report(result), encoding="utf-8")
    return result
