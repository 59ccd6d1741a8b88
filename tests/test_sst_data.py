"""SST tree parsing, sentence/phrase loading, data location and download fallbacks."""

from __future__ import annotations

import io
import zipfile
from collections import Counter
from pathlib import Path

import pytest

import textlrp.data.sst as sst
from textlrp.data import (
    SST_CLASS_NAMES,
    Phrase,
    find_sst_dir,
    load_sst,
    load_trees,
    parse_tree,
    read_trees,
    sst_phrases,
)
from textlrp.errors import DataError

SHARED_SST = Path(__file__).resolve().parents[2] / "shared" / "data" / "sst"
REAL_DATA = all((SHARED_SST / f"{s}.txt").is_file() for s in ("train", "dev", "test"))

NBSP = "\u00a0"
FIXTURE = {
    "train": [
        "(3 (2 It) (4 (4 (2 's) (4 great)) (2 .)))",
        "(1 (2 A) (1 (1 dull) (2 movie)))",
        f"(2 (2 The) (2 (2 film) (2 (2 runs) (2 (2 8{NBSP}1\\/2) (2 hours)))))",
        "(0 (0 (2 Utterly) (0 awful)) (2 .))",
        "(4 (4 (3 Truly) (4 wonderful)) (2 -LRB-sic-RRB-))",
    ],
    "dev": ["(3 (3 Quite) (3 good))", "(1 (1 Rather) (1 dull))"],
    "test": ["(4 (4 great) (2 .))", "(2 (2 The) (2 film))", "(0 (0 awful) (2 movie))"],
}


def write_sst(folder: Path, files: dict[str, list[str]] = FIXTURE) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for split, lines in files.items():
        (folder / f"{split}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


@pytest.fixture
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No TEXTLRP_DATA, an empty cache under tmp_path, and a download that always fails."""
    monkeypatch.delenv(sst.ENV_DATA, raising=False)
    monkeypatch.delenv(sst.ENV_NO_DOWNLOAD, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))

    def no_network(*args: object, **kwargs: object) -> Path:
        raise OSError("network unreachable (test)")

    monkeypatch.setattr(sst, "download_sst", no_network)
    return tmp_path


# --------------------------------------------------------------------------- parsing
def test_parse_tree_structure_and_leaves() -> None:
    tree = parse_tree("(3 (2 It) (4 (4 (2 's) (4 great)) (2 .)))")
    assert tree.label == 3 and not tree.is_leaf
    assert tree.leaves() == ["It", "'s", "great", "."]
    assert [node.label for node in tree.subtrees()] == [3, 2, 4, 4, 2, 4, 2]
    assert tree.num_nodes() == 7
    assert tree.children[0] == parse_tree("(2 It)")
    assert tree.children[0].token == "It" and tree.children[0].is_leaf


def test_phrases_of_a_hand_written_tree(tmp_path: Path) -> None:
    folder = write_sst(tmp_path / "d", {**FIXTURE, "train": [FIXTURE["train"][0]]})
    assert sst_phrases("train", folder, download=False) == [
        Phrase(("it", "'s", "great", "."), 3),
        Phrase(("it",), 2),
        Phrase(("'s", "great", "."), 4),
        Phrase(("'s", "great"), 4),
        Phrase(("'s",), 2),
        Phrase(("great",), 4),
        Phrase((".",), 2),
    ]


def test_no_break_space_stays_inside_its_token(tmp_path: Path) -> None:
    folder = write_sst(tmp_path / "d")
    film = load_sst("train", folder, download=False)[2]
    assert film.original_tokens == ("The", "film", "runs", f"8{NBSP}1\\/2", "hours")
    assert film.tokens == ("the", "film", "runs", f"8{NBSP}1\\/2", "hours")
    assert film.text == f"the film runs 8{NBSP}1\\/2 hours"
    assert film.label == 2


def test_load_sst_lowercases_and_keeps_original(tmp_path: Path) -> None:
    folder = write_sst(tmp_path / "d")
    examples = load_sst("train", folder, download=False)
    assert [ex.label for ex in examples] == [3, 1, 2, 0, 4]
    assert examples[4].original_tokens == ("Truly", "wonderful", "-LRB-sic-RRB-")
    assert examples[4].tokens == ("truly", "wonderful", "-lrb-sic-rrb-")
    assert len(sst_phrases("train", folder, download=False)) == sum(
        t.num_nodes() for t in load_trees("train", folder, download=False)
    )
    assert SST_CLASS_NAMES == ["very negative", "negative", "neutral", "positive", "very positive"]


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("(2 (2 a) (2 b)", "unclosed"),
        ("(7 word)", "label"),
        ("(2 a b)", "unexpected token"),
        ("(2 (2 a) (2 b)) (2 c)", "after the end"),
        ("2 a)", "outside a node"),
        ("(2 a))", "after the end"),
        (") (2 a)", "unbalanced"),
        ("(2)", "without a token"),
        ("((2 a))", "without a label"),
        ("(2 a (2 b))", "both a token and children"),
    ],
)
def test_malformed_line_names_file_and_line(tmp_path: Path, line: str, problem: str) -> None:
    path = tmp_path / "bad.txt"
    path.write_text(f"(2 (2 fine) (2 line))\n\n{line}\n", encoding="utf-8")
    with pytest.raises(DataError) as info:
        read_trees(path)
    message = str(info.value)
    assert "bad.txt, line 3" in message and problem in message


def test_unknown_split_and_non_utf8(tmp_path: Path) -> None:
    folder = write_sst(tmp_path / "d")
    with pytest.raises(DataError, match="unknown SST split"):
        load_sst("validation", folder)
    (folder / "test.txt").write_bytes(b"(2 caf\xe9)\n")
    with pytest.raises(DataError, match="not UTF-8"):
        load_sst("test", folder)


# --------------------------------------------------------------------------- locating
def test_data_dir_argument_and_subfolders(isolated: Path) -> None:
    write_sst(isolated / "plain")
    write_sst(isolated / "nested" / "trees")
    assert find_sst_dir(isolated / "plain") == isolated / "plain"
    assert find_sst_dir(isolated / "nested") == isolated / "nested" / "trees"


def test_environment_variable_and_cache(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_sst(isolated / "cache" / "textlrp" / "sst")
    assert find_sst_dir() == isolated / "cache" / "textlrp" / "sst"
    write_sst(isolated / "env" / "sst")
    monkeypatch.setenv("TEXTLRP_DATA", str(isolated / "env"))
    assert find_sst_dir() == isolated / "env" / "sst"
    assert len(load_sst("dev")) == len(FIXTURE["dev"])


def test_missing_data_dir_is_a_helpful_error(isolated: Path) -> None:
    write_sst(isolated / "partial", {"train": FIXTURE["train"], "dev": FIXTURE["dev"]})
    with pytest.raises(DataError) as info:
        load_sst("train", isolated / "partial")
    message = str(info.value)
    assert "\n" not in message
    assert "--data-dir" in message and "TEXTLRP_DATA" in message
    assert "train.txt, dev.txt and test.txt" in message and "trainDevTestTrees_PTB.zip" in message


def test_failed_download_is_a_helpful_error(isolated: Path) -> None:
    with pytest.raises(DataError) as info:
        load_sst("test")
    message = str(info.value)
    assert "\n" not in message
    assert "download" in message and "network unreachable" in message
    assert "--data-dir" in message and "TEXTLRP_DATA" in message


def test_download_can_be_disabled(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def must_not_run(*args: object, **kwargs: object) -> Path:
        raise AssertionError("download attempted")

    monkeypatch.setattr(sst, "download_sst", must_not_run)
    with pytest.raises(DataError, match="download disabled"):
        find_sst_dir(download=False)
    monkeypatch.setenv("TEXTLRP_NO_DOWNLOAD", "1")
    with pytest.raises(DataError, match="download disabled"):
        find_sst_dir()


def test_download_extracts_the_trees_from_the_zip(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for split, lines in FIXTURE.items():
            zf.writestr(f"trees/{split}.txt", "\n".join(lines) + "\n")
        zf.writestr("trees/README.txt", "not a tree file")
    requested: list[str] = []

    def fake_urlopen(url: str, timeout: float) -> io.BytesIO:
        requested.append(url)
        return io.BytesIO(buffer.getvalue())

    monkeypatch.setattr(sst.urllib.request, "urlopen", fake_urlopen)
    monkeypatch.delenv("TEXTLRP_DATA", raising=False)
    monkeypatch.delenv("TEXTLRP_NO_DOWNLOAD", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    folder = find_sst_dir()
    assert requested == [sst.SST_URL]
    assert folder == tmp_path / "textlrp" / "sst"
    assert sorted(p.name for p in folder.iterdir()) == ["dev.txt", "test.txt", "train.txt"]
    assert [ex.label for ex in load_sst("test")] == [4, 2, 0]


# --------------------------------------------------------------------------- real data
def _expected() -> tuple[Path | None, dict[str, dict[str, object]]]:
    """The shared SST copy and its documented statistics, else the fixture's statistics."""
    if REAL_DATA:
        return SHARED_SST, {
            "train": {"n": 8544, "nodes": 318_582, "labels": [1092, 2218, 1624, 2322, 1288]},
            "dev": {"n": 1101, "nodes": 41_447, "labels": [139, 289, 229, 279, 165]},
            "test": {"n": 2210, "nodes": 82_600, "labels": [279, 633, 389, 510, 399]},
        }
    return None, {
        "train": {"n": 5, "nodes": 31, "labels": [1, 1, 1, 1, 1]},
        "dev": {"n": 2, "nodes": 6, "labels": [0, 1, 0, 1, 0]},
        "test": {"n": 3, "nodes": 9, "labels": [1, 0, 1, 0, 1]},
    }


@pytest.mark.parametrize("split", ["train", "dev", "test"])
def test_counts_and_labels(split: str, tmp_path: Path) -> None:
    folder, expected = _expected()
    folder = folder or write_sst(tmp_path / "d")
    examples = load_sst(split, folder, download=False)
    counts = Counter(ex.label for ex in examples)
    assert len(examples) == expected[split]["n"]
    assert [counts[c] for c in range(5)] == expected[split]["labels"]
    assert sum(t.num_nodes() for t in load_trees(split, folder)) == expected[split]["nodes"]
    assert len(sst_phrases(split, folder)) == expected[split]["nodes"]
    assert all(ex.tokens == tuple(t.lower() for t in ex.original_tokens) for ex in examples)


def test_no_break_space_tokens_in_train(tmp_path: Path) -> None:
    folder = SHARED_SST if REAL_DATA else write_sst(tmp_path / "d")
    found = [
        (i, tok)
        for i, ex in enumerate(load_sst("train", folder, download=False), start=1)
        for tok in ex.original_tokens
        if NBSP in tok
    ]
    expected = (
        [(4342, f"8{NBSP}1\\/2"), (5799, f"2{NBSP}1\\/2"), (7409, f"2{NBSP}1\\/2")]
        if REAL_DATA
        else [(3, f"8{NBSP}1\\/2")]
    )
    assert found == expected
