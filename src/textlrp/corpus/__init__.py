"""Explain whole corpora into Parquet files, and learn from the result.

``explain_corpus`` streams a CSV/TSV/JSONL/Parquet/text file (or a named data set) through the
batched explainers into one Parquet file (schema in ``docs/corpus.md``), resumably, locally or
on a Ray cluster; ``read_corpus`` reads such a file; :mod:`textlrp.corpus.aggregate` sums it
up (top words per class, words behind misclassifications, relevance by position).
Needs the ``corpus`` extra (pyarrow; pandas for the aggregates).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textlrp.corpus.run import CorpusSummary, explain_corpus


def read_corpus(path: str | Path, columns: list[str] | None = None, filters: Any = None) -> Any:
    """A corpus file as a ``pyarrow.Table`` (``.to_pandas()`` for a DataFrame).

    ``columns`` and ``filters`` (pyarrow's, e.g. ``[("method", "=", "lrp")]``) read only
    what is needed.
    """
    from textlrp.corpus._deps import pyarrow

    pyarrow()
    import pyarrow.parquet as pq

    return pq.read_table(path, columns=columns, filters=filters)


def corpus_metadata(path: str | Path) -> dict[str, Any]:
    """The file-level ``textlrp`` metadata: class names, model, model hash, version, run."""
    import pyarrow.parquet as pq

    from textlrp.corpus.schema import read_metadata

    return read_metadata(pq.read_schema(path))


__all__ = ["CorpusSummary", "explain_corpus", "read_corpus", "corpus_metadata"]
