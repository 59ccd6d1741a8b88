"""Benchmark: explain(method="lrp") against one batched forward pass, and one text at a time.

Prints ratios measured in one run (min and median over --repeats): the whole explain() call,
encoding included, on the 2210 SST test sentences (synthetic ones of SST lengths without the
data) or on --long documents, divided by one batched nn.LSTM forward pass of the same model;
and the time per sentence of explaining one sentence at a time in a loop.

    python benchmarks/bench_lrp.py [--model bundled|arras2017|PATH] [--dtype float32|float64]
                                   [--long] [--threads N] [--repeats 5]
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

from common import (
    add_common_arguments,
    batched_forward,
    long_documents,
    machine,
    ratios,
    setup,
    test_sentences,
)

import textlrp

TARGETS = {"float32": 2.5, "float64": 3.5}
SINGLE_TARGET_MS = 1.5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_arguments(parser)
    parser.add_argument("--long", action="store_true", help="200 documents of 600 tokens")
    parser.add_argument("--single", type=int, default=200, help="sentences for the loop timing")
    parser.add_argument("--batch-size", type=int, default=textlrp.api.DEFAULT_BATCH_SIZE)
    args = parser.parse_args()

    loaded = setup(args)
    dtype = textlrp.api.DTYPES[args.dtype]
    model = copy.deepcopy(loaded).to(dtype)  # the forward pass runs in the explained dtype
    if args.long:
        texts, source = long_documents(model), "200 documents × 600 tokens"
    else:
        texts, source = test_sentences(model, args.data_dir)

    def explain_all() -> None:
        textlrp.explain(model, texts, dtype=dtype, batch_size=args.batch_size)

    found = ratios(batched_forward(model, texts), {"lrp": explain_all}, args.repeats)
    low, median, seconds = found["lrp"]
    print(f"data: {source}, {len(texts)} texts, {sum(map(len, texts))} tokens")
    print(f"model: {args.model}, dtype {args.dtype}; {machine()}")
    print(
        f"explain(lrp) / batched forward: min {low:.2f}×, median {median:.2f}× "
        f"(explain {seconds:.3f} s; target ≤ {TARGETS[args.dtype]}×)"
    )
    if args.long:
        return
    single = texts[: args.single]
    per_sentence = []
    for _ in range(3):
        start = time.perf_counter()
        for text in single:  # the model as loaded (the 2017 one holds float64 weights)
            textlrp.explain(loaded, [text], dtype=dtype)
        per_sentence.append((time.perf_counter() - start) / len(single) * 1000)
    print(
        f"one sentence at a time: min {min(per_sentence):.2f} ms, median "
        f"{statistics.median(per_sentence):.2f} ms per sentence (target ≤ {SINGLE_TARGET_MS} ms)"
    )


if __name__ == "__main__":
    main()
