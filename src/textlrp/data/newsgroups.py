"""20 Newsgroups ("bydate" split): read the archive, strip headers/footers/quotes, tokenize.

The data is the standard ``20news-bydate.tar.gz`` (or a reconstruction of it with the same
tree), read member by member with :mod:`tarfile` in streaming mode, so nothing is extracted;
an extracted folder (holding ``20news-bydate-train/`` and ``20news-bydate-test/``) works too.
Files are decoded as latin-1, as scikit-learn does.

Stripping follows the semantics of scikit-learn's ``fetch_20newsgroups(remove=...)`` (our own
code, same behaviour, applied in the same order: headers, footers, quotes):

- ``headers``: drop everything up to the first blank line (the message header block);
- ``footers``: drop the last block of the stripped text that follows the last line made only
  of dashes or blanks (a signature), unless that line is the first line;
- ``quotes``: drop every line that contains ``writes in``, ``writes:``, ``wrote:``, ``says:``
  or ``said:``, or that starts with ``In article``, ``Quoted from``, ``|`` or ``>``.

Default: all three are removed (:data:`DEFAULT_REMOVE`), so that a classifier cannot lean on
newsgroup names in the headers or on signatures; pass ``remove=()`` for the raw posts.

Tokenization (:func:`tokenize_post`): lower-case everything, then a token is a maximal run of
letters and digits, possibly joined by single inner apostrophes or periods (``don't``,
``u.s``, ``3.5``); every other character (punctuation, markup, e-mail ``@``) separates tokens.
"""

from __future__ import annotations

import bz2
import dataclasses
import gzip
import lzma
import os
import re
import tarfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from textlrp.errors import DataError

__all__ = [
    "DEFAULT_REMOVE",
    "ENV_ARCHIVE",
    "NEWSGROUPS",
    "NEWS_SPLITS",
    "NewsDocument",
    "find_newsgroups",
    "load_newsgroups",
    "strip_footer",
    "strip_header",
    "strip_post",
    "strip_quotes",
    "tokenize_post",
]

NEWS_SPLITS = ("train", "test")
REMOVABLE = ("headers", "footers", "quotes")
DEFAULT_REMOVE: tuple[str, ...] = REMOVABLE
ENV_ARCHIVE = "TEXTLRP_20NEWS"
ARCHIVE_NAMES = ("20news-bydate.tar.gz", "20news-bydate.reconstructed.tar.gz")

NEWSGROUPS: tuple[str, ...] = (
    "alt.atheism",
    "comp.graphics",
    "comp.os.ms-windows.misc",
    "comp.sys.ibm.pc.hardware",
    "comp.sys.mac.hardware",
    "comp.windows.x",
    "misc.forsale",
    "rec.autos",
    "rec.motorcycles",
    "rec.sport.baseball",
    "rec.sport.hockey",
    "sci.crypt",
    "sci.electronics",
    "sci.med",
    "sci.space",
    "soc.religion.christian",
    "talk.politics.guns",
    "talk.politics.mideast",
    "talk.politics.misc",
    "talk.religion.misc",
)


@dataclasses.dataclass(frozen=True)
class NewsDocument:
    """One post: its (stripped) text, class index into :data:`NEWSGROUPS`, and file name."""

    text: str
    label: int
    name: str  # "<group>/<article number>"

    @property
    def group(self) -> str:
        return NEWSGROUPS[self.label]


# ----------------------------------------------------------------------- stripping
_QUOTE_LINE = re.compile(r"writes in|writes:|wrote:|says:|said:|^In article|^Quoted from|^\||^>")


def strip_header(text: str) -> str:
    """The text after the first blank line (``""`` when there is none)."""
    _, _, body = text.partition("\n\n")
    return body


def strip_quotes(text: str) -> str:
    """The lines that neither quote another post nor introduce a quote."""
    return "\n".join(line for line in text.split("\n") if not _QUOTE_LINE.search(line))


def strip_footer(text: str) -> str:
    """The text before the last line of only dashes/blanks (a signature separator).

    When no such line exists but the first, or the only one is the first line, the text comes
    back unchanged (as in scikit-learn).
    """
    lines = text.strip().split("\n")
    cut = 0
    for cut in range(len(lines) - 1, -1, -1):
        if lines[cut].strip().strip("-") == "":
            break
    return "\n".join(lines[:cut]) if cut > 0 else text


def strip_post(text: str, remove: Iterable[str] = DEFAULT_REMOVE) -> str:
    """Apply the chosen strippings in scikit-learn's order (headers, footers, quotes)."""
    chosen = _check_remove(remove)
    if "headers" in chosen:
        text = strip_header(text)
    if "footers" in chosen:
        text = strip_footer(text)
    if "quotes" in chosen:
        text = strip_quotes(text)
    return text


def _check_remove(remove: Iterable[str]) -> frozenset[str]:
    if isinstance(remove, str):
        remove = (remove,)
    chosen = frozenset(remove)
    unknown = sorted(chosen - set(REMOVABLE))
    if unknown:
        raise DataError(
            f"cannot remove {', '.join(map(repr, unknown))} from posts: choose any of "
            f"{', '.join(REMOVABLE)}"
        )
    return chosen


# ----------------------------------------------------------------------- tokenizing
_TOKEN = re.compile(r"[^\W_]+(?:['.][^\W_]+)*")


def tokenize_post(text: str) -> list[str]:
    """Lower-cased word tokens: runs of letters/digits with inner ``'`` or ``.`` kept."""
    return _TOKEN.findall(text.lower())


# ------------------------------------------------------------------------- locating
def _how_to_fix() -> str:
    return (
        "pass the standard 20news-bydate.tar.gz (http://qwone.com/~jason/20Newsgroups/) or the "
        "folder it extracts to (holding 20news-bydate-train/ and 20news-bydate-test/) with "
        f"--data PATH, or set ${ENV_ARCHIVE} to it"
    )


def find_newsgroups(source: str | Path | None = None) -> Path:
    """The archive or extracted folder to read: ``source``, else ``$TEXTLRP_20NEWS``, else the
    user cache ``~/.cache/textlrp/20news/`` (holding the archive or the extracted folders)."""
    for given, origin in ((source, "the path given"), (os.environ.get(ENV_ARCHIVE), ENV_ARCHIVE)):
        if given:
            path = Path(given).expanduser()
            if not path.exists():
                raise DataError(f"20 Newsgroups data not found at {path} ({origin}): "
                                + _how_to_fix())
            return path
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "textlrp" / "20news"
    for name in ARCHIVE_NAMES:
        if (cache / name).is_file():
            return cache / name
    if (cache / "20news-bydate-train").is_dir():
        return cache
    raise DataError(f"20 Newsgroups data not found (looked in {cache}): {_how_to_fix()}")


# -------------------------------------------------------------------------- loading
def _split_prefix(split: str) -> str:
    if split not in NEWS_SPLITS:
        raise DataError(f"unknown 20 Newsgroups split {split!r}: use one of "
                        + ", ".join(NEWS_SPLITS))
    return f"20news-bydate-{split}"


def _parse_member(name: str, prefix: str) -> tuple[str, str] | None:
    """``(group, article)`` for ``[anything/]<prefix>/<group>/<article>``, else ``None``."""
    parts = name.strip("/").split("/")
    if len(parts) < 3 or parts[-3] != prefix:
        return None
    return parts[-2], parts[-1]


def _open_decompressed(path: Path):
    """The archive's tar stream, decompressed by the codec its magic bytes name.

    Opening the codec ourselves (instead of tarfile's ``r|*``) lets us read the stream to its
    end afterwards, so a truncated download fails loudly instead of yielding fewer documents.
    """
    with open(path, "rb") as handle:
        magic = handle.read(6)
    if magic.startswith(b"\x1f\x8b"):
        return gzip.open(path, "rb")
    if magic.startswith(b"BZh"):
        return bz2.open(path, "rb")
    if magic.startswith(b"\xfd7zXZ"):
        return lzma.open(path, "rb")
    return open(path, "rb")


def _read_archive(path: Path, prefix: str) -> Iterator[tuple[str, str, bytes]]:
    try:
        with _open_decompressed(path) as stream:
            with tarfile.open(fileobj=stream, mode="r|") as archive:  # streaming, no seeks
                for member in archive:
                    if not member.isfile():
                        continue
                    parsed = _parse_member(member.name, prefix)
                    if parsed is None:
                        continue
                    handle = archive.extractfile(member)
                    if handle is None:
                        continue
                    yield parsed[0], parsed[1], handle.read()
            while stream.read(1 << 20):  # the rest must decompress to its end marker
                pass
    except (tarfile.TarError, EOFError, OSError, ValueError, lzma.LZMAError) as exc:
        if type(exc) in (OSError, FileNotFoundError, PermissionError) and exc.filename:
            raise DataError(f"cannot read {path}: {exc.strerror or exc}: " + _how_to_fix()) from exc
        raise DataError(
            f"{path} is not a readable 20news-bydate archive ({type(exc).__name__}: {exc}); "
            "it may be truncated or corrupt: download it again, or " + _how_to_fix()
        ) from exc


def _read_folder(path: Path, prefix: str) -> Iterator[tuple[str, str, bytes]]:
    root = path / prefix
    if not root.is_dir():
        raise DataError(f"{path} has no {prefix}/ folder: " + _how_to_fix())
    for group_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        for file in sorted(p for p in group_dir.iterdir() if p.is_file()):
            yield group_dir.name, file.name, file.read_bytes()


def load_newsgroups(
    split: str,
    source: str | Path | None = None,
    remove: Iterable[str] = DEFAULT_REMOVE,
) -> list[NewsDocument]:
    """The documents of ``split`` (``train`` or ``test``), sorted by group then article number.

    ``source`` is the archive or extracted folder (see :func:`find_newsgroups`); ``remove``
    any of ``headers``, ``footers``, ``quotes`` (default: all three).
    """
    prefix = _split_prefix(split)
    chosen = _check_remove(remove)
    path = find_newsgroups(source)
    reader = _read_folder if path.is_dir() else _read_archive
    index = {group: k for k, group in enumerate(NEWSGROUPS)}
    documents = []
    for group, article, raw in reader(path, prefix):
        if group not in index:
            raise DataError(
                f"{path}: unknown newsgroup folder {group!r} in {prefix}/; expected the 20 "
                "groups of the bydate split: " + _how_to_fix()
            )
        text = strip_post(raw.decode("latin-1"), chosen)
        documents.append(NewsDocument(text, index[group], f"{group}/{article}"))
    if not documents:
        raise DataError(f"{path} holds no {prefix}/<group>/<file> documents: " + _how_to_fix())
    documents.sort(key=lambda d: (d.label, _article_key(d.name)))
    return documents


def _article_key(name: str) -> tuple[int, str]:
    article = name.rsplit("/", 1)[-1]
    return (int(article), "") if article.isdigit() else (1 << 62, article)
