"""Benchmark: the web viewer under load on loopback, and corpus paging on a large Parquet file.

Starts ``textlrp serve`` in a subprocess (as a user would) and measures, in one run:
1. sequential ``POST /api/explain`` latency (LRP, one SST sentence each);
2. N concurrent explain requests (default 200): latency percentiles, throughput, errors;
3. a fast request's latency while a slow one (Integrated Gradients, 256 steps, a long text)
   is in flight, as a ratio to its latency alone;
4. with ``--corpus-rows R``: a synthetic corpus of R rows in the explain-corpus schema, and the
   latency of paging, filtering, sorting, searching (cold and cached) and opening a document.

    python benchmarks/bench_web.py [--concurrent 200] [--corpus-rows 1000000] [--workers N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
from common import test_sentences

import textlrp

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int, corpus: Path | None, workers: int | None) -> subprocess.Popen:
    command = [sys.executable, "-m", "textlrp.cli.main", "serve", "--port", str(port)]
    if corpus is not None:
        command += ["--corpus", str(corpus)]
    if workers:
        command += ["--workers", str(workers)]
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    process = subprocess.Popen(command, env=env)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/info", timeout=2).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.2)
        if process.poll() is not None:
            raise SystemExit("the server exited before answering")
    process.kill()
    raise SystemExit("the server did not start")


def percentiles(values: list[float]) -> str:
    a = np.array(values) * 1000
    return (
        f"p50 {np.percentile(a, 50):7.1f} ms  p90 {np.percentile(a, 90):7.1f} ms  "
        f"p99 {np.percentile(a, 99):7.1f} ms  max {a.max():7.1f} ms"
    )


async def timed_post(http: httpx.AsyncClient, body: dict) -> tuple[float, int]:
    start = time.perf_counter()
    response = await http.post("/api/explain", json=body)
    return time.perf_counter() - start, response.status_code


async def load_test(url: str, sentences: list[str], concurrent: int) -> None:
    limits = httpx.Limits(max_connections=concurrent, max_keepalive_connections=concurrent)
    async with httpx.AsyncClient(base_url=url, timeout=300, limits=limits) as http:
        for s in sentences[:3]:  # warm-up
            await timed_post(http, {"text": s, "methods": ["lrp"]})
        sequential = []
        for s in sentences[:20]:
            sequential.append((await timed_post(http, {"text": s, "methods": ["lrp"]}))[0])
        print(f"sequential explain (lrp), 20 requests:  {percentiles(sequential)}")

        start = time.perf_counter()
        results = await asyncio.gather(
            *[
                timed_post(http, {"text": sentences[i % len(sentences)], "methods": ["lrp"]})
                for i in range(concurrent)
            ]
        )
        wall = time.perf_counter() - start
        errors = sum(status != 200 for _, status in results)
        print(
            f"{concurrent} concurrent explain (lrp):    {percentiles([t for t, _ in results])}\n"
            f"    all done in {wall:.2f} s, {concurrent / wall:.1f} requests/s, {errors} errors"
        )

        fast_body = {"text": sentences[0], "methods": ["lrp"]}
        alone = [(await timed_post(http, fast_body))[0] for _ in range(10)]
        long_text = " ".join(" ".join(sentences[1:60]).split()[:400])[:4900]
        slow_body = {
            "text": long_text,
            "methods": ["integrated_gradients"],
            "options": {"steps": 256},
        }
        slow = asyncio.create_task(timed_post(http, slow_body))
        await asyncio.sleep(0.3)
        during = []
        while not slow.done() and len(during) < 10:
            during.append((await timed_post(http, fast_body))[0])
        slow_time, slow_status = await slow
        if not during:
            print(f"the slow request ended ({slow_status}) before a fast one could overlap it")
            return
        print(
            f"fast request alone: median {statistics.median(alone) * 1000:.1f} ms; while a slow "
            f"IG request ({slow_time:.2f} s, status {slow_status}) was in flight: median "
            f"{statistics.median(during) * 1000:.1f} ms over {len(during)} requests "
            f"(ratio {statistics.median(during) / statistics.median(alone):.2f})"
        )


def write_synthetic_corpus(path: Path, rows: int, seed: int = 0) -> None:
    """``rows`` rows in the explain-corpus schema, built column-wise (no Python row objects)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    vocab = np.array(textlrp.load_model().vocab.to_list()[2:5002], dtype=object)
    lengths = rng.integers(3, 40, rows)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    total = int(offsets[-1])
    words = pa.array(vocab[rng.integers(0, len(vocab), total)], pa.string())
    tokens = pa.ListArray.from_arrays(pa.array(offsets), words)
    relevance = pa.ListArray.from_arrays(
        pa.array(offsets), pa.array(rng.normal(size=total).astype(np.float32))
    )
    unknown = pa.ListArray.from_arrays(pa.array(offsets), pa.array(np.zeros(total, bool)))
    text = pa.compute.binary_join(tokens, " ")
    classes = ["very negative", "negative", "neutral", "positive", "very positive"]
    logits = rng.normal(size=(rows, 5)).astype(np.float32)
    probabilities = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    predicted = logits.argmax(1).astype(np.int32)
    label = rng.integers(0, 5, rows).astype(np.int32)
    names = pa.array(classes)
    prob_offsets = pa.array(np.arange(0, 5 * rows + 1, 5, dtype=np.int32))
    methods = np.array(["lrp", "gradient_x_input"])[rng.integers(0, 2, rows)]
    table = pa.table(
        {
            "id": pa.array([f"doc{i:07d}" for i in range(rows)]),
            "text": text,
            "tokens": tokens,
            "relevance": relevance,
            "unknown": unknown,
            "predicted": predicted,
            "predicted_name": names.take(pa.array(predicted)),
            "probabilities": pa.ListArray.from_arrays(
                prob_offsets, pa.array(probabilities.ravel())
            ),
            "score": logits.max(1),
            "target": predicted,
            "target_name": names.take(pa.array(predicted)),
            "label": label,
            "label_name": names.take(pa.array(label)),
            "method": pa.array(methods),
            "options": pa.array(["{}"] * rows),
            "conservation_residual": pa.nulls(rows, pa.float32()),
            "model_hash": pa.array(["synthetic"] * rows),
            "textlrp_version": pa.array([textlrp.__version__] * rows),
        }
    )
    meta = {"class_names": classes, "model": "synthetic", "model_hash": "synthetic"}
    table = table.replace_schema_metadata({"textlrp": json.dumps(meta)})
    pq.write_table(table, path, row_group_size=65_536)


def corpus_timings(url: str, rows: int) -> None:
    queries = [
        ("first page", {}),
        ("page 2000", {"page": 2000}),
        (
            "filter predicted+label+method",
            {"predicted": "positive", "label": "negative", "method": "lrp"},
        ),
        (
            "misclassified, sort by score desc",
            {"misclassified": "true", "sort": "score", "order": "desc"},
        ),
        ("sort by probability", {"sort": "probability"}),
        ("search 'bad' (cold)", {"q": "bad"}),
        ("search 'bad' (cached), page 3", {"q": "bad", "page": 3}),
        ("sort by relevance of 'good' (cold)", {"sort": "word", "word": "good", "order": "desc"}),
        ("sort by relevance of 'good' (cached)", {"sort": "word", "word": "good"}),
    ]
    with httpx.Client(base_url=url, timeout=600) as http:
        for name, params in queries:
            start = time.perf_counter()
            response = http.get("/api/corpora/0/documents", params=params)
            took = time.perf_counter() - start
            total = response.json().get("total") if response.status_code == 200 else "-"
            print(f"  {name:40s} {took * 1000:8.1f} ms  ({total} rows match)")
        middle = rows // 2
        for name, path in (
            (f"open document {middle}", f"/api/corpora/0/documents/{middle}"),
            ("top words per class, lrp (cold)", "/api/corpora/0/aggregate?method=lrp"),
            ("top words per class, lrp (cached)", "/api/corpora/0/aggregate?method=lrp"),
        ):
            start = time.perf_counter()
            response = http.get(path)
            took = time.perf_counter() - start
            print(f"  {name:40s} {took * 1000:8.1f} ms  (status {response.status_code})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrent", type=int, default=200)
    parser.add_argument("--corpus-rows", type=int, default=0, help="0: skip the corpus part")
    parser.add_argument("--workers", type=int, default=None, help="server explain threads")
    parser.add_argument("--data-dir", default=None, help="folder with the SST tree files")
    args = parser.parse_args()

    model = textlrp.load_model()
    tokens, source = test_sentences(model, args.data_dir)
    sentences = [" ".join(t) for t in tokens]
    print(f"textlrp {textlrp.__version__}, {os.cpu_count()} CPU cores, sentences: {source}")
    with tempfile.TemporaryDirectory() as folder:
        corpus = None
        if args.corpus_rows:
            corpus = Path(folder) / "corpus.parquet"
            start = time.perf_counter()
            write_synthetic_corpus(corpus, args.corpus_rows)
            print(
                f"wrote a synthetic corpus of {args.corpus_rows} rows "
                f"({corpus.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - start:.1f} s"
            )
        port = free_port()
        start = time.perf_counter()
        server = start_server(port, corpus, args.workers)
        print(f"server up in {time.perf_counter() - start:.1f} s (port {port})")
        url = f"http://127.0.0.1:{port}"
        try:
            asyncio.run(load_test(url, sentences, args.concurrent))
            if corpus is not None:
                print(f"corpus of {args.corpus_rows} rows, page size 25:")
                corpus_timings(url, args.corpus_rows)
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
