"""The corpus Parquet schema: one row per (document, method, target).

The columns are the ones documented in ``docs/corpus.md``; the viewer and the evaluation code
read them with pyarrow. File-level key-value metadata ``textlrp`` holds JSON with the class
names, the model's name and hash, and the textlrp version.
"""

from __future__ import annotations

import json
from typing import Any

from textlrp.corpus._deps import pyarrow

pa = pyarrow()

TEXT_LIMIT = 10_000  # characters of the original text kept in the ``text`` column
METADATA_KEY = b"textlrp"


def corpus_schema(relevance_type: Any = None) -> Any:
    """The Arrow schema of a corpus file; relevance in float32 unless told otherwise."""
    relevance_type = relevance_type or pa.float32()
    return pa.schema(
        [
            pa.field("id", pa.string(), nullable=False),
            pa.field("text", pa.string()),
            pa.field("tokens", pa.list_(pa.string())),
            pa.field("relevance", pa.list_(relevance_type)),
            pa.field("unknown", pa.list_(pa.bool_())),
            pa.field("predicted", pa.int32()),
            pa.field("predicted_name", pa.string()),
            pa.field("probabilities", pa.list_(pa.float32())),
            pa.field("score", pa.float64()),
            pa.field("target", pa.int32()),
            pa.field("target_name", pa.string()),
            pa.field("label", pa.int32(), nullable=True),
            pa.field("label_name", pa.string(), nullable=True),
            pa.field("method", pa.string()),
            pa.field("options", pa.string()),
            pa.field("conservation_residual", pa.float64(), nullable=True),
            pa.field("model_hash", pa.string()),
            pa.field("textlrp_version", pa.string()),
        ]
    )


def with_metadata(schema: Any, metadata: dict[str, Any]) -> Any:
    """``schema`` carrying the ``textlrp`` JSON metadata."""
    return schema.with_metadata({METADATA_KEY: json.dumps(metadata, sort_keys=True)})


def read_metadata(schema: Any) -> dict[str, Any]:
    """The ``textlrp`` JSON metadata of a corpus file's schema ({} when absent)."""
    raw = (schema.metadata or {}).get(METADATA_KEY)
    return json.loads(raw) if raw else {}
