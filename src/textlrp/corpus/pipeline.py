"""The per-chunk work of ``explain-corpus``: validate rows, explain them, build Arrow rows.

:class:`ChunkExplainer` is the ONE function both engines run: the local engine calls it in a
loop, the Ray engine calls it inside an actor. A chunk's rows are validated first (so one bad
document never costs the chunk), sorted by length into buckets of ``batch_size`` (little
padding), explained with the library's batched path, and returned as one Arrow table in
input order (document, then method, then target) plus the list of bad rows.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

import numpy as np
import torch

from textlrp.corpus._deps import pyarrow
from textlrp.corpus.readers import RawChunk
from textlrp.corpus.schema import TEXT_LIMIT, corpus_schema
from textlrp.corpus.validate import (
    DEFAULT_MAX_TOKENS,
    TOKENIZERS,
    Document,
    RowChecker,
    class_index,
)
from textlrp.errors import InputError, TextLRPError

pa = pyarrow()

DEFAULT_CHUNK_SIZE = 1024
SPECIAL_TARGETS = ("predicted", "label", "all")


@dataclasses.dataclass(frozen=True)
class CorpusSettings:
    """Everything that decides a corpus file's rows; a resumed run must use the same."""

    methods: tuple[str, ...] = ("lrp",)
    targets: tuple[str, ...] = ("predicted",)
    options: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)  # per method
    dtype: str = "float32"
    batch_size: int = 128
    chunk_size: int = DEFAULT_CHUNK_SIZE
    max_tokens: int = DEFAULT_MAX_TOKENS
    tokenizer: str = "sst"

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self) | {
            "methods": list(self.methods),
            "targets": list(self.targets),
        }


def make_settings(
    methods: str | list[str] | tuple[str, ...] = "lrp",
    targets: str | list[str] | tuple[str, ...] = "predicted",
    options: dict[str, Any] | None = None,
    **rest: Any,
) -> CorpusSettings:
    """Settings from user values; ``options`` go to each method that takes them (e.g. ``eps``)."""
    from textlrp.methods.base import get_method

    methods = _as_tuple(methods)
    targets = _as_tuple(targets)
    if not methods:
        raise InputError("give at least one method (see `textlrp methods`)")
    if not targets:
        raise InputError("give at least one target: predicted, label, all, a class name or index")
    options = dict(options or {})
    per_method = {}
    for method in methods:
        accepted = get_method(method).options
        per_method[method] = {k: v for k, v in sorted(options.items()) if k in accepted}
    unused = set(options) - {k for o in per_method.values() for k in o}
    if unused:
        raise InputError(f"no chosen method takes option(s) {', '.join(sorted(unused))}")
    settings = CorpusSettings(methods, targets, per_method, **rest)
    if settings.dtype not in ("float32", "float64"):
        raise InputError(f"unknown dtype {settings.dtype!r}; choose float32 or float64")
    if settings.tokenizer not in TOKENIZERS:
        raise InputError(
            f"unknown tokenizer {settings.tokenizer!r}; choose one of: {', '.join(TOKENIZERS)}"
        )
    for name in ("batch_size", "chunk_size", "max_tokens"):
        if getattr(settings, name) < 1:
            raise InputError(f"{name} must be at least 1")
    return settings


def _as_tuple(value: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    if isinstance(value, str | int):
        value = str(value).split(",")
    return tuple(str(v).strip() for v in value if str(v).strip())


def model_hash(model: torch.nn.Module) -> str:
    """SHA-256 (16 hex digits) of the weights, the vocabulary and the class names."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        array = tensor.detach().cpu().contiguous()
        digest.update(f"{name}:{array.dtype}:{tuple(array.shape)}".encode())
        digest.update(array.numpy().tobytes() if array.dtype != torch.bfloat16 else b"")
    vocab = getattr(model, "vocab", None)
    if vocab is not None:
        digest.update("\n".join(vocab.itos).encode("utf-8"))
    digest.update("\n".join(model.class_names).encode("utf-8"))
    return digest.hexdigest()[:16]


@dataclasses.dataclass
class ChunkResult:
    """One chunk's output: rows in the corpus schema, and the rows that could not be explained."""

    index: int
    start: int
    rows: int  # input rows covered
    table: Any
    bad: list[dict[str, Any]]
    documents: int  # documents explained
    tokens: int  # tokens of those documents


class ChunkExplainer:
    """Explains chunks of raw rows with one model and one :class:`CorpusSettings`."""

    def __init__(self, model: torch.nn.Module, settings: CorpusSettings) -> None:
        import textlrp
        from textlrp.methods.base import get_method

        for method in settings.methods:
            get_method(method)
        self.model = model  # explain_batch runs an eval-mode copy; the caller's stays as is
        self.settings = settings
        self.class_names = list(model.class_names)
        self.hash = model_hash(model)
        self.version = textlrp.__version__
        self.checker = RowChecker(model, settings.tokenizer, settings.max_tokens)
        self.schema = corpus_schema(pa.float64() if settings.dtype == "float64" else None)
        for target in settings.targets:
            if target not in SPECIAL_TARGETS:
                self._class_index(target)  # raises for an unknown class

    # ------------------------------------------------------------------ validation
    def _class_index(self, value: Any) -> int:
        return class_index(value, self.class_names)

    # ------------------------------------------------------------------ explaining
    def __call__(self, chunk: RawChunk) -> ChunkResult:
        docs, bad = self.checker.check(chunk)  # textlrp.corpus.validate: the row checks
        docs.sort(key=lambda d: len(d.tokens))
        parts: list[Any] = []
        size = self.settings.batch_size
        for begin in range(0, len(docs), size):
            bucket = docs[begin : begin + size]
            try:
                parts.extend(self._explain_bucket(bucket, bad, chunk))
            except TextLRPError:
                # One document spoilt the bucket (NaN relevance, say): explain one by one.
                for doc in bucket:
                    try:
                        parts.extend(self._explain_bucket([doc], bad, chunk))
                    except TextLRPError as exc:
                        bad.append(
                            {
                                "id": doc.id,
                                "row": chunk.start + doc.position + 1,
                                "reason": "explain-error",
                                "detail": str(exc),
                            }
                        )
        table = self._ordered(parts)
        explained = {d.position for d in docs} - {
            b["row"] - chunk.start - 1 for b in bad if b["reason"] == "explain-error"
        }
        tokens = sum(len(d.tokens) for d in docs if d.position in explained)
        bad.sort(key=lambda b: b["row"])
        return ChunkResult(chunk.index, chunk.start, len(chunk), table, bad, len(explained), tokens)

    def _targets_of(self, bucket: list[Document]) -> list[tuple[int, str, list[int], list[Any]]]:
        """(target order, target spec, bucket rows, per-row targets) for each target spec."""
        out = []
        order = 0
        for spec in self.settings.targets:
            if spec == "all":
                for c in range(len(self.class_names)):
                    out.append((order, str(c), list(range(len(bucket))), [c] * len(bucket)))
                    order += 1
                continue
            if spec == "label":
                rows = [i for i, d in enumerate(bucket) if d.label is not None]
                out.append((order, spec, rows, [bucket[i].label for i in rows]))
            elif spec == "predicted":
                out.append((order, spec, list(range(len(bucket))), ["predicted"] * len(bucket)))
            else:
                c = self._class_index(spec)
                out.append((order, spec, list(range(len(bucket))), [c] * len(bucket)))
            order += 1
        return out

    def _explain_bucket(self, bucket: list[Document], bad: list, chunk: RawChunk) -> list[Any]:
        from textlrp.api import explain_batch
        from textlrp.batching import encode_batch

        encoded = encode_batch(self.model, [d.tokens for d in bucket])
        tables, missing_label = [], []
        for method_order, method in enumerate(self.settings.methods):
            options = self.settings.options.get(method, {})
            for target_order, spec, rows, targets in self._targets_of(bucket):
                if len(rows) < len(bucket) and method_order == 0:
                    for i in set(range(len(bucket))) - set(rows):
                        d = bucket[i]
                        missing_label.append(
                            {
                                "id": d.id,
                                "row": chunk.start + d.position + 1,
                                "reason": "no-label",
                                "detail": f"target '{spec}' needs a label; this row has none",
                            }
                        )
                if not rows:
                    continue
                index = torch.tensor(rows, dtype=torch.long)
                steps = int(encoded.lengths[index].max())
                batch = encoded if len(rows) == len(bucket) else encoded.select(index, steps)
                result = explain_batch(
                    self.model,
                    batch,
                    method,
                    targets,
                    dtype=self.settings.dtype,
                    batch_size=len(rows),
                    per_dim=False,  # the corpus schema stores word relevance only
                    **options,
                )
                docs = [bucket[i] for i in rows]
                tables.append(
                    self._rows(
                        docs, batch, result.batch, method, options, method_order, target_order
                    )
                )
        bad.extend(missing_label)  # only once the whole bucket is explained
        return tables

    def _rows(self, docs, encoded, out, method, options, method_order, target_order) -> Any:
        """Arrow rows of one explained batch, with sort keys (position, method, target)."""
        mask = out.mask.cpu()
        lengths = out.lengths.cpu().numpy().astype(np.int32)
        offsets = pa.array(np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32))
        relevance_type = self.schema.field("relevance").type.value_type
        relevance = out.relevance.detach().cpu()
        flat_relevance = pa.array(relevance[mask].numpy(), relevance_type)
        flat_unknown = pa.array(encoded.unknown.cpu()[mask].numpy())
        flat_tokens = pa.array([t for d in docs for t in d.tokens], pa.string())
        scores = out.scores.detach().cpu().double()
        targets = out.targets.cpu()
        probabilities = torch.softmax(scores, -1)
        predicted = scores.argmax(-1)
        count = len(docs)
        classes = len(self.class_names)
        score = scores[torch.arange(count), targets]
        residual = None
        if _conserving(method, options):
            residual = (
                score
                - relevance.double().sum(1)
                - out.initial_state_relevance.cpu().double()
                - out.bias_relevance.cpu().double()
            ).numpy()
        labels = [d.label for d in docs]
        target_list = targets.tolist()
        predicted_list = predicted.tolist()
        options_json = json.dumps(options, sort_keys=True)
        columns = {
            "id": pa.array([d.id for d in docs], pa.string()),
            "text": pa.array([d.text[:TEXT_LIMIT] for d in docs], pa.string()),
            "tokens": pa.ListArray.from_arrays(offsets, flat_tokens),
            "relevance": pa.ListArray.from_arrays(offsets, flat_relevance),
            "unknown": pa.ListArray.from_arrays(offsets, flat_unknown),
            "predicted": pa.array(predicted_list, pa.int32()),
            "predicted_name": pa.array([self.class_names[p] for p in predicted_list]),
            "probabilities": pa.FixedSizeListArray.from_arrays(
                pa.array(probabilities.float().reshape(-1).numpy()), classes
            ).cast(pa.list_(pa.float32())),
            "score": pa.array(score.numpy(), pa.float64()),
            "target": pa.array(target_list, pa.int32()),
            "target_name": pa.array([self.class_names[t] for t in target_list]),
            "label": pa.array(labels, pa.int32()),
            "label_name": pa.array(
                [None if x is None else self.class_names[x] for x in labels], pa.string()
            ),
            "method": pa.array([method] * count, pa.string()),
            "options": pa.array([options_json] * count, pa.string()),
            "conservation_residual": pa.array(residual, pa.float64())
            if residual is not None
            else pa.nulls(count, pa.float64()),
            "model_hash": pa.array([self.hash] * count, pa.string()),
            "textlrp_version": pa.array([self.version] * count, pa.string()),
        }
        table = pa.table(columns, schema=self.schema)
        keys = pa.table(
            {
                "_position": pa.array([d.position for d in docs], pa.int64()),
                "_method": pa.array([method_order] * count, pa.int32()),
                "_target": pa.array([target_order] * count, pa.int32()),
            }
        )
        return table, keys

    def _ordered(self, parts: list[tuple[Any, Any]]) -> Any:
        """All rows of the chunk in input order: by document, then method, then target."""
        if not parts:
            return self.schema.empty_table()
        table = pa.concat_tables([t for t, _ in parts])
        keys = pa.concat_tables([k for _, k in parts])
        order = np.lexsort(
            (
                keys.column("_target").to_numpy(),
                keys.column("_method").to_numpy(),
                keys.column("_position").to_numpy(),
            )
        )
        return table.take(pa.array(order))


def _conserving(method: str, options: dict[str, Any]) -> bool:
    """LRP with bias factor δ = 1, whose relevance the conservation residual checks."""
    if method == "lrp_cons":
        return True
    return method == "lrp" and float(options.get("bias_factor", 0.0)) == 1.0
