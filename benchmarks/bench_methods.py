"""Benchmark: every registered explanation method against one batched forward pass.

Prints, per method, the whole explain() call as a multiple of one batched forward pass of the
same model on the same texts (min and median over --repeats, ratios measured in one run),
beside the target: gradient-type methods and LRP one forward plus one backward pass (≤ 3×),
Integrated Gradients n points × that, occlusion and CD one forward pass per occluded copy or
span (≤ Σ len² / Σ len, the tokens all copies hold over the tokens of the batch).

    python benchmarks/bench_methods.py [--model bundled|arras2017|PATH] [--dtype float32]
                                       [--methods a,b] [--ig-steps 50] [--threads N]
"""

from __future__ import annotations

import argparse
import copy

from common import add_common_arguments, batched_forward, machine, ratios, setup, test_sentences

import textlrp
from textlrp.methods.builtin.integrated_gradients import DEFAULT_STEPS


def targets(texts: list[list[str]], ig_steps: int) -> dict[str, float]:
    lengths = [len(t) for t in texts]
    per_copy = sum(n * n for n in lengths) / sum(lengths)
    return {
        "gradient": 3.0,
        "gradient_x_input": 3.0,
        "lrp": 2.5,
        "lrp_cons": 2.5,
        "integrated_gradients": 3.0 * ig_steps,
        "occlusion_f": per_copy,
        "occlusion_p": per_copy,
        "cd": per_copy,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_arguments(parser)
    parser.add_argument("--methods", default=None, help="comma-separated (default: all)")
    parser.add_argument("--ig-steps", type=int, default=DEFAULT_STEPS)
    args = parser.parse_args()

    loaded = setup(args)
    model = copy.deepcopy(loaded).to(textlrp.api.DTYPES[args.dtype])
    texts, source = test_sentences(model, args.data_dir)
    names = args.methods.split(",") if args.methods else textlrp.available_methods()
    goal = targets(texts, args.ig_steps)

    def run(name: str):
        options = {"steps": args.ig_steps} if name == "integrated_gradients" else {}
        return lambda: textlrp.explain(model, texts, method=name, dtype=args.dtype, **options)

    print(f"data: {source}, {len(texts)} texts; model {args.model}, dtype {args.dtype}")
    print(f"machine: {machine()}\n")
    print(f"| {'method':22s} | seconds | min × fwd | median × fwd | target × fwd |")
    print(f"|{'-' * 24}|---------|-----------|--------------|--------------|")
    forward = batched_forward(model, texts)
    for name in names:
        repeats = 1 if name in ("integrated_gradients", "cd") else args.repeats
        low, median, seconds = ratios(forward, {name: run(name)}, repeats)[name]
        target = goal.get(name, float("nan"))
        mark = "ok" if low <= target else "MISSED"
        print(
            f"| {name:22s} | {seconds:7.2f} | {low:9.2f} | {median:12.2f} | "
            f"{target:9.1f} {mark:>2s} |"
        )


if __name__ == "__main__":
    main()
