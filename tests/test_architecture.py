"""The layering the README promises: the library never imports the CLI or the web app."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "textlrp"
ENTRY_POINTS = ("cli", "web")


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_library_modules_never_import_the_entry_points():
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE)
        if relative.parts[0] in ENTRY_POINTS or relative.name == "__main__.py":
            continue
        for name in imported_modules(path):
            if any(name.startswith(f"textlrp.{entry}") for entry in ENTRY_POINTS):
                offenders.append(f"{relative} imports {name}")
    assert not offenders, offenders


def test_python_dash_m_textlrp_runs_the_cli():
    done = subprocess.run(
        [sys.executable, "-m", "textlrp", "methods"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "lrp_cons" in done.stdout
