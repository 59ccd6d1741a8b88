"""Benchmark: every registered explanation method on the SST test sentences, batched.

Prints each method's time and its cost as a multiple of one batched forward pass, beside the
complexity class of Arras et al. (2019, Table 1): gradient-type methods and LRP Θ(2T) (one
forward and one backward pass), occlusion and CD Θ(T²).

    python benchmarks/bench_methods.py [--data-dir DIR] [--model PATH] [--dtype float32]
"""

from __future__ import annotations

import argparse

import torch
from common import test_sentences, timed

import textlrp
from textlrp.batching import encode_batch

COMPLEXITY = {
    "gradient": "Θ(2T)",
    "gradient_x_input": "Θ(2T)",
    "lrp": "Θ(2T)",
    "lrp_cons": "Θ(2T)",
    "occlusion_f": "Θ(T²)",
    "occlusion_p": "Θ(T²)",
    "cd": "Θ(T²)",
    "integrated_gradients": "Θ(2T·steps)",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None, help="folder with the SST tree files")
    parser.add_argument("--model", default=None, help="model file (default: the bundled model)")
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()

    model = textlrp.load_model(args.model).to(textlrp.api.DTYPES[args.dtype])
    sentences, source = test_sentences(model, args.data_dir)
    batch = encode_batch(model, sentences)

    def forward() -> None:
        with torch.no_grad():
            model(batch.token_ids, batch.lengths)

    t_forward = timed(forward, 3)
    print(
        f"data: {source}, {len(sentences)} sentences; dtype {args.dtype}; "
        f"torch threads {torch.get_num_threads()}"
    )
    print(f"one batched forward pass: {t_forward * 1000:.1f} ms\n")
    print(f"| {'method':22s} | {'seconds':>8s} | {'× forward':>9s} | paper's class |")
    print(f"|{'-' * 24}|{'-' * 10}|{'-' * 11}|---------------|")
    for name in textlrp.available_methods():
        seconds = timed(
            lambda name=name: textlrp.explain(model, sentences, method=name, dtype=args.dtype),
            args.repeats,
        )
        print(
            f"| {name:22s} | {seconds:8.2f} | {seconds / t_forward:9.1f} | "
            f"{COMPLEXITY.get(name, '?'):13s} |"
        )


if __name__ == "__main__":
    main()
