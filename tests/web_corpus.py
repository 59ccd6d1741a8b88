"""Small corpus Parquet files in the ``explain-corpus`` schema, built with pyarrow for tests."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

CLASS_NAMES = ["negative", "neutral", "positive"]
XSS_TEXT = '<script>alert("x")</script> "><img src=x onerror=alert(1)> bad'
WORDS = "the movie was not good bad great boring fun never fails to engage us".split()


def corpus_rows(count: int, seed: int = 0, methods=("lrp", "gradient")) -> list[dict]:
    """``count`` documents, one row per method each; document 0 holds an XSS payload."""
    rng = np.random.default_rng(seed)
    rows = []
    for doc in range(count):
        n = int(rng.integers(3, 12))
        tokens = [WORDS[i] for i in rng.integers(0, len(WORDS), n)]
        if doc == 0:
            tokens = XSS_TEXT.split(" ")
            n = len(tokens)
        text = " ".join(tokens)
        logits = rng.normal(size=len(CLASS_NAMES))
        probabilities = np.exp(logits) / np.exp(logits).sum()
        predicted = int(np.argmax(logits))
        label = None if doc % 7 == 3 else int(rng.integers(0, len(CLASS_NAMES)))
        for method in methods:
            relevance = rng.normal(size=n).astype(np.float32)
            rows.append(
                {
                    "id": f"doc{doc:05d}",
                    "text": text,
                    "tokens": tokens,
                    "relevance": relevance.tolist(),
                    "unknown": [t not in WORDS for t in tokens],
                    "predicted": predicted,
                    "predicted_name": CLASS_NAMES[predicted],
                    "probabilities": probabilities.tolist(),
                    "score": float(logits[predicted]),
                    "target": predicted,
                    "target_name": CLASS_NAMES[predicted],
                    "label": label,
                    "label_name": None if label is None else CLASS_NAMES[label],
                    "method": method,
                    "options": json.dumps({"eps": 0.001} if method == "lrp" else {}),
                    "conservation_residual": None,
                    "model_hash": "0123456789abcdef",
                    "textlrp_version": "0.1.0",
                }
            )
    return rows


SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("text", pa.string()),
        ("tokens", pa.list_(pa.string())),
        ("relevance", pa.list_(pa.float32())),
        ("unknown", pa.list_(pa.bool_())),
        ("predicted", pa.int32()),
        ("predicted_name", pa.string()),
        ("probabilities", pa.list_(pa.float32())),
        ("score", pa.float32()),
        ("target", pa.int32()),
        ("target_name", pa.string()),
        ("label", pa.int32()),
        ("label_name", pa.string()),
        ("method", pa.string()),
        ("options", pa.string()),
        ("conservation_residual", pa.float32()),
        ("model_hash", pa.string()),
        ("textlrp_version", pa.string()),
    ]
)


def write_corpus(path: Path, rows: list[dict], row_group_size: int = 64) -> Path:
    metadata = {
        "class_names": CLASS_NAMES,
        "model": "test",
        "model_hash": "0123456789abcdef",
        "textlrp_version": "0.1.0",
    }
    schema = SCHEMA.with_metadata({"textlrp": json.dumps(metadata)})
    table = pa.Table.from_pylist(rows, schema=schema)
    pq.write_table(table, path, row_group_size=row_group_size)
    return path
