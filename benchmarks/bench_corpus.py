"""explain-corpus throughput, overhead, memory and the Ray engine, measured in one run.

1. Overhead: documents/s and tokens/s of ``explain_corpus`` (LRP, bundled model, a text file
   in, Parquet out) against the bare ``textlrp.explain()`` on the same texts, alternating the
   two ``--repeats`` times; the pipeline's overhead (reading, validation, Arrow/Parquet,
   bookkeeping, the final merge) is their time ratio minus one.
2. Peak memory: a synthetic corpus of ``--rss-docs`` sentences (and a tenth of it) explained
   in a fresh process each; peak RSS (ru_maxrss) and the RSS after loading the model. Bounded
   memory shows as the same peak for both sizes.
3. Ray: the same corpus with ``--engine ray`` on a local Ray instance with as many actors as
   CPUs, against the local engine; Ray's start-up is timed apart.

Usage: ``PYTHONPATH=src python benchmarks/bench_corpus.py [--data-dir DIR] [--rss-docs N]``
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from common import test_sentences

import textlrp
from textlrp.corpus import explain_corpus

HERE = Path(__file__).resolve().parent


def write_texts(path: Path, sentences: list[list[str]]) -> None:
    path.write_text("".join(" ".join(s) + "\n" for s in sentences), encoding="utf-8")


def overhead(model, sentences, folder: Path, repeats: int) -> dict:
    texts = [" ".join(s) for s in sentences]
    source = folder / "texts.txt"
    write_texts(source, sentences)
    tokens = sum(len(s) for s in sentences)
    bare, pipeline = [], []
    textlrp.explain(model, texts[:256])  # warm-up
    for _ in range(repeats):
        start = time.perf_counter()
        textlrp.explain(model, texts)
        bare.append(time.perf_counter() - start)
        start = time.perf_counter()
        explain_corpus(source, folder / "out.parquet", model, progress=False, overwrite=True)
        pipeline.append(time.perf_counter() - start)
    b, p = statistics.median(bare), statistics.median(pipeline)
    # Each pair ran back to back under the same machine load: the median of the pairs'
    # ratios is steadier than the ratio of medians on a shared machine.
    pair_ratio = statistics.median(q / a for a, q in zip(bare, pipeline, strict=True))
    return {
        "documents": len(texts),
        "tokens": tokens,
        "explain_s": b,
        "explain_corpus_s": p,
        "explain_docs_per_s": len(texts) / b,
        "explain_corpus_docs_per_s": len(texts) / p,
        "explain_corpus_tokens_per_s": tokens / p,
        "overhead_median_of_pairs": pair_ratio - 1,
        "overhead_of_medians": p / b - 1,
        "overhead_of_best": min(pipeline) / min(bare) - 1,
        "all_explain_s": bare,
        "all_explain_corpus_s": pipeline,
    }


def synthetic(model, count: int, seed: int = 1) -> list[list[str]]:
    """Sentences of SST-like lengths (gamma, mean 19, 2..56 tokens) from the model's words."""
    generator = torch.Generator().manual_seed(seed)
    lengths = torch.distributions.Gamma(4.0, 4.0 / 19.0).sample((count,)).round().clamp(2, 56)
    words = [w for w in model.vocab.to_list() if w.isalpha()]
    picks = torch.randint(0, len(words), (int(lengths.sum()),), generator=generator).tolist()
    out, at = [], 0
    for n in lengths.int().tolist():
        out.append([words[i] for i in picks[at : at + n]])
        at += n
    return out


def current_rss_mb() -> float:
    """Resident memory of this process now (Linux /proc), in MiB."""
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def rss_child(source: str, out: str, method: str, threads: str) -> None:
    """Run in a fresh process: load the model, explain the corpus while a thread samples the
    resident memory every 50 ms, and report the RSS before, the peak during, and the end."""
    import threading

    torch.set_num_threads(int(threads))
    model = textlrp.load_model()
    textlrp.explain(model, ["warm up the model ."])
    before = current_rss_mb()
    samples = [before]
    running = threading.Event()
    running.set()

    def sample() -> None:
        while running.is_set():
            samples.append(current_rss_mb())
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    start = time.perf_counter()
    summary = explain_corpus(source, out, model, method=method, progress=False, overwrite=True)
    seconds = time.perf_counter() - start
    running.clear()
    sampler.join()
    print(
        json.dumps(
            {
                "documents": summary.documents,
                "seconds": seconds,
                "docs_per_s": summary.documents / seconds,
                "rss_before_mb": before,
                "peak_rss_during_mb": max(samples),
                "rss_after_mb": current_rss_mb(),
                "max_rss_of_process_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )


def peak_memory(model, count: int, folder: Path, method: str, threads: int) -> list[dict]:
    results = []
    for n in (count // 10, count):
        source = folder / f"synthetic-{n}.txt"
        write_texts(source, synthetic(model, n))
        env = os.environ | {"PYTHONPATH": str(HERE.parent / "src")}
        done = subprocess.run(
            [
                sys.executable,
                str(Path(__file__).resolve()),
                "--rss-child",
                str(source),
                str(folder / f"synthetic-{n}.parquet"),
                method,
                str(threads),
            ],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        results.append(json.loads(done.stdout.strip().splitlines()[-1]) | {"corpus": n})
        source.unlink()
        (folder / f"synthetic-{n}.parquet").unlink()
    return results


def driver_work(model, sentences, folder: Path) -> dict:
    """The Ray engine's sequential part: reading and chunking the input in the driver, and
    writing each chunk's rows as a part file plus the final merge (no explaining)."""
    import pyarrow.parquet as pq

    from textlrp.corpus.readers import open_corpus
    from textlrp.corpus.writer import PartStore

    source = folder / "texts.txt"
    write_texts(source, sentences)
    explain_corpus(source, folder / "rows.parquet", model, progress=False, overwrite=True)
    rows = pq.read_table(folder / "rows.parquet")
    start = time.perf_counter()
    chunks = list(open_corpus(source).chunks(1024))
    read_s = time.perf_counter() - start
    store = PartStore(folder / "copy.parquet", {"bench": 1}, {})
    store.open(overwrite=True)
    start = time.perf_counter()
    for chunk in chunks:
        store.write(chunk.index, rows.slice(chunk.start, len(chunk)), [])
    store.finalise()
    write_s = time.perf_counter() - start
    n = len(sentences)
    return {
        "documents": n,
        "read_s": read_s,
        "write_and_merge_s": write_s,
        "driver_docs_per_s": n / (read_s + write_s),
    }


def ray_versus_local(model, sentences, folder: Path) -> dict:
    import ray

    source = folder / "texts.txt"
    write_texts(source, sentences)
    start = time.perf_counter()
    explain_corpus(source, folder / "local.parquet", progress=False, overwrite=True)
    local = time.perf_counter() - start
    start = time.perf_counter()
    ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
    startup = time.perf_counter() - start
    try:
        start = time.perf_counter()
        explain_corpus(source, folder / "ray.parquet", engine="ray", progress=False, overwrite=True)
        on_ray = time.perf_counter() - start
    finally:
        ray.shutdown()
    import pyarrow.parquet as pq

    same = pq.read_table(folder / "ray.parquet").equals(pq.read_table(folder / "local.parquet"))
    n = len(sentences)
    return {
        "documents": n,
        "actors": os.cpu_count(),
        "local_s": local,
        "ray_s": on_ray,
        "ray_startup_s": startup,
        "local_docs_per_s": n / local,
        "ray_docs_per_s": n / on_ray,
        "ray_over_local": local / on_ray,
        "identical_rows": same,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="SST trees folder (else synthetic sentences)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rss-docs", type=int, default=100_000)
    parser.add_argument("--rss-method", default="lrp")
    parser.add_argument(
        "--ray-docs",
        type=int,
        default=0,
        help="also compare Ray and local on this many synthetic sentences "
        "(two sizes give Ray's fixed cost and steady throughput)",
    )
    parser.add_argument(
        "--skip", nargs="*", default=[], choices=["overhead", "rss", "ray", "driver"]
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads (default 1: steadier timings on a shared machine)",
    )
    parser.add_argument("--rss-child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rss_child:
        rss_child(*args.rss_child)
        return
    torch.set_num_threads(args.threads)
    model = textlrp.load_model()
    sentences, name = test_sentences(model, args.data_dir)
    load = os.getloadavg()[0]
    report = {
        "machine": f"{os.cpu_count()} CPU cores, torch threads {torch.get_num_threads()}, "
        f"load average {load:.1f} at the start",
        "texts": name,
    }
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if "overhead" not in args.skip:
            report["overhead"] = overhead(model, sentences, folder, args.repeats)
            print(json.dumps(report["overhead"], indent=1), flush=True)
        if "rss" not in args.skip:
            report["memory"] = peak_memory(
                model, args.rss_docs, folder, args.rss_method, args.threads
            )
            print(json.dumps(report["memory"], indent=1), flush=True)
        if "driver" not in args.skip:
            report["driver"] = driver_work(model, sentences, folder)
            print(json.dumps(report["driver"], indent=1), flush=True)
        if "ray" not in args.skip:
            report["ray"] = ray_versus_local(model, sentences, folder)
            print(json.dumps(report["ray"], indent=1), flush=True)
            if args.ray_docs:
                large = ray_versus_local(model, synthetic(model, args.ray_docs), folder)
                small = report["ray"]
                extra = large["documents"] - small["documents"]
                large["ray_steady_docs_per_s"] = extra / (large["ray_s"] - small["ray_s"])
                large["local_steady_docs_per_s"] = extra / (large["local_s"] - small["local_s"])
                large["ray_fixed_cost_s"] = (
                    small["ray_s"] - small["documents"] / large["ray_steady_docs_per_s"]
                )
                report["ray_large"] = large
                print(json.dumps(large, indent=1), flush=True)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
