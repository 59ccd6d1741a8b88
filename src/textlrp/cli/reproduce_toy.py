"""``textlrp reproduce toy``: the 2019 paper's addition/subtraction task."""

from __future__ import annotations

import argparse
import shlex

__all__ = ["add_arguments", "run"]

DEFAULT_MODELS = 3
DEFAULT_OUT = "out/toy"


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the ``reproduce toy`` options to ``parser``; defaults follow the paper's recipe."""
    parser.add_argument(
        "--models",
        type=int,
        default=DEFAULT_MODELS,
        help=f"accepted models per task (default {DEFAULT_MODELS}; the paper used 50)",
    )
    parser.add_argument("--task", choices=["add", "sub", "both"], default="both")
    parser.add_argument(
        "--out", default=DEFAULT_OUT, help=f"folder for toy.md and toy.json ({DEFAULT_OUT})"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of data and initialisations")
    parser.add_argument("--steps", type=int, default=1000, help="L-BFGS steps per run (1000)")
    parser.add_argument(
        "--max-iter", type=int, default=20, help="L-BFGS iterations per step (PyTorch's 20)"
    )
    parser.add_argument(
        "--max-runs", type=int, default=None, help="give up after this many runs per task"
    )
    parser.add_argument(
        "--accept-mse", type=float, default=1e-4, help="validation MSE to accept a run (1e-4)"
    )
    parser.add_argument(
        "--eager", action="store_true", help="train with eager PyTorch, not the C kernel"
    )
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser


def run(args: argparse.Namespace) -> int:
    """Run the experiment the parsed arguments describe; prints where the files went."""
    import torch

    from textlrp.errors import InputError
    from textlrp.experiments.toy import TrainConfig, run_toy

    if args.steps < 1 or args.max_iter < 1:
        raise InputError("--steps and --max-iter must be at least 1")
    if args.threads is not None:
        torch.set_num_threads(max(1, args.threads))
    config = TrainConfig(
        steps=args.steps,
        max_iter=args.max_iter,
        accept_mse=args.accept_mse,
        native=False if args.eager else None,
    )
    command = "textlrp reproduce toy " + " ".join(shlex.quote(a) for a in _describe(args))
    result = run_toy(
        models=args.models,
        task=args.task,
        out=args.out,
        seed=args.seed,
        config=config,
        max_runs=args.max_runs,
        progress=not args.quiet,
        command=command,
    )
    for task in result["tasks"]:
        t = result["training"][task]
        print(f"{task}: {t['accepted_total']} of {t['trained']} runs accepted")
    print(f"wrote {args.out}/toy.md and {args.out}/toy.json ({result['total_seconds']:.0f} s)")
    return 0


def _describe(args: argparse.Namespace) -> list[str]:
    """The options as a command line (for the report), defaults included."""
    parts = ["--models", str(args.models), "--task", args.task, "--out", str(args.out)]
    parts += ["--seed", str(args.seed)]
    if args.steps != 1000:
        parts += ["--steps", str(args.steps)]
    if args.max_iter != 20:
        parts += ["--max-iter", str(args.max_iter)]
    if args.max_runs is not None:
        parts += ["--max-runs", str(args.max_runs)]
    if args.accept_mse != 1e-4:
        parts += ["--accept-mse", str(args.accept_mse)]
    if args.eager:
        parts.append("--eager")
    if args.threads is not None:
        parts += ["--threads", str(args.threads)]
    return parts


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "toy", help="the 2019 paper's addition/subtraction task with known ground truth"
    )
    add_arguments(parser)
    parser.set_defaults(handler=run)
