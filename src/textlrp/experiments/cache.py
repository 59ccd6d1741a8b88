"""On-disk cache of stage results, so that a rerun after a crash resumes where it stopped.

Every entry is keyed by the model file's hash, the data files' hashes, the code's cache version
and the settings of the piece computed; a changed model or setting is a new key, never a stale
hit. Results are JSON (stage summaries) or ``.npz`` (arrays such as relevance matrices), written
atomically (temporary file, then rename), so a crash mid-write leaves no half-written entry.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

CACHE_VERSION = 1  # bump when a stage's computation changes


def file_digest(path: str | Path, length: int = 16) -> str:
    """Hex SHA-256 of a file's bytes (the first ``length`` characters)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:length]


def text_digest(parts: Iterable[str], length: int = 16) -> str:
    """Hex SHA-256 of strings joined by newlines: a key for a list of sentences or targets."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()[:length]


class StageCache:
    """JSON and array entries in ``folder``, named ``<name>-<key>.<ext>``.

    ``base`` identifies the run's inputs (model and data hashes); ``enabled=False`` computes
    everything afresh but still writes the new entries.
    """

    def __init__(self, folder: str | Path, base: dict[str, Any], enabled: bool = True) -> None:
        self.folder = Path(folder)
        self.base = dict(base)
        self.enabled = enabled
        self.folder.mkdir(parents=True, exist_ok=True)
        ignore = self.folder / ".gitignore"
        if not ignore.exists():  # cache files never belong in version control
            ignore.write_text("*\n", encoding="utf-8")

    def key(self, name: str, settings: dict[str, Any]) -> str:
        payload = {"version": CACHE_VERSION, "base": self.base, "name": name, "settings": settings}
        text = json.dumps(payload, sort_keys=True, default=str)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]

    def path(self, name: str, settings: dict[str, Any], ext: str) -> Path:
        return self.folder / f"{name}-{self.key(name, settings)}.{ext}"

    # ------------------------------------------------------------------ JSON
    def load_json(self, name: str, settings: dict[str, Any]) -> dict[str, Any] | None:
        """The cached JSON entry, or ``None`` when absent, disabled or unreadable."""
        path = self.path(name, settings, "json")
        if not self.enabled or not path.is_file():
            return None
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None  # a damaged entry is recomputed

    def save_json(self, name: str, settings: dict[str, Any], value: dict[str, Any]) -> None:
        text = json.dumps(value, indent=1, sort_keys=True, allow_nan=True)
        _atomic_write(self.path(name, settings, "json"), text.encode("utf-8"))

    def json(
        self, name: str, settings: dict[str, Any], compute: Callable[[], dict[str, Any]]
    ) -> tuple[dict[str, Any], bool]:
        """``(value, from_cache)``: the cached entry, or ``compute()`` stored for next time."""
        cached = self.load_json(name, settings)
        if cached is not None:
            return cached, True
        value = compute()
        self.save_json(name, settings, value)
        return value, False

    # ---------------------------------------------------------------- arrays
    def arrays(
        self,
        name: str,
        settings: dict[str, Any],
        compute: Callable[[], dict[str, np.ndarray]],
    ) -> dict[str, np.ndarray]:
        """Named arrays from the cache, or ``compute()`` stored as one ``.npz`` file."""
        path = self.path(name, settings, "npz")
        if self.enabled and path.is_file():
            try:
                with np.load(path, allow_pickle=False) as data:
                    return {k: data[k] for k in data.files}
            except (OSError, ValueError, KeyError):
                pass  # damaged: recompute
        value = {k: np.asarray(v) for k, v in compute().items()}
        handle, tmp = tempfile.mkstemp(dir=self.folder, suffix=".npz")
        os.close(handle)
        try:
            np.savez(tmp, **value)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return value


def _atomic_write(path: Path, data: bytes) -> None:
    handle, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
