"""Benchmark: batched LRP against the batched forward pass, and against one-at-a-time.

Prints, measured in one run on the 2210 SST test sentences (or synthetic sentences of the same
lengths when the data is absent): batched forward time, batched LRP time, their ratio, and the
throughput of explaining one sentence at a time in a loop.

    python benchmarks/bench_lrp.py [--data-dir DIR] [--model PATH] [--dtype float32|float64]
"""

from __future__ import annotations

import argparse

import torch
from common import test_sentences, timed

import textlrp
from textlrp.batching import DEFAULT_BATCH_SIZE, encode_batch, length_sorted_chunks
from textlrp.methods.builtin.lrp import run_lrp


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None, help="folder with the SST tree files")
    parser.add_argument("--model", default=None, help="model file (default: the bundled model)")
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--single", type=int, default=200, help="sentences for the loop timing")
    args = parser.parse_args()

    dtype = textlrp.api.DTYPES[args.dtype]
    model = textlrp.load_model(args.model).to(dtype)
    sentences, source = test_sentences(model, args.data_dir)
    batch = encode_batch(model, sentences)
    with torch.no_grad():
        targets = model(batch.token_ids, batch.lengths).argmax(-1)

    def forward() -> None:
        with torch.no_grad():
            model(batch.token_ids, batch.lengths)

    def lrp() -> None:
        # the engine on length-sorted chunks, as explain() runs it (nn.LSTM packs instead)
        for index, chunk in length_sorted_chunks(batch, DEFAULT_BATCH_SIZE):
            run_lrp(model, chunk, targets[index], dtype=dtype)

    def explain_all() -> None:
        textlrp.explain(model, sentences, dtype=dtype)

    single = sentences[: args.single]

    def one_at_a_time() -> None:
        for sentence in single:
            textlrp.explain(model, [sentence], dtype=dtype)

    t_forward = timed(forward, args.repeats)
    t_lrp = timed(lrp, args.repeats)
    t_explain = timed(explain_all, args.repeats)
    t_single = timed(one_at_a_time, 1)
    n = len(sentences)
    batched_rate = n / t_explain
    single_rate = len(single) / t_single
    print(
        f"data: {source}, {n} sentences, {sum(map(len, sentences))} tokens; dtype {args.dtype};"
        f" torch threads {torch.get_num_threads()}"
    )
    print(f"batched forward (nn.LSTM)          {t_forward * 1000:9.1f} ms")
    print(f"batched LRP (engine, chunks of {DEFAULT_BATCH_SIZE})  {t_lrp * 1000:9.1f} ms")
    print(f"LRP / forward                      {t_lrp / t_forward:9.2f} x   (target <= 3)")
    print(
        f"explain() on all, batched          {t_explain * 1000:9.1f} ms  "
        f"({batched_rate:,.0f} sentences/s)"
    )
    print(
        f"explain() one at a time            {single_rate:9.1f} sentences/s "
        f"(loop over {len(single)})"
    )
    print(
        f"batched / one-at-a-time throughput {batched_rate / single_rate:9.1f} x   (target >= 50)"
    )


if __name__ == "__main__":
    main()
