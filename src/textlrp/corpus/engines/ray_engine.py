"""The Ray engine: the same :class:`ChunkExplainer` inside Ray Data actors.

The driver streams the input with the local readers (so row numbers, ids and bad-row checks
are the local engine's), puts each chunk into the object store, and lets Ray Data's
``map_batches`` send the chunks to a pool of actors; each actor loads the model once and calls
:class:`ChunkExplainer` on its chunks, exactly as the local engine does. Results come back in
chunk order and are written by the driver's :class:`~textlrp.corpus.writer.PartStore`, so
resuming and the output file are the same as locally.
"""

from __future__ import annotations

import io
import json
import logging
import os
from collections.abc import Callable, Iterator
from typing import Any

from textlrp.corpus._deps import require
from textlrp.corpus.pipeline import ChunkExplainer, ChunkResult, CorpusSettings
from textlrp.corpus.readers import RawChunk


class ExplainActor:
    """A Ray Data actor: loads the model once, explains whole chunks (a thin wrapper)."""

    def __init__(
        self, model_source: Any, settings: CorpusSettings, threads: int = 1, gpu: bool = False
    ) -> None:
        import torch

        from textlrp.corpus.run import resolve_model

        torch.set_num_threads(max(1, threads))
        model = resolve_model(model_source)
        if gpu and torch.cuda.is_available():  # Ray gave this actor a GPU
            model = model.to("cuda")
        self.explainer = ChunkExplainer(model, settings)

    def __call__(self, batch: Any) -> Any:
        import pyarrow as pa

        out = []
        chunk_numbers = batch.column("chunk").to_pylist()
        for number in sorted(set(chunk_numbers)):
            rows = [i for i, c in enumerate(chunk_numbers) if c == number]
            chunk = RawChunk.from_arrow(batch.take(pa.array(rows)))
            out.append(_pack(self.explainer(chunk)))
        return pa.Table.from_pylist(out)


def _pack(result: ChunkResult) -> dict[str, Any]:
    import pyarrow as pa

    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, result.table.schema) as writer:
        writer.write_table(result.table)
    return {
        "chunk": result.index,
        "start": result.start,
        "rows": result.rows,
        "table": sink.getvalue(),
        "bad": json.dumps(result.bad, ensure_ascii=False),
        "documents": result.documents,
        "tokens": result.tokens,
    }


def _unpack(row: dict[str, Any]) -> ChunkResult:
    import pyarrow as pa

    table = pa.ipc.open_stream(row["table"]).read_all()
    return ChunkResult(
        row["chunk"],
        row["start"],
        row["rows"],
        table,
        json.loads(row["bad"]),
        row["documents"],
        row["tokens"],
    )


def run_ray(
    model_source: Any,
    settings: CorpusSettings,
    chunks: Iterator[RawChunk],
    on_result: Callable[[ChunkResult], None],
    address: str | None = None,
    actors: int | None = None,
    gpus_per_actor: float | None = None,
) -> None:
    """Explain ``chunks`` on a Ray cluster (``address``, ``$RAY_ADDRESS`` or a local one)."""
    ray = require("ray", "ray")
    require("ray.data", "ray")
    if not ray.is_initialized():
        ray.init(
            address=address or os.environ.get("RAY_ADDRESS"),
            include_dashboard=False,
            log_to_driver=False,
        )
    resources = ray.cluster_resources()
    cluster_gpus = int(resources.get("GPU", 0))
    if gpus_per_actor is None:
        gpus_per_actor = 1.0 if cluster_gpus else 0.0
    if actors is None:
        actors = cluster_gpus if gpus_per_actor else max(1, int(resources.get("CPU", 1)))
    threads = 1 if not gpus_per_actor else max(1, int(resources.get("CPU", 1)) // max(actors, 1))
    refs = [ray.put(chunk.to_arrow()) for chunk in chunks]
    if not refs:
        return
    context = ray.data.DataContext.get_current()
    context.execution_options.preserve_order = True
    logging.getLogger("ray.data").setLevel(logging.ERROR)
    context.enable_progress_bars = False  # explain-corpus shows its own progress bar
    dataset = ray.data.from_arrow_refs(refs).map_batches(
        ExplainActor,
        fn_constructor_kwargs={
            "model_source": model_source,
            "settings": settings,
            "threads": threads,
            "gpu": bool(gpus_per_actor),
        },
        batch_size=None,  # one block = one chunk
        batch_format="pyarrow",
        compute=ray.data.ActorPoolStrategy(size=actors),
        num_cpus=1 if not gpus_per_actor else threads,
        num_gpus=gpus_per_actor,
    )
    seen: set[int] = set()
    for batch in dataset.iter_batches(batch_size=None, batch_format="pyarrow"):
        for row in batch.to_pylist():
            if row["chunk"] in seen:
                raise RuntimeError(f"chunk {row['chunk']} came back twice from Ray")
            seen.add(row["chunk"])
            on_result(_unpack(row))
