"""Shared pieces of the benchmarks: the sentences to explain and a timer."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch

from textlrp.errors import DataError

SYNTHETIC_SEED = 0


def test_sentences(model, data_dir: str | None) -> tuple[list[list[str]], str]:
    """The 2210 SST test sentences, or synthetic ones of SST-like lengths without the data."""
    try:
        from textlrp.data.sst import load_sst

        examples = load_sst("test", data_dir=data_dir, download=False)
        return [ex.tokens for ex in examples], "SST test set"
    except DataError:
        # SST test sentences have 2..56 tokens, about 19 on average.
        generator = torch.Generator().manual_seed(SYNTHETIC_SEED)
        gamma = torch.distributions.Gamma(4.0, 4.0 / 19.0)
        lengths = gamma.sample((2210,)).round().clamp(2, 56)
        words = model.vocab.to_list()
        sentences = []
        for n in lengths.int().tolist():
            picks = torch.randint(0, len(words), (n,), generator=generator).tolist()
            sentences.append([words[i] for i in picks])
        return sentences, "synthetic sentences (SST data not found)"


def timed(function: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``repeats`` calls, after one warm-up call."""
    function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)
