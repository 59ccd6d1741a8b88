"""Raw rows to documents a model can explain, and the bad rows with the reason for each.

One home for the row checks of every command that reads a corpus (``explain-corpus``,
``evaluate``): a row is bad when the reader could not parse it (``bad-json``), its text is not
UTF-8 (``not-utf8``), holds no token (``empty``), is too long (``too-long``), has no word the
model knows (``no-known-word``), or its label is not one of the model's classes
(``bad-label``). Bad rows are listed as ``{"id", "row", "reason", "detail"}`` (``row`` counts
from 1) and skipped, so one bad row never stops a long run. Needs no optional package.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from typing import Any

from textlrp.corpus.readers import CorpusSource, RawChunk
from textlrp.errors import InputError

DEFAULT_MAX_TOKENS = 2000
READ_CHUNK = 1024  # rows checked at a time by read_documents


def _sst_tokenizer():
    from textlrp.data.tokenizer import tokenize

    return tokenize


def _news_tokenizer():
    from textlrp.data.newsgroups import tokenize_post

    return tokenize_post


# Text -> tokens, by name: "sst" (the SST models' tokenization, the default), "news" (the
# 20 Newsgroups word tokens), "whitespace" (already tokenized text).
TOKENIZERS = {"sst": _sst_tokenizer, "news": _news_tokenizer, "whitespace": lambda: str.split}


def tokenizer_named(name: str):
    """The text -> tokens function called ``name`` (a key of :data:`TOKENIZERS`)."""
    if name not in TOKENIZERS:
        raise InputError(f"unknown tokenizer {name!r}; choose one of: {', '.join(TOKENIZERS)}")
    try:
        return TOKENIZERS[name]()
    except ImportError:
        raise InputError(f"the {name!r} tokenizer is not installed") from None


def class_index(value: Any, class_names: list[str]) -> int:
    """A class given by name (any case) or index, as an index into ``class_names``."""
    text = str(value).strip()
    lowered = [c.lower() for c in class_names]
    if text.lower() in lowered:
        return lowered.index(text.lower())
    if text.lstrip("-").isdigit() and 0 <= int(text) < len(class_names):
        return int(text)
    raise InputError(
        f"unknown class {value!r}; the model's classes are 0..{len(class_names) - 1}: "
        + ", ".join(class_names)
    )


@dataclasses.dataclass
class Document:
    """A row that passed the checks: its tokens and its label's class index (or None)."""

    position: int  # in its chunk
    id: str
    text: str
    tokens: list[str]
    label: int | None
    row: int  # in the input, from 1


class RowChecker:
    """Checks raw rows against one model: tokenizes, and rejects what cannot be explained."""

    def __init__(
        self, model: Any, tokenizer: str = "sst", max_tokens: int = DEFAULT_MAX_TOKENS
    ) -> None:
        if max_tokens < 1:
            raise InputError("max_tokens must be at least 1")
        self.vocab = model.vocab
        self.class_names = list(model.class_names)
        self.tokenize = tokenizer_named(tokenizer)
        self.max_tokens = max_tokens

    def check(self, chunk: RawChunk) -> tuple[list[Document], list[dict[str, Any]]]:
        """The chunk's good rows as documents, and its bad rows, both in input order."""
        docs: list[Document] = []
        bad: list[dict[str, Any]] = []
        max_chars = 100 * self.max_tokens
        for i, (doc_id, text, label, problem) in enumerate(
            zip(chunk.ids, chunk.texts, chunk.labels, chunk.problems, strict=True)
        ):
            row = chunk.start + i + 1

            def reject(reason: str, detail: str, doc_id: str = doc_id, row: int = row) -> None:
                bad.append(bad_row(doc_id, row, reason, detail))

            if problem:
                reason, _, detail = problem.partition(": ")
                reject(reason, detail)
                continue
            if isinstance(text, bytes):
                try:
                    text = text.decode("utf-8")
                except UnicodeDecodeError as exc:
                    reject("not-utf8", f"byte {exc.start} is not UTF-8 ({exc.reason})")
                    continue
            if text is None or not str(text).strip():
                reject("empty", "no text")
                continue
            text = str(text)
            if len(text) > max_chars:
                reject("too-long", f"{len(text)} characters (limit {max_chars})")
                continue
            tokens = [t for t in self.tokenize(text) if t.strip()]
            if not tokens:
                reject("empty", "no tokens after tokenization")
                continue
            if len(tokens) > self.max_tokens:
                reject("too-long", f"{len(tokens)} tokens (limit {self.max_tokens})")
                continue
            if not any(self.vocab.is_known(t) for t in tokens):
                reject("no-known-word", "no word is in the model's vocabulary")
                continue
            label_index = None
            if label is not None and str(label).strip() != "":
                try:
                    label_index = class_index(label, self.class_names)
                except InputError as exc:
                    reject("bad-label", str(exc))
                    continue
            docs.append(Document(i, doc_id, text, tokens, label_index, row))
        return docs, bad


def bad_row(doc_id: str, row: int, reason: str, detail: str) -> dict[str, Any]:
    """One entry of a bad-row listing."""
    return {"id": doc_id, "row": row, "reason": reason, "detail": detail}


def limited(chunks: Iterable[RawChunk], limit: int | None) -> Iterator[RawChunk]:
    """The chunks cut to the first ``limit`` input rows (all of them when ``limit`` is None)."""
    for chunk in chunks:
        if limit is not None and chunk.start >= limit:
            return
        if limit is not None and chunk.start + len(chunk) > limit:
            keep = limit - chunk.start
            chunk.ids, chunk.texts = chunk.ids[:keep], chunk.texts[:keep]
            chunk.labels, chunk.problems = chunk.labels[:keep], chunk.problems[:keep]
        yield chunk


def read_documents(
    corpus: CorpusSource, checker: RowChecker, limit: int | None = None
) -> tuple[list[Document], list[dict[str, Any]], int]:
    """Every good document of the first ``limit`` rows of ``corpus`` (held in memory), the bad
    rows, and the number of rows read. For commands that need all documents at once."""
    docs: list[Document] = []
    bad: list[dict[str, Any]] = []
    rows = 0
    for chunk in limited(corpus.chunks(READ_CHUNK), limit):
        good, rejected = checker.check(chunk)
        docs += good
        bad += rejected
        rows += len(chunk)
    return docs, bad, rows
