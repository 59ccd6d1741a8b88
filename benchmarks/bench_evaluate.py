"""Benchmark: scoring the perturbed copies of `textlrp evaluate`, three ways, in one run.

The deletion and insertion copies of one relevance map (2·(n − 1) per sentence) are scored
(a) as `textlrp.evaluation` does, in chunks of one length each, (b) in length-sorted chunks of
mixed lengths (padded), and (c) one copy at a time (on the first few hundred copies only, then
scaled up). Prints copies per second and the ratios.

    python benchmarks/bench_evaluate.py [--data-dir DIR] [--sentences 300] [--chunk 4096]
"""

from __future__ import annotations

import argparse
import time

import torch
from common import test_sentences

import textlrp
from textlrp.batching import encode_batch
from textlrp.evaluation.metrics import relevance_ranks
from textlrp.evaluation.perturb import remove_tokens, target_probabilities


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None, help="folder with the SST tree files")
    parser.add_argument("--sentences", type=int, default=300, help="test sentences to use")
    parser.add_argument("--chunk", type=int, default=4096, help="copies per forward pass")
    parser.add_argument("--single", type=int, default=300, help="copies scored one at a time")
    args = parser.parse_args()

    model = textlrp.load_model()
    sentences, source = test_sentences(model, args.data_dir)
    batch = encode_batch(model, [list(s) for s in sentences[: args.sentences]])
    embedded = batch.inputs(model, torch.float32)
    lengths = batch.lengths
    targets = torch.zeros(batch.size, dtype=torch.long)
    relevance = torch.rand(batch.mask.shape, generator=torch.Generator().manual_seed(0))
    ranks = relevance_ranks(relevance * batch.mask, lengths)
    inner = (lengths - 1).clamp(min=0)
    rows = torch.repeat_interleave(torch.arange(batch.size), inner)
    counts = torch.arange(rows.numel()) - (torch.cumsum(inner, 0) - inner)[rows] + 1
    steps = embedded.shape[1]
    real = torch.arange(steps)[None, :] < lengths[rows][:, None]
    top = ranks[rows] < counts[:, None]
    all_rows, removed = torch.cat([rows, rows]), torch.cat([top, real & ~top])
    copies = all_rows.numel()
    print(f"{source}: {batch.size} sentences, {copies} perturbed copies (zero embedding)")

    start = time.perf_counter()
    bucketed = target_probabilities(
        model, embedded, lengths, targets, all_rows, removed, "zero", args.chunk
    )
    t_bucketed = time.perf_counter() - start

    start = time.perf_counter()
    mixed = torch.empty(copies, dtype=torch.float64)
    order = torch.argsort(lengths[all_rows], stable=True)
    with torch.no_grad():
        for begin in range(0, copies, args.chunk):
            index = order[begin : begin + args.chunk]
            n = int(lengths[all_rows[index]].max())
            x, new_lengths = remove_tokens(
                embedded[all_rows[index], :n], lengths[all_rows[index]], removed[index, :n]
            )
            scores = torch.softmax(model.forward_embedded(x, new_lengths).double(), -1)
            mixed[index] = scores[:, 0]
    t_mixed = time.perf_counter() - start

    single = min(args.single, copies)
    start = time.perf_counter()
    with torch.no_grad():
        for j in range(single):
            b = int(all_rows[j])
            n = int(lengths[b])
            x, new_lengths = remove_tokens(embedded[b : b + 1, :n], lengths[b : b + 1],
                                           removed[j : j + 1, :n])  # fmt: skip
            model.forward_embedded(x, new_lengths)
    t_single = (time.perf_counter() - start) * copies / single

    assert torch.allclose(bucketed, mixed, atol=1e-5)
    for name, seconds in (
        ("one length per chunk (textlrp)", t_bucketed),
        ("mixed lengths per chunk", t_mixed),
        (f"one copy at a time (from {single})", t_single),
    ):
        print(f"{name:36s} {seconds:8.2f} s  {copies / seconds:9.0f} copies/s")
    print(f"ratio mixed / one-length:  {t_mixed / t_bucketed:.2f}")
    print(f"ratio single / one-length: {t_single / t_bucketed:.1f}")


if __name__ == "__main__":
    main()
