"""The local engine: read a chunk, explain it, write its part, repeat (memory: one chunk)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from textlrp.corpus.pipeline import ChunkExplainer, ChunkResult
from textlrp.corpus.readers import RawChunk


def run_local(
    explainer: ChunkExplainer, chunks: Iterator[RawChunk], on_result: Callable[[ChunkResult], None]
) -> None:
    for chunk in chunks:
        on_result(explainer(chunk))
