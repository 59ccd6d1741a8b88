"""Streaming readers: a corpus file (or a named data set) as chunks of raw documents.

Every reader yields :class:`RawChunk` objects of ``chunk_size`` rows (the last may be shorter),
numbered from 0, without holding more than one chunk (plus the file format's read block) in
memory. A document's text stays as it was read (``str``, or ``bytes`` where the format may
hold non-UTF-8 bytes) so that a bad row is reported by the pipeline, not raised here.
Documents without an id column get their 1-based row number as id.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from textlrp.errors import DataError, InputError

FORMATS = ("csv", "tsv", "jsonl", "parquet", "txt")
_SUFFIXES = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".txt": "txt",
    ".text": "txt",
}
READ_BLOCK_BYTES = 1 << 20


@dataclasses.dataclass
class RawChunk:
    """Rows ``start .. start + len(ids)`` of the input, as read."""

    index: int
    start: int
    ids: list[str]
    texts: list[str | bytes | None]
    labels: list[Any]
    problems: list[str | None] = dataclasses.field(default_factory=list)  # reader-level errors

    def __post_init__(self) -> None:
        if not self.problems:
            self.problems = [None] * len(self.ids)

    def __len__(self) -> int:
        return len(self.ids)

    def to_arrow(self) -> Any:
        """The chunk as an Arrow table (to ship it to a Ray worker)."""
        import pyarrow as pa

        return pa.table(
            {
                "chunk": pa.array([self.index] * len(self), pa.int64()),
                "row": pa.array(range(self.start, self.start + len(self)), pa.int64()),
                "id": pa.array(self.ids, pa.string()),
                "text": pa.array(
                    [t.encode("utf-8") if isinstance(t, str) else t for t in self.texts],
                    pa.binary(),
                ),
                "label": pa.array([None if v is None else str(v) for v in self.labels]),
                "problem": pa.array(self.problems, pa.string()),
            }
        )

    @classmethod
    def from_arrow(cls, table: Any) -> RawChunk:
        rows = table.column("row").to_pylist()
        return cls(
            index=int(table.column("chunk")[0].as_py()),
            start=int(rows[0]),
            ids=table.column("id").to_pylist(),
            texts=table.column("text").to_pylist(),
            labels=table.column("label").to_pylist(),
            problems=table.column("problem").to_pylist(),
        )


@dataclasses.dataclass
class CorpusSource:
    """A corpus to read: where from, which columns, and how many rows if known."""

    name: str
    rows: Callable[[], Iterator[tuple[str | None, str | bytes | None, Any, str | None]]]
    total: int | None
    class_names: list[str] | None = None  # label names of a named data set
    has_labels: bool = False
    tokenizer: str | None = None  # the tokenizer a named data set is meant to be read with

    def chunks(self, chunk_size: int, skip: set[int] | None = None) -> Iterator[RawChunk]:
        """Chunks of ``chunk_size`` rows; chunk numbers in ``skip`` are read but not yielded."""
        skip = skip or set()
        index, start = 0, 0
        ids: list[str] = []
        texts: list[str | bytes | None] = []
        labels: list[Any] = []
        problems: list[str | None] = []
        for row_id, text, label, problem in self.rows():
            ids.append(row_id if row_id is not None else str(start + len(ids) + 1))
            texts.append(text)
            labels.append(label)
            problems.append(problem)
            if len(ids) == chunk_size:
                if index not in skip:
                    yield RawChunk(index, start, ids, texts, labels, problems)
                index, start = index + 1, start + chunk_size
                ids, texts, labels, problems = [], [], [], []
        if ids and index not in skip:
            yield RawChunk(index, start, ids, texts, labels, problems)


# --------------------------------------------------------------------------- named data sets
@dataclasses.dataclass
class NamedData:
    """A named data set's documents: texts, label indices, class names, optional ids."""

    texts: list[str]
    labels: list[int]
    class_names: list[str]
    ids: list[str] | None = None
    tokenizer: str = "sst"  # a name in textlrp.corpus.pipeline.TOKENIZERS


NamedLoader = Callable[[str | None], NamedData]
NAMED_DATASETS: dict[str, tuple[str, NamedLoader]] = {}


def register_dataset(name: str, description: str) -> Callable[[NamedLoader], NamedLoader]:
    """Make a data set readable by name; ``loader(data_dir)`` returns :class:`NamedData`."""

    def decorate(loader: NamedLoader) -> NamedLoader:
        NAMED_DATASETS[name] = (description, loader)
        return loader

    return decorate


def _sst_loader(split: str) -> NamedLoader:
    def load(data_dir: str | None) -> NamedData:
        from textlrp.data.sst import SST_CLASS_NAMES, load_sst

        examples = load_sst(split, data_dir=data_dir)
        return NamedData(
            [ex.text for ex in examples], [ex.label for ex in examples], list(SST_CLASS_NAMES)
        )

    return load


for _split in ("train", "dev", "test"):
    register_dataset(f"sst-{_split}", f"Stanford Sentiment Treebank, {_split} sentences")(
        _sst_loader(_split)
    )


@register_dataset(
    "20news-test", "20 Newsgroups (bydate), test posts without headers, footers and quotes"
)
def _newsgroups_test(data_dir: str | None) -> NamedData:
    try:
        from textlrp.data.newsgroups import NEWSGROUPS, load_newsgroups
    except ImportError:
        raise DataError(
            "the 20 Newsgroups loader (textlrp.data.newsgroups) is not part of this install; "
            "export the posts to a CSV/JSONL file and pass that file instead"
        ) from None
    documents = load_newsgroups("test", data_dir)
    return NamedData(
        [d.text for d in documents],
        [d.label for d in documents],
        list(NEWSGROUPS),
        [d.name for d in documents],
        tokenizer="news",
    )


# --------------------------------------------------------------------------- opening
def open_corpus(
    spec: str | Path,
    text_column: str | None = None,
    id_column: str | None = None,
    label_column: str | None = None,
    input_format: str | None = None,
    data_dir: str | Path | None = None,
) -> CorpusSource:
    """A :class:`CorpusSource` for a file path or a registered data set name."""
    if str(spec) in NAMED_DATASETS:
        if text_column or id_column or label_column:
            raise InputError(f"{spec} is a named data set: drop --text/--id/--label-column")
        return _named(str(spec), None if data_dir is None else str(data_dir))
    path = Path(spec)
    if not path.exists() or path.is_dir():
        named = ", ".join(sorted(NAMED_DATASETS))
        raise InputError(
            f"no file {path}; give a CSV/TSV/JSONL/Parquet/text file or one of: {named}"
        )
    fmt = input_format or _SUFFIXES.get(path.suffix.lower())
    if fmt not in FORMATS:
        raise InputError(
            f"cannot tell the format of {path.name}; use a .csv, .tsv, .jsonl, .parquet or .txt "
            f"name or pass --format ({', '.join(FORMATS)})"
        )
    if fmt == "txt":
        if id_column or label_column:
            raise InputError("a plain text file has no columns; drop --id-column/--label-column")
        total = _count_lines(path) if path.is_file() else None  # a pipe is read once
        return CorpusSource(str(path), lambda: _text_rows(path), total)
    text_column = text_column or "text"
    if fmt in ("csv", "tsv"):
        rows = _csv_rows(path, "\t" if fmt == "tsv" else ",", text_column, id_column, label_column)
        total = None
    elif fmt == "jsonl":
        rows = _jsonl_rows(path, text_column, id_column, label_column)
        total = _count_lines(path) if path.is_file() else None
    else:
        rows, total = _parquet_rows(path, text_column, id_column, label_column)
    return CorpusSource(str(path), rows, total, has_labels=label_column is not None)


def _named(name: str, data_dir: str | None) -> CorpusSource:
    data = NAMED_DATASETS[name][1](data_dir)
    ids = data.ids or [None] * len(data.texts)

    def rows() -> Iterator[tuple[str | None, str, int, None]]:
        for row_id, text, label in zip(ids, data.texts, data.labels, strict=True):
            yield row_id, text, label, None

    return CorpusSource(
        name,
        rows,
        len(data.texts),
        class_names=list(data.class_names),
        has_labels=True,
        tokenizer=data.tokenizer,
    )


def _lines(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as handle:
        for line in handle:
            yield line.rstrip(b"\r\n")


def _count_lines(path: Path) -> int:
    count, last = 0, b"\n"
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(READ_BLOCK_BYTES), b""):
            count += block.count(b"\n")
            last = block[-1:]
    return count + (last != b"\n")


def _text_rows(path: Path) -> Iterator[tuple[None, bytes, None, None]]:
    for line in _lines(path):
        yield None, line, None, None


def _jsonl_rows(path: Path, text_column: str, id_column: str | None, label_column: str | None):
    """JSON Lines, one object a line, parsed line by line so one bad line is one bad row."""

    def rows() -> Iterator[tuple[str | None, Any, Any, str | None]]:
        for number, line in enumerate(_lines(path), start=1):
            try:
                record = json.loads(line)
            except UnicodeDecodeError:
                yield None, None, None, "not-utf8: the line is not UTF-8 text"
                continue
            except ValueError as exc:
                yield None, None, None, f"bad-json: line {number}: {exc}"
                continue
            if not isinstance(record, dict):
                yield None, None, None, f"bad-json: line {number} is not a JSON object"
                continue
            if number == 1:
                _check_columns(list(record), text_column, id_column, label_column, path)
            row_id = record.get(id_column) if id_column else None
            yield (
                None if row_id is None else str(row_id),
                record.get(text_column),
                record.get(label_column) if label_column else None,
                None,
            )

    return rows


def _csv_rows(path: Path, delimiter: str, text_column, id_column, label_column):
    """CSV/TSV through pyarrow's streaming reader; texts as bytes so bad UTF-8 is per row."""
    from textlrp.corpus._deps import pyarrow

    pa = pyarrow()
    import pyarrow.csv as pcsv

    wanted = [c for c in (text_column, id_column, label_column) if c]

    def open_reader():
        return pcsv.open_csv(
            path,
            read_options=pcsv.ReadOptions(block_size=READ_BLOCK_BYTES),
            parse_options=pcsv.ParseOptions(delimiter=delimiter, newlines_in_values=True),
            convert_options=pcsv.ConvertOptions(
                column_types={c: pa.binary() for c in wanted},
                include_columns=wanted,
                include_missing_columns=True,
                strings_can_be_null=True,
                quoted_strings_can_be_null=False,
            ),
        )

    header = pcsv.open_csv(
        path,
        read_options=pcsv.ReadOptions(block_size=1 << 16),
        parse_options=pcsv.ParseOptions(delimiter=delimiter, newlines_in_values=True),
        convert_options=pcsv.ConvertOptions(column_types={c: pa.binary() for c in wanted}),
    ).schema.names
    _check_columns(header, text_column, id_column, label_column, path)

    def rows() -> Iterator[tuple[str | None, Any, Any, str | None]]:
        for batch in open_reader():
            yield from _batch_rows(batch, text_column, id_column, label_column, decode=True)

    return rows


def _parquet_rows(path: Path, text_column, id_column, label_column):
    from textlrp.corpus._deps import pyarrow

    pyarrow()
    import pyarrow.parquet as pq

    file = pq.ParquetFile(path)
    _check_columns(file.schema_arrow.names, text_column, id_column, label_column, path)
    columns = [c for c in (text_column, id_column, label_column) if c]

    def rows() -> Iterator[tuple[str | None, Any, Any, str | None]]:
        for batch in pq.ParquetFile(path).iter_batches(batch_size=4096, columns=columns):
            yield from _batch_rows(batch, text_column, id_column, label_column, decode=False)

    return rows, file.metadata.num_rows


def _batch_rows(batch, text_column, id_column, label_column, decode: bool):
    texts = batch.column(text_column).to_pylist()
    ids = _as_strings(batch.column(id_column).to_pylist()) if id_column else [None] * len(texts)
    labels = batch.column(label_column).to_pylist() if label_column else [None] * len(texts)
    if decode and label_column:
        labels = _as_strings(labels)
    for row_id, text, label in zip(ids, texts, labels, strict=True):
        yield row_id, text, label, None


def _as_strings(values: list[Any]) -> list[str | None]:
    out: list[str | None] = []
    for value in values:
        if isinstance(value, bytes):
            value = value.decode("utf-8", errors="replace")
        out.append(None if value is None or value == "" else str(value))
    return out


def _check_columns(names, text_column, id_column, label_column, path: Path) -> None:
    for option, column in (
        ("--text-column", text_column),
        ("--id-column", id_column),
        ("--label-column", label_column),
    ):
        if column and column not in names:
            raise InputError(
                f"{path.name} has no column {column!r} ({option}); its columns are: "
                + ", ".join(map(str, names))
            )
