"""Turn raw user text into the tokens the SST models were trained on.

The Stanford Sentiment Treebank uses Penn Treebank tokenization with a few escapes:
``don't`` -> ``do n't``, parentheses -> ``-lrb-``/``-rrb-``, ``/`` -> ``\\/``, ``*`` -> ``\\*``,
double quotes -> `````` / ``''``. :func:`tokenize` applies nltk's ``TreebankWordTokenizer``
plus those escapes and lower-cases, so a word the user types finds its embedding row.
Text that is already SST-tokenized (space-separated, escaped) comes back token for token.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover - typing only
    from nltk.tokenize import TreebankWordTokenizer

__all__ = ["tokenize"]

NBSP = "\u00a0"
# SST keeps a number with a fraction joined by U+00A0 ("8<NBSP>1\/2") as one token; any other
# no-break space is an ordinary space. The placeholder stands in for the kept ones while nltk
# runs, since nltk splits on every Unicode space.
_NBSP_PLACEHOLDER = "\ue000"
_FRACTION_NBSP = re.compile(r"(?<=\d)\u00a0(?=\d+\\?/\d)")

# Typographic characters mapped to the ASCII ones PTB tokenization understands.
_UNICODE_MAP = str.maketrans(
    {
        "\u201c": '"',  # left double quotation mark
        "\u201d": '"',  # right double quotation mark
        "\u201e": '"',
        "\u00ab": '"',
        "\u00bb": '"',
        "\u2018": "'",  # left single quotation mark
        "\u2019": "'",  # right single quotation mark / apostrophe
        "\u2032": "'",
        "\u2013": "--",  # en dash
        "\u2014": "--",  # em dash
        _NBSP_PLACEHOLDER: " ",
    }
)

# Tokens with a final period that are abbreviations, not sentence ends (all lower case).
_ABBREVIATIONS = frozenset(
    """mr. mrs. ms. dr. jr. sr. st. mt. ft. vs. etc. al. bros. inc. co. corp. ltd. prof.
    gen. gov. sen. rep. lt. col. capt. sgt. rev. ave. vol. jan. feb. mar. apr. jun. jul.
    aug. sep. sept. oct. nov. dec. wash. pa. calif. mass. approx. dept. univ.""".split()
)
_INITIALS = re.compile(r"^(?:[^\W\d_]\.)+$")  # j. u.s. e.t. j.r.r. i.e.
_WORD_PERIOD = re.compile(r"[^.]\.$")  # a token ending in one period
# Chunks nltk would mangle but SST keeps whole: the closing-quote token (nltk turns a
# '' after a space into ``), words like "r&b", runs like "?!?", and colloquial forms.
_KEEP_WHOLE = re.compile(
    r"^(?:''|``|[^\W\d_]+&[^\W\d_]+|[?!]{2,}|gonna|gotta|wanna|ol'|'n'|'n)$", re.IGNORECASE
)
_PUNCT_RUN = re.compile(r"[?!]{2,}")
_SPLIT_CHUNKS = re.compile(r"\s+")

_BRACKETS = {"(": "-lrb-", "[": "-lrb-", "{": "-lrb-", ")": "-rrb-", "]": "-rrb-", "}": "-rrb-"}
_UNESCAPED = re.compile(r"(?<!\\)([/*])")


@lru_cache(maxsize=1)
def _treebank() -> TreebankWordTokenizer:
    """The nltk tokenizer, imported on first use so ``import textlrp`` stays fast."""
    from nltk.tokenize import TreebankWordTokenizer

    return TreebankWordTokenizer()


def _is_abbreviation(chunk: str, next_chunk: str | None) -> bool:
    low = chunk.lower()
    if next_chunk == "." and low.endswith(".") and low != ".":
        return True  # already tokenized: "U.S. ." keeps the period inside "U.S."
    if low in _ABBREVIATIONS or _INITIALS.match(low):
        return True
    # "No. 1" is an abbreviation, "It was awful. No." is not.
    return low == "no." and next_chunk is not None and next_chunk[:1].isdigit()


def _segments(text: str) -> list[tuple[str, bool]]:
    """Split ``text`` into ``(piece, keep_whole)``: runs of chunks for nltk, and the chunks
    nltk would mangle (``_KEEP_WHOLE``, abbreviations) as pieces of their own."""
    chunks = [c for c in _SPLIT_CHUNKS.split(text) if c]
    pieces: list[tuple[str, bool]] = []
    current: list[str] = []
    for i, chunk in enumerate(chunks):
        next_chunk = chunks[i + 1] if i + 1 < len(chunks) else None
        if _KEEP_WHOLE.match(chunk) or _is_abbreviation(chunk, next_chunk):
            if current:
                pieces.append((" ".join(current), False))
                current = []
            pieces.append((chunk, True))
        else:
            current.append(chunk)
    if current:
        pieces.append((" ".join(current), False))
    return pieces


def _split_periods(tokens: list[tuple[str, bool]]) -> list[str]:
    """Split the period off sentence-final words inside the text.

    nltk only does so at the very end of its input, so "Great movie. Loved it." would keep
    "movie."; SST has "movie ." there. Abbreviations and kept-whole tokens keep theirs.
    """
    out: list[str] = []
    for i, (token, keep_whole) in enumerate(tokens):
        next_token = tokens[i + 1][0] if i + 1 < len(tokens) else None
        if (
            not keep_whole
            and _WORD_PERIOD.search(token)
            and not _is_abbreviation(token, next_token)
        ):
            out.extend((token[:-1], "."))
        else:
            out.append(token)
    return out


def _sst_escape(token: str) -> str:
    """SST's spelling of one PTB token, lower-cased."""
    token = token.replace(_NBSP_PLACEHOLDER, NBSP)
    token = _BRACKETS.get(token, token)
    token = _UNESCAPED.sub(r"\\\1", token)
    return token.lower()


def tokenize(text: str) -> list[str]:
    """Tokenize ``text`` the way the Stanford Sentiment Treebank is tokenized, lower-cased.

    >>> tokenize("It's not (just) mediocre... don't buy it!")
    ['it', "'s", 'not', '-lrb-', 'just', '-rrb-', 'mediocre', '...', 'do', "n't", 'buy', 'it', '!']
    """
    if not isinstance(text, str):
        raise TypeError(f"tokenize expects a str, got {type(text).__name__}")
    text = text.translate(_UNICODE_MAP).replace("\u2026", "...")
    text = _FRACTION_NBSP.sub(_NBSP_PLACEHOLDER, text)
    text = _PUNCT_RUN.sub(lambda m: f" {m.group()} ", text)  # SST keeps "?!" as one token
    tokenizer = _treebank()
    tokens: list[tuple[str, bool]] = []
    for piece, keep_whole in _segments(text):
        if keep_whole:
            tokens.append((piece, True))
        else:
            tokens.extend((token, False) for token in tokenizer.tokenize(piece))
    return [_sst_escape(t) for t in _split_periods(tokens)]
