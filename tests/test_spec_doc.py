"""docs/spec.md is the contract that docstrings and tests cite as "spec §N".

Every such citation in the repository must name a heading of docs/spec.md, and the document
must stand on its own: no paths outside the repository, links and named files that exist,
and dotted ``textlrp.…`` names that import.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "docs" / "spec.md"
SCANNED = ("src", "tests", "benchmarks", "docs")
TEXT_SUFFIXES = {".py", ".md", ".txt", ".toml", ".cfg", ".html", ".yaml", ".yml"}
STABLE_SECTIONS = {"1", "2", "3", "4", "5", "6", "6a", "7", "8", "9"}

SECTION = r"\d+[a-z]?(?:\.\d+)*"
# "spec §2", "spec §2–4", "the spec (§2, §4)", "Spec §6a:", "spec §5.3": the word "spec", at
# most a few characters on the same line, then one or more sections joined by a dash (a range,
# the second § optional) or by a comma / "and" (each with its own §).
CITATION = re.compile(
    rf"\bspec\b[^§\n]{{0,12}}(§{SECTION}(?:\s*[–-]\s*§?{SECTION}|\s*(?:,|and|&)\s*§{SECTION})*)",
    re.IGNORECASE,
)
HEADING = re.compile(rf"^#{{1,6}}\s+§({SECTION})(?=[.\s])", re.MULTILINE)
ONE = re.compile(rf"§?({SECTION})")
RANGE = re.compile(rf"§?({SECTION})\s*[–-]\s*§?({SECTION})")


def cited_sections(text: str) -> set[str]:
    """Every section a "spec §…" citation in ``text`` names, ranges expanded."""
    sections: set[str] = set()
    for match in CITATION.finditer(text):
        group = match.group(1)
        for part in re.split(r"\s*(?:,|and|&)\s*", group):
            ranged = RANGE.fullmatch(part)
            if ranged:
                low, high = ranged.groups()
                if low.isdigit() and high.isdigit():
                    sections.update(str(n) for n in range(int(low), int(high) + 1))
                else:
                    sections.update((low, high))
            else:
                single = ONE.fullmatch(part)
                if single:
                    sections.add(single.group(1))
    return sections


def spec_headings(text: str) -> set[str]:
    return set(HEADING.findall(text))


def missing_citations(files: dict[str, str], headings: set[str]) -> list[str]:
    """``path: §N`` for every cited section that is not a heading."""
    return [
        f"{path}: §{section}"
        for path, text in sorted(files.items())
        for section in sorted(cited_sections(text))
        if section not in headings
    ]


OUTSIDE = [
    (re.compile(r"lrp-spec\.md"), "the shared spec file outside the repository"),
    (re.compile(r"shared/(?:docs|data)"), "the shared folder beside the repository"),
    (re.compile(r"(?:^|[\s(`'\"<\[])(?:~|\.\.)?/(?:[A-Za-z_][\w.-]*/)+"), "an absolute path"),
    (re.compile(r"(?:^|[\s(`'\"<\[])\.\./"), "a path above the repository"),
]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
REPO_PATH = re.compile(r"`((?:src|tests|docs|benchmarks)/[\w./-]+)`")
DOTTED = re.compile(r"`(textlrp(?:\.\w+)+)`")


def outside_references(text: str) -> list[str]:
    """What in ``text`` points outside the repository, one line per finding."""
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        for pattern, what in OUTSIDE:
            if pattern.search(line):
                found.append(f"line {number}: {what}: {line.strip()}")
        for target in LINK.findall(line):
            if re.match(r"[a-z]+://", target) or target.startswith("#"):
                continue
            path = (SPEC.parent / target.split("#")[0]).resolve()
            if not path.is_relative_to(ROOT) or not path.exists():
                found.append(f"line {number}: link to a file not in the repository: {target}")
        for target in REPO_PATH.findall(line):
            if not (ROOT / target).exists():
                found.append(f"line {number}: names a file not in the repository: {target}")
    return found


def resolves(dotted: str) -> bool:
    """Whether ``textlrp.a.b.c`` is a module or an attribute reachable from one."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for name in parts[cut:]:
                obj = getattr(obj, name)
        except AttributeError:
            return False
        return True
    return False


def repository_texts() -> dict[str, str]:
    """The text files of the scanned folders and the top-level Markdown files (README …)."""
    paths = sorted(ROOT.glob("*.md"))
    for folder in SCANNED:
        paths += sorted((ROOT / folder).rglob("*"))
    return {
        str(path.relative_to(ROOT)): path.read_text(encoding="utf-8")
        for path in paths
        if path.is_file() and path.suffix in TEXT_SUFFIXES
    }


@pytest.fixture(scope="module")
def spec_text() -> str:
    return SPEC.read_text(encoding="utf-8")


def test_every_cited_section_is_a_heading(spec_text):
    files = repository_texts()
    assert any(cited_sections(text) for text in files.values()), "no citation found at all"
    assert missing_citations(files, spec_headings(spec_text)) == []


def test_stable_section_numbers_are_all_there(spec_text):
    assert STABLE_SECTIONS <= spec_headings(spec_text)


def test_spec_refers_to_nothing_outside_the_repository(spec_text):
    assert outside_references(spec_text) == []


def test_named_code_exists(spec_text):
    names = sorted(set(DOTTED.findall(spec_text)))
    assert names, "the spec names no code at all"
    assert [name for name in names if not resolves(name)] == []


def test_code_cites_the_repository_spec_not_the_shared_file():
    this_file = str(Path(__file__).resolve().relative_to(ROOT))
    offenders = [
        path
        for path, text in repository_texts().items()
        if "lrp-spec.md" in text and path != this_file
    ]
    assert offenders == [], "cite docs/spec.md ('spec §N'), not the shared lrp-spec.md"


# The checks above can fail: they flag what they are meant to flag.


def test_a_citation_of_a_missing_section_is_reported():
    headings = {"1", "2", "3", "4", "5", "5.1", "6", "6a"}
    mark = "§"  # built here so this file itself cites no missing section
    files = {
        "a.py": f'"""Rules (spec {mark}2–4), the GRU (spec {mark}5.1)."""',
        "b.py": f"# the spec ({mark}2, {mark}9) and Spec {mark}6a: and spec {mark}5.7",
        "c.py": f"# spec {mark}6–8 then the paper's {mark}3.2 which is not a spec section",
    }
    assert missing_citations(files, headings) == [
        f"b.py: {mark}5.7",
        f"b.py: {mark}9",
        f"c.py: {mark}7",
        f"c.py: {mark}8",
    ]


def test_headings_are_parsed_with_their_sub_numbers():
    mark = "§"
    text = f"# Title\n## {mark}6a. CD\n### {mark}5.3 The step\nsee {mark}7 in prose\n"
    assert spec_headings(text) == {"6a", "5.3"}


def test_outside_references_are_reported():
    text = (
        "see /work/shared/docs/lrp-spec.md\n"
        "[rules](../../elsewhere/rules.md) and `docs/no-such-file.md`\n"
        "plain math: R_j / (z_j + ε) and 1/T are fine\n"
    )
    found = outside_references(text)
    assert len(found) >= 4
    assert not any("line 3" in f for f in found)


def test_unknown_code_names_do_not_resolve():
    assert resolves("textlrp.lrp.rules.eps_rule")
    assert not resolves("textlrp.lrp.rules.no_such_rule")
    assert not resolves("textlrp.no_such_module")
