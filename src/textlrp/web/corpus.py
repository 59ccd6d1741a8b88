"""Browsing a corpus Parquet file written by ``textlrp explain-corpus``, with pyarrow only.

At start-up only the small per-row columns (id, classes, method, score, probabilities, the first
160 characters of the text) are read into one Arrow table, the *index*. Filters run on it with
``pyarrow.compute`` and sorting with a stable NumPy argsort of one column; the large columns
(text, tokens, relevance) are scanned batch by batch when a search or a word's relevance needs
them (results cached), and read from one row group to open a document. Nothing is turned into
Python objects except the rows a page shows.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from textlrp.errors import DataError, InputError

REQUIRED_COLUMNS = (
    "id",
    "text",
    "tokens",
    "relevance",
    "predicted",
    "predicted_name",
    "probabilities",
    "score",
    "target",
    "target_name",
    "label",
    "label_name",
    "method",
)
INDEX_COLUMNS = (
    "id",
    "predicted",
    "predicted_name",
    "score",
    "target",
    "target_name",
    "label",
    "label_name",
    "method",
)
SORT_KEYS = ("row", "score", "probability", "target_probability", "word")
SCAN_BATCH = 65_536
SNIPPET_CHARS = 160
MAX_PAGE_SIZE = 200


class LRUCache:
    """A small thread-safe least-recently-used cache of computed columns."""

    def __init__(self, size: int = 16) -> None:
        self._items: OrderedDict[Any, Any] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, key: Any, compute: Callable[[], Any]) -> Any:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = compute()
        with self._lock:
            self._items[key] = value
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return value


class Corpus:
    """One corpus file: its index table, its metadata and queries over it."""

    def __init__(self, path: str | Path, name: str | None = None) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise DataError(f"corpus file not found: {self.path} (write one with explain-corpus)")
        try:
            self._file = pq.ParquetFile(self.path)
        except (pa.ArrowInvalid, OSError) as exc:
            raise DataError(f"{self.path} is not a readable Parquet file: {exc}") from None
        schema = self._file.schema_arrow
        missing = [c for c in REQUIRED_COLUMNS if c not in schema.names]
        if missing:
            raise DataError(
                f"{self.path} lacks the corpus column(s) {', '.join(missing)}; "
                "write it with `textlrp explain-corpus`"
            )
        self.name = name or self.path.stem
        self.columns = schema.names
        self.metadata = _textlrp_metadata(schema)
        index = self._file.read(columns=[*INDEX_COLUMNS, "probabilities"])
        probabilities = index.column("probabilities").combine_chunks()
        index = index.drop_columns(["probabilities"])
        index = index.append_column("row", pa.array(np.arange(index.num_rows, dtype=np.int64)))
        index = index.append_column(
            "probability", _pick(probabilities, index.column("predicted").to_numpy())
        )
        index = index.append_column(
            "target_probability", _pick(probabilities, index.column("target").to_numpy())
        )
        index = index.append_column("snippet", self._snippets())
        self.index = index.combine_chunks()
        self._cache = LRUCache()
        sizes = [
            self._file.metadata.row_group(g).num_rows for g in range(self._file.num_row_groups)
        ]
        self._group_starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)

    # ----------------------------------------------------------------- description
    @property
    def rows(self) -> int:
        return self.index.num_rows

    def class_names(self) -> list[str]:
        names = self.metadata.get("class_names")
        if isinstance(names, list) and names:
            return [str(n) for n in names]
        return _distinct(self.index.column("predicted_name"))

    def describe(self, number: int) -> dict[str, Any]:
        return {
            "index": number,
            "name": self.name,
            "rows": self.rows,
            "class_names": self.class_names(),
            "label_names": _in_class_order(
                _distinct(self.index.column("label_name")), self.class_names()
            ),
            "methods": _distinct(self.index.column("method")),
            "model": self.metadata.get("model"),
            "model_hash": self.metadata.get("model_hash"),
            "textlrp_version": self.metadata.get("textlrp_version"),
        }

    # ----------------------------------------------------------------- queries
    def query(
        self,
        *,
        q: str = "",
        predicted: str | None = None,
        label: str | None = None,
        target: str | None = None,
        misclassified: bool | None = None,
        method: str | None = None,
        sort: str = "row",
        descending: bool = False,
        word: str = "",
        page: int = 1,
        page_size: int = 25,
    ) -> dict[str, Any]:
        """One page of rows matching the filters, sorted; ``total`` counts all matches."""
        if sort not in SORT_KEYS:
            raise InputError(f"unknown sort key '{sort}'; choose one of: {', '.join(SORT_KEYS)}")
        if sort == "word" and not word.strip():
            raise InputError("sorting by a word's relevance needs the word (parameter word)")
        if page < 1 or not 1 <= page_size <= MAX_PAGE_SIZE:
            raise InputError(f"page must be >= 1 and page_size in 1..{MAX_PAGE_SIZE}")
        table = self.index
        mask = None
        for column, value in (
            ("predicted_name", predicted),
            ("label_name", label),
            ("target_name", target),
            ("method", method),
        ):
            if value not in (None, ""):
                mask = _and(mask, pc.fill_null(pc.equal(table.column(column), value), False))
        if misclassified is not None:
            labelled = pc.is_valid(table.column("label"))
            wrong = pc.not_equal(table.column("predicted"), table.column("label"))
            hit = wrong if misclassified else pc.invert(wrong)
            mask = _and(mask, pc.and_(labelled, pc.fill_null(hit, False)))
        if q.strip():
            mask = _and(mask, self._search_mask(q.strip()))
        if mask is None:
            matched = np.arange(table.num_rows)
        else:
            matched = np.flatnonzero(_numpy(mask))
        word = word.strip()
        word_values = self._word_relevance(word) if word else None
        if sort != "row":
            values = word_values if sort == "word" else self._sort_values(sort)
            keys = values[matched]
            # a stable sort keeps file order among ties; NaN (no such word) sorts last
            keys = np.where(np.isnan(keys), np.inf, -keys if descending else keys)
            matched = matched[np.argsort(keys, kind="stable")]
        elif descending:
            matched = matched[::-1]
        total = len(matched)
        start = (page - 1) * page_size
        page_rows = matched[start : start + page_size]
        rows = table.take(pa.array(page_rows, type=pa.int64())).to_pylist()
        for record in rows:
            record["misclassified"] = (
                None if record["label"] is None else record["label"] != record["predicted"]
            )
            if word_values is not None:
                value = float(word_values[record["row"]])
                record["word_relevance"] = None if np.isnan(value) else value
        return {"total": total, "page": page, "page_size": page_size, "rows": rows}

    def _sort_values(self, key: str) -> np.ndarray:
        """A numeric index column as float64 with NaN for nulls (cached)."""
        return self._cache.get(
            ("sort", key),
            lambda: _numpy(pc.cast(self.index.column(key), pa.float64()), np.nan),
        )

    def document(self, row: int) -> dict[str, Any]:
        """One row in full, with every row of the same document id (its other explanations)."""
        if not 0 <= row < self.rows:
            raise InputError(f"row {row} is out of range; the corpus has rows 0..{self.rows - 1}")
        doc_id = self.index.column("id")[row].as_py()
        same = pc.equal(self.index.column("id"), doc_id) if doc_id is not None else None
        siblings = (
            self.index.filter(pc.fill_null(same, False)).column("row").to_pylist()
            if same is not None
            else [row]
        )
        siblings = [row] + [r for r in siblings if r != row]
        columns = [
            c
            for c in self.columns
            if c in (*REQUIRED_COLUMNS, "unknown", "options", "conservation_residual")
        ]
        records = [self._row(r, columns) for r in siblings]
        return {"row": row, "id": doc_id, "rows": siblings, "records": records}

    def aggregate(self, method: str | None, top: int = 15, min_count: int = 3) -> dict[str, Any]:
        """Words with the highest and lowest mean relevance for each target class."""
        if not 1 <= top <= 100 or min_count < 1:
            raise InputError("top must be in 1..100 and min_count >= 1")
        grouped = self._cache.get(("aggregate", method or ""), lambda: self._word_sums(method))
        names = self.class_names()
        classes = []
        kept = grouped.filter(pc.greater_equal(grouped.column("count"), min_count))
        for target in sorted(set(kept.column("target").to_pylist())):
            part = kept.filter(pc.equal(kept.column("target"), target))
            name = names[target] if 0 <= target < len(names) else str(target)
            columns = ["token", "mean", "sum", "count"]
            order = pc.sort_indices(
                part, sort_keys=[("mean", "descending"), ("token", "ascending")]
            )
            best = part.take(order[:top]).select(columns).to_pylist()
            # the most negative words, leaving out those already among the best
            rest = part.take(order[len(best) :]).select(columns).to_pylist()
            ranked = {"top": best, "bottom": rest[::-1][:top]}
            classes.append({"target": target, "name": name, **ranked})
        return {"method": method, "min_count": min_count, "classes": classes}

    # ----------------------------------------------------------------- scans
    def _batches(self, columns: list[str]) -> Iterator[pa.RecordBatch]:
        yield from self._file.iter_batches(batch_size=SCAN_BATCH, columns=columns)

    def _search_mask(self, q: str) -> pa.Array:
        def compute() -> pa.Array:
            parts = []
            for batch in self._batches(["id", "text"]):
                in_text = pc.match_substring(batch.column("text"), q, ignore_case=True)
                in_id = pc.match_substring(batch.column("id"), q, ignore_case=True)
                parts.append(pc.fill_null(pc.or_(in_text, in_id), False))
            return _concat(parts, pa.bool_())

        return self._cache.get(("search", q.lower()), compute)

    def _word_relevance(self, word: str) -> np.ndarray:
        """Per row, the summed relevance of the tokens equal to ``word`` (null if absent)."""
        lowered = word.lower()

        def compute() -> pa.Array:
            parts = []
            for batch in self._batches(["tokens", "relevance"]):
                n = batch.num_rows
                batch, rows = _matching_lengths(batch)
                tokens = batch.column("tokens")
                flat = pc.utf8_lower(pc.list_flatten(tokens))
                hits = pc.fill_null(pc.equal(flat, lowered), False).to_numpy(zero_copy_only=False)
                parents = rows[pc.list_parent_indices(tokens).to_numpy()]
                values = pc.list_flatten(batch.column("relevance")).to_numpy(zero_copy_only=False)
                sums = np.bincount(parents[hits], weights=values[hits], minlength=n)
                counts = np.bincount(parents[hits], minlength=n)
                parts.append(np.where(counts > 0, sums, np.nan))
            return np.concatenate(parts) if parts else np.zeros(0)

        return self._cache.get(("word", lowered), compute)

    def _word_sums(self, method: str | None) -> pa.Table:
        """Sum and count of relevance per (target class, token), over rows of ``method``."""
        partial = []
        for batch in self._batches(["tokens", "relevance", "target", "method"]):
            if method:
                batch = batch.filter(pc.fill_null(pc.equal(batch.column("method"), method), False))
            batch, _ = _matching_lengths(batch)
            if batch.num_rows == 0:
                continue
            tokens = batch.column("tokens")
            parents = pc.list_parent_indices(tokens)
            flat = pa.table(
                {
                    "target": pc.take(batch.column("target"), parents),
                    "token": pc.list_flatten(tokens),
                    "relevance": pc.cast(pc.list_flatten(batch.column("relevance")), pa.float64()),
                }
            )
            partial.append(
                flat.group_by(["target", "token"]).aggregate(
                    [("relevance", "sum"), ("relevance", "count")]
                )
            )
        if not partial:
            return pa.table(
                {
                    "target": pa.array([], pa.int32()),
                    "token": pa.array([], pa.string()),
                    "sum": pa.array([], pa.float64()),
                    "count": pa.array([], pa.int64()),
                    "mean": pa.array([], pa.float64()),
                }
            )
        merged = (
            pa.concat_tables(partial)
            .group_by(["target", "token"])
            .aggregate([("relevance_sum", "sum"), ("relevance_count", "sum")])
        )
        total = merged.column("relevance_sum_sum")
        count = merged.column("relevance_count_sum")
        return pa.table(
            {
                "target": merged.column("target"),
                "token": merged.column("token"),
                "sum": total,
                "count": count,
                "mean": pc.divide(total, pc.cast(count, pa.float64())),
            }
        )

    def _row(self, row: int, columns: list[str]) -> dict[str, Any]:
        """One row's ``columns``, reading only its row group."""
        group = int(np.searchsorted(self._group_starts, row, side="right")) - 1
        part = self._file.read_row_group(group, columns=columns)
        return part.slice(row - int(self._group_starts[group]), 1).to_pylist()[0]

    def _snippets(self) -> pa.Array:
        """The start of every text (kept in memory, so a page needs no read of the file)."""
        parts = []
        for batch in self._batches(["text"]):
            text = pc.fill_null(batch.column("text"), "")
            short = pc.utf8_slice_codeunits(text, 0, SNIPPET_CHARS)
            longer = pc.greater(pc.utf8_length(text), SNIPPET_CHARS)
            parts.append(pc.if_else(longer, pc.binary_join_element_wise(short, "…", ""), short))
        return _concat(parts, pa.string())


def _textlrp_metadata(schema: pa.Schema) -> dict[str, Any]:
    raw = (schema.metadata or {}).get(b"textlrp")
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return {}
    return value if isinstance(value, dict) else {}


def _pick(lists: pa.ListArray | pa.ChunkedArray, index: np.ndarray) -> pa.Array:
    """``lists[i][index[i]]`` for every row, null where the index falls outside the list."""
    if isinstance(lists, pa.ChunkedArray):
        lists = lists.combine_chunks() if lists.num_chunks else pa.array([], lists.type)
    flat = pc.list_flatten(lists).to_numpy(zero_copy_only=False).astype(np.float64)
    offsets = lists.offsets.to_numpy()
    lengths = np.diff(offsets)
    index = np.nan_to_num(index.astype(np.float64), nan=-1).astype(np.int64)
    valid = (index >= 0) & (index < lengths)
    values = np.zeros(len(index), dtype=np.float64)
    values[valid] = flat[offsets[:-1][valid] + index[valid]]
    return pa.array(values, mask=~valid, type=pa.float64())


def _matching_lengths(batch: pa.RecordBatch) -> tuple[pa.RecordBatch, np.ndarray]:
    """The rows whose token and relevance lists have the same length, and their positions."""
    same = pc.equal(
        pc.list_value_length(batch.column("tokens")),
        pc.list_value_length(batch.column("relevance")),
    )
    same = pc.fill_null(same, False)
    if pc.all(same).as_py():
        return batch, np.arange(batch.num_rows)
    return batch.filter(same), np.flatnonzero(same.to_numpy(zero_copy_only=False))


def _and(mask: pa.Array | None, other: pa.Array) -> pa.Array:
    return other if mask is None else pc.and_(mask, other)


def _numpy(array: pa.Array | pa.ChunkedArray, null: Any = False) -> np.ndarray:
    """An Arrow array as NumPy, nulls replaced by ``null``."""
    return pc.fill_null(array, null).to_numpy(zero_copy_only=False)


def _in_class_order(names: list[str], class_names: list[str]) -> list[str]:
    """``names`` in the model's class order, others after them alphabetically."""
    order = {name: k for k, name in enumerate(class_names)}
    return sorted(names, key=lambda n: (order.get(n, len(order)), n))


def _distinct(column: pa.ChunkedArray) -> list[str]:
    values = pc.unique(column.drop_null()).to_pylist()
    return sorted(str(v) for v in values)


def _concat(parts: list[pa.Array], kind: pa.DataType) -> pa.Array:
    if not parts:
        return pa.array([], kind)
    return pa.concat_arrays(
        [p.combine_chunks() if isinstance(p, pa.ChunkedArray) else p for p in parts]
    )
