"""Benchmark: batched LRP of a CNN against its batched forward pass, measured in one run.

Without ``--model``, a CNN of the 20 Newsgroups shape (300-dim embeddings, 100 filters each of
widths 3, 4, 5, 20 classes) with random weights explains synthetic documents of 20news-like
lengths (log-normal, median ~180 tokens, 5..5000). Both passes run on the same length-sorted
chunks that ``explain()`` uses. Prints forward time, LRP time (ε-rule; z⁺ composite) and their
ratios (target: LRP <= 3x forward), explain() end to end, and one 200,000-token document.

    python benchmarks/bench_cnn.py [--model PATH] [--docs N] [--dtype float32|float64]
                                   [--device cpu|cuda]
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from collections.abc import Callable

import torch

import textlrp
from textlrp.batching import DEFAULT_BATCH_SIZE, encode_batch, length_sorted_chunks
from textlrp.methods.builtin.lrp import run_lrp
from textlrp.models import CNNClassifier, CNNConfig, Vocabulary

SEED = 0


def interleaved(functions: list[Callable[[], object]], rounds: int) -> list[float]:
    """Median wall time of each function over ``rounds`` rounds that run each once, in turn.

    One warm-up round first.
    """
    for function in functions:
        function()
    times: list[list[float]] = [[] for _ in functions]
    for _ in range(rounds):
        for function, spent in zip(functions, times, strict=True):
            start = time.perf_counter()
            function()
            spent.append(time.perf_counter() - start)
    return [statistics.median(spent) for spent in times]


def synthetic_model(vocab_size: int = 30_000) -> CNNClassifier:
    torch.manual_seed(SEED)
    vocab = Vocabulary(f"w{k}" for k in range(vocab_size))
    config = CNNConfig(embedding_dim=300, num_filters=100, widths=(3, 4, 5))
    model = CNNClassifier(vocab, [f"group{k}" for k in range(20)], config)
    with torch.no_grad():
        model.embedding.weight.normal_(0.0, 0.3)
        model.embedding.weight[vocab.pad_index] = 0.0
    return model.eval()


def synthetic_documents(model, count: int) -> list[list[str]]:
    """Documents of 20news-like lengths: log-normal, median 180 tokens, clamped to 5..5000."""
    generator = torch.Generator().manual_seed(SEED)
    normal = torch.randn(count, generator=generator)
    lengths = (math.log(180.0) + 1.0 * normal).exp().round().clamp(5, 5000).long()
    words = model.vocab.to_list()
    docs = []
    for n in lengths.tolist():
        picks = torch.randint(0, len(words), (n,), generator=generator).tolist()
        docs.append([words[i] for i in picks])
    return docs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="a saved CNN (default: synthetic)")
    parser.add_argument("--docs", type=int, default=1000, help="synthetic documents to explain")
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--long", type=int, default=200_000, help="tokens of the long document")
    args = parser.parse_args()

    dtype = textlrp.api.DTYPES[args.dtype]
    model = synthetic_model() if args.model is None else textlrp.load_model(args.model)
    if not isinstance(model, CNNClassifier):
        raise SystemExit(f"{args.model} is not a CNN model")
    model = model.to(args.device, dtype)
    docs = synthetic_documents(model, args.docs)
    batch = encode_batch(model, docs)
    chunks = [chunk for _, chunk in length_sorted_chunks(batch, DEFAULT_BATCH_SIZE)]
    with torch.no_grad():
        targets = [model(c.token_ids, c.lengths).argmax(-1) for c in chunks]

    def sync() -> None:
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()

    def forward() -> None:
        with torch.no_grad():
            for chunk in chunks:
                model(chunk.token_ids, chunk.lengths)
        sync()

    def lrp(**options) -> None:
        for chunk, target in zip(chunks, targets, strict=True):
            run_lrp(model, chunk, target, dtype=dtype, **options)
        sync()

    # Rounds alternate the passes, so a change in machine load hits all of them alike.
    t_forward, t_eps, t_cons, t_plus, t_explain = interleaved(
        [
            forward,
            lambda: lrp(),
            lambda: lrp(bias_factor=1.0),
            lambda: lrp(composite="epsilon_plus"),
            lambda: textlrp.explain(model, docs, dtype=dtype),
        ],
        args.repeats,
    )
    tokens = int(batch.lengths.sum())
    print(
        f"model: {'synthetic 20news-shaped CNN' if args.model is None else args.model} "
        f"(e={model.config.embedding_dim}, {model.config.num_filters} filters x widths "
        f"{model.widths}); {len(docs)} synthetic documents, {tokens} tokens "
        f"(median {int(batch.lengths.median())}); dtype {args.dtype}; device {args.device}; "
        f"torch threads {torch.get_num_threads()}"
    )
    count = len(chunks)
    print(f"batched forward (explain()'s chunks) {t_forward * 1000:8.1f} ms  ({count} chunks)")
    print(f"batched LRP ε, δ=0                 {t_eps * 1000:9.1f} ms")
    print(f"batched LRP ε, δ=1                 {t_cons * 1000:9.1f} ms")
    print(f"batched LRP epsilon_plus (z⁺ conv) {t_plus * 1000:9.1f} ms")
    print(f"LRP ε / forward                    {t_eps / t_forward:9.2f} x   (target <= 3)")
    print(f"LRP ε δ=1 / forward                {t_cons / t_forward:9.2f} x   (target <= 3)")
    print(f"LRP z⁺ / forward                   {t_plus / t_forward:9.2f} x   (target <= 3)")
    print(
        f"explain() on all (scores + LRP)    {t_explain * 1000:9.1f} ms "
        f"({len(docs) / t_explain:,.0f} documents/s)"
    )

    words = model.vocab.to_list()
    generator = torch.Generator().manual_seed(SEED + 1)
    picks = torch.randint(0, len(words), (args.long,), generator=generator).tolist()
    long_batch = encode_batch(model, [[words[i] for i in picks]])
    with torch.no_grad():
        long_target = model(long_batch.token_ids, long_batch.lengths).argmax(-1)
    if args.device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()

    def long_forward() -> None:
        with torch.no_grad():
            model(long_batch.token_ids, long_batch.lengths)
        sync()

    def long_lrp() -> None:
        run_lrp(model, long_batch, long_target, dtype=dtype)
        sync()

    t_long_forward, t_long_lrp = interleaved([long_forward, long_lrp], 2)
    peak = ""
    if args.device.startswith("cuda"):
        peak = f", peak GPU memory {torch.cuda.max_memory_allocated() / 2**20:,.0f} MiB"
    print(
        f"one {args.long:,}-token document: forward {t_long_forward * 1000:.1f} ms, "
        f"LRP {t_long_lrp * 1000:.1f} ms ({t_long_lrp / t_long_forward:.2f} x){peak}"
    )


if __name__ == "__main__":
    main()
