"""Shared pieces of the benchmarks: models, the sentences to explain, and timers."""

from __future__ import annotations

import argparse
import os
import pickle
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

import textlrp
from textlrp.errors import DataError

SYNTHETIC_SEED = 0
# The shared data folder beside the checkout (as the tests find it), when present.
# (or $TEXTLRP_BENCH_DATA).
SHARED_DATA = Path(
    os.environ.get("TEXTLRP_BENCH_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)
ARRAS_DIR = SHARED_DATA / "arras2017-bilstm"


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", default=None, help="folder with the SST tree files")
    parser.add_argument(
        "--model",
        default="bundled",
        help="'bundled', 'arras2017' (the 2017 release, seeded embeddings) or a model file",
    )
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: PyTorch's choice)"
    )


def setup(args: argparse.Namespace) -> torch.nn.Module:
    """Threads, native kernels (built before timing) and the model, as the arguments say."""
    if args.threads:
        torch.set_num_threads(args.threads)
    from textlrp.lrp import native

    native.kernels(wait=True)  # the compiled loops build once, before anything is timed
    return load(args.model)


def load(name: str) -> torch.nn.Module:
    if name == "bundled":
        return textlrp.load_model()
    if name == "arras2017":
        # The release lacks its embedding matrix: seeded N(0, 1) rows stand in for it.
        with (ARRAS_DIR / "vocab").open("rb") as handle:
            words = pickle.load(handle)  # noqa: S301 - the shared data set's own file
        embeddings = np.random.default_rng(SYNTHETIC_SEED).normal(size=(len(words), 60))
        return textlrp.load_arras2017(ARRAS_DIR, embeddings=embeddings)
    return textlrp.load_model(name)


def test_sentences(model, data_dir: str | None) -> tuple[list[list[str]], str]:
    """The 2210 SST test sentences, or synthetic ones of SST-like lengths without the data."""
    try:
        from textlrp.data.sst import load_sst

        if data_dir is None and (SHARED_DATA / "sst" / "test.txt").is_file():
            data_dir = str(SHARED_DATA / "sst")
        examples = load_sst("test", data_dir=data_dir, download=False)
        return [ex.tokens for ex in examples], "SST test set"
    except DataError:
        # SST test sentences have 2..56 tokens, about 19 on average.
        generator = torch.Generator().manual_seed(SYNTHETIC_SEED)
        gamma = torch.distributions.Gamma(4.0, 4.0 / 19.0)
        lengths = gamma.sample((2210,)).round().clamp(2, 56)
        return random_texts(model, lengths.int().tolist(), generator), (
            "synthetic sentences (SST data not found)"
        )


def long_documents(model, count: int = 200, length: int = 600) -> list[list[str]]:
    """``count`` documents of ``length`` words drawn from the model's vocabulary (seeded)."""
    generator = torch.Generator().manual_seed(SYNTHETIC_SEED)
    return random_texts(model, [length] * count, generator)


def random_texts(model, lengths: list[int], generator: torch.Generator) -> list[list[str]]:
    words = model.vocab.to_list()
    texts = []
    for n in lengths:
        picks = torch.randint(0, len(words), (n,), generator=generator).tolist()
        texts.append([words[i] for i in picks])
    return texts


def batched_forward(model, texts: list[list[str]]) -> Callable[[], object]:
    """One batched forward pass of the model's own nn.LSTM over all texts (encoded once)."""
    from textlrp.batching import encode_batch

    batch = encode_batch(model, texts)

    def forward() -> None:
        with torch.no_grad():
            model(batch.token_ids, batch.lengths)

    return forward


def timed(function: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``repeats`` calls, after one warm-up call."""
    function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def once(function: Callable[[], object]) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def ratios(
    reference: Callable[[], object], candidates: dict[str, Callable[[], object]], repeats: int
) -> dict[str, tuple[float, float, float]]:
    """Per candidate: (min ratio, median ratio, median seconds) against ``reference``.

    Each repetition times the reference, then every candidate, then the reference again, and
    divides by the faster of the two reference times: ratios measured in one run, so that a
    busy machine slows numerator and denominator alike.
    """
    reference()
    for function in candidates.values():
        function()
    found: dict[str, list[tuple[float, float]]] = {name: [] for name in candidates}
    for _ in range(repeats):
        before = once(reference)
        seconds = {name: once(function) for name, function in candidates.items()}
        base = min(before, once(reference))
        for name, value in seconds.items():
            found[name].append((value / base, value))
    return {
        name: (
            min(r for r, _ in values),
            statistics.median(r for r, _ in values),
            statistics.median(s for _, s in values),
        )
        for name, values in found.items()
    }


def machine() -> str:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"{os.cpu_count()} CPUs, load average {load:.1f}"
    )
