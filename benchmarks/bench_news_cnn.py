"""Benchmark: LRP of every 20 Newsgroups test post with a trained CNN, against its forward pass.

Issue 8's speed figure: all 7532 test posts (stripped, tokenized, cut at the training length
of 400 tokens), batched in explain()'s length-sorted chunks; each repetition times the
forward pass, LRP, and the forward pass again, and divides by the faster forward (target
LRP <= 3x). Then one explain() call end to end (encoding, LRP, result objects).

    python benchmarks/bench_news_cnn.py --model runs/20news_cnn.pt --data 20news-bydate.tar.gz
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

import textlrp
from textlrp.batching import DEFAULT_BATCH_SIZE, PREDICTED, encode_batch, length_sorted_chunks
from textlrp.data.newsgroups import load_newsgroups, tokenize_post
from textlrp.methods.builtin.lrp import run_lrp


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="a CNN from `textlrp train 20news`")
    parser.add_argument("--data", default=None, help="the bydate archive or folder")
    parser.add_argument("--max-tokens", type=int, default=400)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = textlrp.load_model(args.model).float().eval()
    vocab = model.vocab
    tokens = []
    for post in load_newsgroups("test", args.data):
        words = tokenize_post(post.text)[: args.max_tokens]
        known = any(vocab.index(word) != vocab.unk_index for word in words)
        tokens.append(words if known else ["the"])  # an empty post: one common word
    batch = encode_batch(model, tokens)
    chunks = list(length_sorted_chunks(batch, DEFAULT_BATCH_SIZE))
    targets = torch.full((batch.size,), PREDICTED)
    print(f"{batch.size} posts, {int(batch.lengths.sum())} tokens, {len(chunks)} chunks")

    def forward() -> None:
        with torch.no_grad():
            for _, chunk in chunks:
                model.forward_embedded(chunk.inputs(model, torch.float32), chunk.lengths)

    def lrp() -> None:
        for index, chunk in chunks:
            run_lrp(model, chunk, targets[index], dtype=torch.float32)

    forward()
    lrp()
    ratios = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        forward()
        t1 = time.perf_counter()
        lrp()
        t2 = time.perf_counter()
        forward()
        t3 = time.perf_counter()
        fastest = min(t1 - t0, t3 - t2)
        ratios.append((t2 - t1) / fastest)
        print(f"forward {fastest:.2f} s  LRP {t2 - t1:.2f} s  ratio {ratios[-1]:.2f}")
    for per_dim in (True, False):
        t0 = time.perf_counter()
        textlrp.explain(model, tokens, method="lrp", per_dim=per_dim)
        t1 = time.perf_counter()
        forward()
        t2 = time.perf_counter()
        ratio = (t1 - t0) / (t2 - t1)
        print(f"explain(per_dim={per_dim}) whole call {t1 - t0:.2f} s = {ratio:.2f}x forward")
    print(
        f"LRP / forward: min {min(ratios):.2f}, median {statistics.median(ratios):.2f} "
        "(target <= 3)"
    )


if __name__ == "__main__":
    main()
