"""20 Newsgroups loader: fixture archive/folder, stripping like scikit-learn, tokenizer."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest
from conftest import SHARED_DATA

from textlrp.data.newsgroups import (
    NEWSGROUPS,
    load_newsgroups,
    strip_footer,
    strip_header,
    strip_post,
    strip_quotes,
    tokenize_post,
)
from textlrp.errors import DataError

REAL_ARCHIVE = SHARED_DATA / "20news" / "20news-bydate.reconstructed.tar.gz"

POST = (
    "From: someone@example.org (Some One)\n"
    "Subject: Re: engines\n"
    "Organization: Nowhere\n"
    "\n"
    "In article <1@x.org> other@x.org (Other) writes:\n"
    ">the V8 is great\n"
    "| quoted with a bar\n"
    "I don't agree: the U.S. engines are 3.5 litres <b>big</b>.\n"
    "Caf\xe9 racers rule\n"
    "\n"
    "--\n"
    "Some One, someone@example.org\n"
)


def post_bytes(text: str = POST) -> bytes:
    return text.encode("latin-1")


def fixture_files() -> dict[str, bytes]:
    files = {}
    for split, count in (("train", 2), ("test", 1)):
        for label, group in enumerate(NEWSGROUPS[:3]):
            for k in range(count):
                body = f"Subject: {group}\n\nbody of {group} number {k} in {split}\n"
                files[f"20news-bydate-{split}/{group}/{100 + 10 * k + label}"] = body.encode()
    files["20news-bydate-train/rec.autos/9"] = post_bytes()
    return files


def write_archive(path: Path, files: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def test_archive_and_folder_give_the_same_documents(tmp_path):
    files = fixture_files()
    archive = write_archive(tmp_path / "20news-bydate.tar.gz", files)
    folder = tmp_path / "extracted"
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    for remove in ((), ("headers",), ("headers", "footers", "quotes")):
        from_tar = load_newsgroups("train", archive, remove=remove)
        assert from_tar == load_newsgroups("train", folder, remove=remove)
    train = load_newsgroups("train", archive)
    assert [d.name for d in train][:2] == ["alt.atheism/100", "alt.atheism/110"]
    assert len(train) == 7 and len(load_newsgroups("test", archive)) == 3
    autos = [d for d in train if d.group == "rec.autos"][0]
    assert "Caf\xe9" in autos.text  # latin-1 decoding
    assert "body of alt.atheism number 0 in train" in train[0].text
    assert "Subject" not in train[0].text


def test_stripping_matches_scikit_learn_semantics():
    assert strip_header(POST).startswith("In article")
    assert strip_header("no blank line") == ""
    no_quotes = strip_quotes(strip_header(POST))
    assert "writes:" not in no_quotes and ">the V8" not in no_quotes and "| quoted" not in no_quotes
    assert "I don't agree" in no_quotes
    body = strip_footer(strip_header(POST))
    assert "Some One, someone" not in body and body.endswith("Caf\xe9 racers rule\n")
    assert strip_footer("--\nonly a footer") == "--\nonly a footer"  # separator on line 0
    assert strip_post(POST, ()) == POST
    full = strip_post(POST)
    assert full == (
        "I don't agree: the U.S. engines are 3.5 litres <b>big</b>.\nCaf\xe9 racers rule\n"
    )
    sklearn_news = pytest.importorskip("sklearn.datasets._twenty_newsgroups")
    expected = sklearn_news.strip_newsgroup_quoting(
        sklearn_news.strip_newsgroup_footer(sklearn_news.strip_newsgroup_header(POST))
    )
    assert full == expected


def test_tokenizer_lowercases_and_keeps_inner_apostrophes_and_periods():
    tokens = tokenize_post("I don't agree: the U.S. engines are 3.5 litres <b>big</b>. e-mail_me")
    assert tokens == [
        "i", "don't", "agree", "the", "u.s", "engines", "are", "3.5", "litres", "b", "big", "b",
        "e", "mail", "me",
    ]
    assert tokenize_post("Caf\xe9 ''quoted''") == ["caf\xe9", "quoted"]
    assert tokenize_post("--- !!! ") == []


def test_bad_sources_raise_data_errors_that_say_what_to_do(tmp_path):
    with pytest.raises(DataError, match="20news-bydate.tar.gz"):
        load_newsgroups("train", tmp_path / "missing.tar.gz")
    corrupt = tmp_path / "corrupt.tar.gz"
    corrupt.write_bytes(write_archive(tmp_path / "ok.tar.gz", fixture_files()).read_bytes()[:300])
    with pytest.raises(DataError, match="corrupt"):
        load_newsgroups("train", corrupt)
    garbage = tmp_path / "garbage.tar.gz"
    garbage.write_bytes(b"not an archive at all")
    with pytest.raises(DataError, match="corrupt"):
        load_newsgroups("train", garbage)
    with pytest.raises(DataError, match="no 20news-bydate-train"):
        load_newsgroups("train", tmp_path)
    with pytest.raises(DataError, match="split"):
        load_newsgroups("dev", tmp_path / "ok.tar.gz")
    with pytest.raises(DataError, match="headers"):
        load_newsgroups("train", tmp_path / "ok.tar.gz", remove=("signatures",))
    odd = write_archive(tmp_path / "odd.tar.gz", {"20news-bydate-train/alt.cats/1": b"x"})
    with pytest.raises(DataError, match="alt.cats"):
        load_newsgroups("train", odd)


@pytest.mark.skipif(not REAL_ARCHIVE.is_file(), reason="20 Newsgroups not in ../shared/data")
def test_real_archive_counts():
    train = load_newsgroups("train", REAL_ARCHIVE, remove=())
    test = load_newsgroups("test", REAL_ARCHIVE)
    assert len(train) == 11314 and len(test) == 7532
    assert {d.label for d in train} == set(range(20)) == {d.label for d in test}
    assert sum(d.group == "talk.religion.misc" for d in train) == 377
    assert all(t.text.startswith("From:") or "\n\n" in t.text for t in train[:50])
