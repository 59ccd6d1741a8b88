"""``explain_corpus``: a whole corpus to one Parquet file, streamed, resumable, either engine."""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path
from typing import Any

import torch

from textlrp.corpus.engines import ENGINES
from textlrp.corpus.pipeline import ChunkExplainer, ChunkResult, make_settings
from textlrp.corpus.readers import open_corpus
from textlrp.corpus.writer import PartStore, bad_path, bad_reasons
from textlrp.errors import InputError


@dataclasses.dataclass
class CorpusSummary:
    """What one ``explain_corpus`` call did (documents and bad rows of this call only)."""

    out: Path
    bad_file: Path | None
    documents: int  # explained in this call
    rows: int  # Parquet rows written in this call
    tokens: int
    skipped_chunks: int  # already done by an earlier, interrupted run
    bad: dict[str, int]  # bad rows by reason, over the whole output
    seconds: float

    @property
    def documents_per_second(self) -> float:
        return self.documents / self.seconds if self.seconds else 0.0

    def describe(self) -> str:
        lines = [
            f"wrote {self.out}: {self.documents} documents ({self.rows} rows, {self.tokens} "
            f"tokens) in {self.seconds:.1f} s, {self.documents_per_second:.0f} documents/s"
        ]
        if self.skipped_chunks:
            lines.append(f"resumed: {self.skipped_chunks} chunk(s) were already done")
        if self.bad:
            listed = ", ".join(f"{k}: {v}" for k, v in sorted(self.bad.items()))
            lines.append(f"{sum(self.bad.values())} bad rows ({listed}) listed in {self.bad_file}")
        return "\n".join(lines)


def resolve_model(source: Any) -> torch.nn.Module:
    """``None`` (bundled model), a saved model path, or a model object used as it is."""
    import textlrp

    if source is None or isinstance(source, str | Path):
        return textlrp.load_model(source)
    if isinstance(source, torch.nn.Module):
        if not hasattr(source, "class_names") or not hasattr(source, "vocab"):
            raise InputError(
                "the model must have class_names and a vocab: load one with textlrp.load_model "
                "or wrap your own with textlrp.wrap_model"
            )
        return source
    raise InputError(f"model must be None, a path or a textlrp model, got {type(source).__name__}")


def _model_name(source: Any) -> str:
    if source is None:
        return "bundled:sst_bilstm.pt"
    if isinstance(source, str | Path):
        return str(Path(source).resolve())
    return f"python:{type(source).__module__}.{type(source).__qualname__}"


def explain_corpus(
    source: str | Path,
    out: str | Path,
    model: Any = None,
    method: str | list[str] = "lrp",
    target: str | list[str] = "predicted",
    *,
    text_column: str | None = None,
    id_column: str | None = None,
    label_column: str | None = None,
    input_format: str | None = None,
    data_dir: str | Path | None = None,
    dtype: str = "float32",
    batch_size: int = 128,
    chunk_size: int = 1024,
    max_tokens: int = 2000,
    tokenizer: str | None = None,
    limit: int | None = None,
    engine: str = "local",
    address: str | None = None,
    actors: int | None = None,
    gpus_per_actor: float | None = None,
    progress: bool = True,
    overwrite: bool = False,
    **options: Any,
) -> CorpusSummary:
    """Explain every document of ``source`` and write one row per (document, method, target).

    ``source`` is a CSV/TSV/JSONL/Parquet/text file or a data set name (``sst-test``).
    ``model`` is ``None`` (bundled), a saved model path or a model object; ``method`` and
    ``target`` are one value or a list (comma-separated strings work too); ``options`` go to
    the methods that take them (``eps``, ``bias_factor``, ``product_rule``). Rerunning the same
    call after a crash resumes where it stopped. Returns a :class:`CorpusSummary`.
    """
    if engine not in ENGINES:
        raise InputError(f"unknown engine {engine!r}; choose one of: {', '.join(ENGINES)}")
    started = time.perf_counter()
    out = Path(out)
    if out.suffix != ".parquet":
        raise InputError(f"the output file must end in .parquet, got {out.name}")
    corpus = open_corpus(source, text_column, id_column, label_column, input_format, data_dir)
    settings = make_settings(
        method,
        target,
        options,
        dtype=dtype,
        batch_size=batch_size,
        chunk_size=chunk_size,
        max_tokens=max_tokens,
        tokenizer=tokenizer or corpus.tokenizer or "sst",
    )
    loaded = resolve_model(model)
    explainer = ChunkExplainer(loaded, settings)
    _match_named_labels(corpus, explainer.class_names, source)
    if "label" in settings.targets and not corpus.has_labels:
        raise InputError("target 'label' needs labels: pass --label-column NAME")
    run = {
        "input": corpus.name if corpus.class_names else str(Path(corpus.name).resolve()),
        "columns": [text_column, id_column, label_column],
        "model_hash": explainer.hash,
        "limit": limit,
        "settings": settings.to_json(),
    }
    metadata = {
        "class_names": explainer.class_names,
        "model": _model_name(model),
        "model_hash": explainer.hash,
        "textlrp_version": explainer.version,
    }
    store = PartStore(out, run, metadata)
    done = store.open(overwrite=overwrite)
    if store.finished:
        return CorpusSummary(
            out, bad_path(out), 0, 0, 0, 0, bad_reasons(out), time.perf_counter() - started
        )
    total = corpus.total if limit is None else min(limit, corpus.total or limit)
    chunks = corpus.chunks(chunk_size, skip=done)
    if limit is not None:
        chunks = _limited(chunks, limit)
    counts = {"documents": 0, "rows": 0, "tokens": 0}
    bar = _progress_bar(total, len(done) * chunk_size, progress)

    def on_result(result: ChunkResult) -> None:
        store.write(result.index, result.table, result.bad)
        counts["documents"] += result.documents
        counts["rows"] += result.table.num_rows
        counts["tokens"] += result.tokens
        if bar is not None:
            bar.update(result.rows)

    try:
        if engine == "local":
            from textlrp.corpus.engines.local import run_local

            run_local(explainer, chunks, on_result)
        else:
            from textlrp.corpus.engines.ray_engine import run_ray

            run_ray(
                model,
                settings,
                chunks,
                on_result,
                address=address,
                actors=actors,
                gpus_per_actor=gpus_per_actor,
            )
    finally:
        if bar is not None:
            bar.close()
    reasons = store.finalise()
    return CorpusSummary(
        out,
        bad_path(out) if reasons else None,
        counts["documents"],
        counts["rows"],
        counts["tokens"],
        len(done),
        reasons,
        time.perf_counter() - started,
    )


def _match_named_labels(corpus, model_classes: list[str], source) -> None:
    """A named data set's labels index its own classes: keep them where the model has the
    same classes (or as many, matched by index, with a note), else drop them."""
    if corpus.class_names is None:
        return
    if [c.lower() for c in corpus.class_names] == [c.lower() for c in model_classes]:
        return
    if len(corpus.class_names) == len(model_classes):
        print(
            f"textlrp: note: {source} labels {corpus.class_names} are matched by index to "
            f"the model's classes {model_classes}",
            file=sys.stderr,
        )
        return
    print(
        f"textlrp: note: {source} has {len(corpus.class_names)} classes, the model "
        f"{len(model_classes)}; its labels are left out",
        file=sys.stderr,
    )
    rows = corpus.rows
    corpus.rows = lambda: ((i, text, None, problem) for i, text, _, problem in rows())
    corpus.has_labels = False


def _limited(chunks, limit: int):
    for chunk in chunks:
        if chunk.start >= limit:
            return
        if chunk.start + len(chunk) > limit:
            keep = limit - chunk.start
            chunk.ids, chunk.texts = chunk.ids[:keep], chunk.texts[:keep]
            chunk.labels, chunk.problems = chunk.labels[:keep], chunk.problems[:keep]
        yield chunk


def _progress_bar(total: int | None, initial: int, enabled: bool):
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(
        total=total,
        initial=min(initial, total or initial),
        unit="doc",
        dynamic_ncols=True,
        file=sys.stderr,
        desc="explain-corpus",
    )
