"""Crash-safe output: one Parquet part file per chunk, merged into ``OUT.parquet`` at the end.

A half-written Parquet file is unreadable, so every chunk goes to
``OUT.parquet.parts/part-<chunk>.parquet`` through a temporary name and an atomic rename: a
part either exists whole or not at all. Its bad rows are written (also atomically) before
it. A rerun reads ``run.json`` in the parts folder, refuses different settings, and skips the
chunks whose parts exist, so a crash or Ctrl-C loses at most the chunk in flight.
:meth:`PartStore.finalise` streams the parts, in chunk order, into one file (one row group
per part) and the bad rows into ``OUT.bad.jsonl``, then removes the folder.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

from textlrp.corpus._deps import pyarrow
from textlrp.corpus.schema import read_metadata, with_metadata
from textlrp.errors import InputError

pa = pyarrow()
import pyarrow.parquet as pq  # noqa: E402

_PART = re.compile(r"^part-(\d{8})\.parquet$")


def bad_path(out: Path) -> Path:
    """Where the rows that could not be explained are listed: ``OUT.bad.jsonl``."""
    return out.with_name(out.name.removesuffix(".parquet") + ".bad.jsonl")


class PartStore:
    """The parts folder of one output file, tied to the run settings that produced it."""

    def __init__(self, out: str | Path, run: dict[str, Any], metadata: dict[str, Any]) -> None:
        self.out = Path(out)
        self.folder = self.out.with_name(self.out.name + ".parts")
        self.run = run
        self.metadata = metadata | {"run": run}

    # ------------------------------------------------------------------ state
    def open(self, overwrite: bool = False) -> set[int]:
        """Prepare for writing; returns the chunk numbers already done (to skip)."""
        if overwrite:
            shutil.rmtree(self.folder, ignore_errors=True)
            for path in (self.out, bad_path(self.out)):
                path.unlink(missing_ok=True)
        if self.out.exists() and not self.folder.exists():
            self._check_same(self._finished_run(), f"{self.out} already exists")
            return set()
        manifest = self.folder / "run.json"
        if manifest.is_file():
            self._check_same(
                json.loads(manifest.read_text(encoding="utf-8")),
                f"{self.folder} holds an unfinished run",
            )
        else:
            self.folder.mkdir(parents=True, exist_ok=True)
            _atomic_write(manifest, json.dumps(self.run, indent=1, sort_keys=True).encode())
        return self.done()

    @property
    def finished(self) -> bool:
        return self.out.exists() and not self.folder.exists()

    def done(self) -> set[int]:
        return {int(m.group(1)) for p in self.folder.iterdir() if (m := _PART.match(p.name))}

    def _finished_run(self) -> dict[str, Any] | None:
        try:
            return read_metadata(pq.read_schema(self.out)).get("run")
        except (OSError, pa.ArrowInvalid, ValueError):
            return None

    def _check_same(self, previous: dict[str, Any] | None, what: str) -> None:
        if previous == self.run:
            return
        if previous is None:
            raise InputError(f"{what} and is not a textlrp corpus file; choose another --out")
        changed = sorted(
            k for k in set(previous) | set(self.run) if previous.get(k) != self.run.get(k)
        )
        raise InputError(
            f"{what} with different settings ({', '.join(changed)}); rerun with the same "
            "model, input and method settings to resume, or pass --overwrite to start afresh"
        )

    # ------------------------------------------------------------------ writing
    def write(self, index: int, table: Any, bad: list[dict[str, Any]]) -> None:
        """Store one chunk's rows and bad rows; the part's rename makes the chunk done."""
        bad_file = self.folder / f"part-{index:08d}.bad.jsonl"
        if bad:
            lines = "".join(json.dumps(b, ensure_ascii=False) + "\n" for b in bad)
            _atomic_write(bad_file, lines.encode("utf-8"))
        else:
            bad_file.unlink(missing_ok=True)
        target = self.folder / f"part-{index:08d}.parquet"
        temporary = target.with_name(target.name + ".tmp")
        pq.write_table(table, temporary)
        os.replace(temporary, target)

    def finalise(self) -> dict[str, int]:
        """Merge the parts into the output file and the bad-row list; returns reason counts."""
        parts = sorted(p for p in self.folder.iterdir() if _PART.match(p.name))
        temporary = self.out.with_name(self.out.name + ".tmp")
        schema = None
        writer = None
        try:
            for part in parts:
                table = pq.read_table(part)
                if schema is None:
                    schema = with_metadata(table.schema, self.metadata)
                    writer = pq.ParquetWriter(temporary, schema)
                if table.num_rows:
                    writer.write_table(table.replace_schema_metadata(schema.metadata))
            if writer is None:
                from textlrp.corpus.schema import corpus_schema

                schema = with_metadata(corpus_schema(), self.metadata)
                writer = pq.ParquetWriter(temporary, schema)
        finally:
            if writer is not None:
                writer.close()
        reasons: dict[str, int] = {}
        bad_temporary = bad_path(self.out).with_suffix(".tmp")
        with open(bad_temporary, "wb") as sink:
            for part in parts:
                bad_file = part.with_name(part.name.removesuffix(".parquet") + ".bad.jsonl")
                if bad_file.is_file():
                    data = bad_file.read_bytes()
                    sink.write(data)
                    for line in data.splitlines():
                        reason = json.loads(line)["reason"]
                        reasons[reason] = reasons.get(reason, 0) + 1
        os.replace(temporary, self.out)
        if reasons:
            os.replace(bad_temporary, bad_path(self.out))
        else:
            bad_temporary.unlink()
            bad_path(self.out).unlink(missing_ok=True)
        shutil.rmtree(self.folder)
        return reasons


def bad_reasons(out: Path) -> dict[str, int]:
    """Counts of bad rows by reason, from a finished run's ``OUT.bad.jsonl``."""
    reasons: dict[str, int] = {}
    path = bad_path(out)
    if path.is_file():
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                reason = json.loads(line)["reason"]
                reasons[reason] = reasons.get(reason, 0) + 1
    return reasons


def _atomic_write(path: Path, data: bytes) -> None:
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "wb") as handle:
        handle.write(data)
    os.replace(temporary, path)
