"""The committed reproduction reports, served from an allow-list built at start-up.

A request names a report file by its key in :data:`ReportFiles.files` (built once from the
known report folders); no part of a request is ever joined to a file-system path.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

# (key, title, main file relative to docs/results); the first existing candidate wins.
REPORTS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("sst", "SST sentiment experiments (2017/2019 papers)", ("sst/report.html", "sst/report.md")),
    ("toy", "Toy addition/subtraction task (2019 paper)", ("toy.md",)),
    (
        "20news",
        "20 Newsgroups experiments (2016 paper)",
        ("20news/report.html", "20news/report.md"),
    ),
)
ASSET_SUFFIXES = (".png", ".svg", ".jpg", ".jpeg", ".css", ".json", ".md", ".html")
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".md": "text/plain; charset=utf-8",
    ".json": "application/json",
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".css": "text/css; charset=utf-8",
}


def default_results_dir() -> Path | None:
    """``docs/results`` of the source checkout this package runs from, when there is one."""
    candidate = Path(__file__).resolve().parents[3] / "docs" / "results"
    return candidate if candidate.is_dir() else None


@dataclasses.dataclass
class ReportFiles:
    """The reports found at start-up and every file they may load, by URL key."""

    reports: list[dict[str, str]]
    files: dict[str, Path]

    @classmethod
    def scan(cls, root: Path | None) -> ReportFiles:
        reports: list[dict[str, str]] = []
        files: dict[str, Path] = {}
        if root is None or not root.is_dir():
            return cls(reports, files)
        root = root.resolve()
        for key, title, candidates in REPORTS:
            main = next((c for c in candidates if (root / c).is_file()), None)
            if main is None:
                continue
            reports.append({"key": key, "title": title, "url": f"/reports/{main}"})
            files[main] = root / main
            folder = (root / main).parent
            if folder != root:  # a report in its own folder: its images come with it
                prefix = main.rsplit("/", 1)[0]
                for path in sorted(folder.iterdir()):
                    if path.is_file() and path.suffix.lower() in ASSET_SUFFIXES:
                        files[f"{prefix}/{path.name}"] = path
        return cls(reports, files)

    def content_type(self, key: str) -> str:
        return CONTENT_TYPES.get(Path(key).suffix.lower(), "application/octet-stream")
