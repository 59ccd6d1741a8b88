"""Texts (and optional labels) from a file: plain text, CSV/TSV, JSON Lines or Parquet.

Plain text (any other suffix, or ``-`` for stdin) holds one text per line, blank lines
skipped. Tabular files name their text column (default ``text``) and optionally a label
column; they are read with pyarrow (``pip install 'textlrp[corpus]'``).
"""

from __future__ import annotations

import sys
from pathlib import Path

from textlrp.errors import DataError, InputError

TABULAR = {".csv": "csv", ".tsv": "tsv", ".jsonl": "json", ".ndjson": "json", ".parquet": "parquet"}
DEFAULT_TEXT_COLUMN = "text"


def read_text_file(
    path: str | Path,
    text_column: str | None = None,
    label_column: str | None = None,
) -> tuple[list[str], list[object] | None]:
    """The texts of ``path`` and, when ``label_column`` is given, one label per text."""
    path = Path(path)
    kind = TABULAR.get(path.suffix.lower())
    if kind is None:
        if label_column is not None or text_column is not None:
            raise InputError(
                f"{path} is read as plain text (one text per line), which has no columns; "
                f"use a {', '.join(TABULAR)} file for --text-column/--label-column"
            )
        return _plain(path), None
    table = _read_table(path, kind)
    text_column = text_column or DEFAULT_TEXT_COLUMN
    for column in (text_column, label_column):
        if column is not None and column not in table.column_names:
            raise InputError(
                f"{path} has no column {column!r}; its columns are: "
                + ", ".join(table.column_names)
            )
    texts = table.column(text_column).to_pylist()
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise DataError(
                f"{path}, row {i + 1}: the {text_column!r} value is "
                f"{'missing' if text is None else type(text).__name__}, not text"
            )
    if not texts:
        raise DataError(f"{path} has no rows; give a file with at least one text")
    labels = None if label_column is None else table.column(label_column).to_pylist()
    return texts, labels


def _plain(path: Path) -> list[str]:
    if str(path) == "-":
        content = sys.stdin.read()
    else:
        if not path.is_file():
            raise InputError(f"input file not found: {path}")
        try:
            content = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            where = f"{exc.reason} at byte {exc.start}"
            raise DataError(f"{path} is not UTF-8 text ({where})") from None
    texts = [line for line in content.splitlines() if line.strip()]
    if not texts:
        raise DataError(f"{path} holds no text; give one text per line")
    return texts


def _read_table(path: Path, kind: str):
    if not path.is_file():
        raise InputError(f"input file not found: {path}")
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        raise InputError(
            f"reading {path.suffix} files needs pyarrow: pip install 'textlrp[corpus]' "
            "(or give a plain text file, one text per line)"
        ) from None
    import pyarrow as pa

    try:
        if kind in ("csv", "tsv"):
            from pyarrow import csv

            options = csv.ParseOptions(delimiter="\t" if kind == "tsv" else ",")
            return csv.read_csv(path, parse_options=options)
        if kind == "json":
            from pyarrow import json

            return json.read_json(path)
        import pyarrow.parquet as pq

        return pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"could not read {path} as {kind.upper()}: {message}") from None
