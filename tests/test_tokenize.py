"""SST-style tokenization of raw text, and exact round trips of already tokenized SST text."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from textlrp.data import tokenize

SHARED_TEST = Path(__file__).resolve().parents[2] / "shared" / "data" / "sst" / "test.txt"
NBSP = "\u00a0"

# Already tokenized SST sentences with the tricky cases (quotes, escapes, abbreviations,
# "no. ." at a sentence end, 'n', ol', ?!?, r&b, gonna, the no-break-space fraction).
SST_STYLE = [
    "it 's not horrible , just horribly mediocre .",
    "do n't waste your money .",
    "`` extreme ops '' exceeds expectations .",
    "` tadpole ' was one of the films so declared this year , but it 's really more .",
    "-lrb- `` take care of my cat '' -rrb- is an honestly nice little film .",
    "co-writer\\/director peter jackson 's expanded vision of j.r.r. tolkien 's middle-earth .",
    "mr. deeds is , as comedy goes , very silly -- and in the best way ...",
    "in a word : no. .",
    "a mix of serial killers and stalk 'n' slash .",
    "a normal ol' slasher plot ca n't save it",
    "dawson leery did what ?!? -rrb- , or see some interesting stories",
    "` what 's the russian word for wow !? '",
    "a r&b soundtrack and s&m jokes , it 's gonna be 10,000 times worse",
    "the u.s. version , i.e. the remake , is rated \\* \\* \\*",
    f"contempt and 8{NBSP}1\\/2 .",
    "the film does n't have the `` wow '' factor of `` solaris . ''",
]


def _real_test_sentences() -> list[list[str]]:
    leaves = re.compile(r"\([0-4] ([^ ()]+)\)")
    with open(SHARED_TEST, encoding="utf-8") as handle:
        return [leaves.findall(line) for line in handle if line.strip()]


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("Don't waste your money.", ["do", "n't", "waste", "your", "money", "."]),
        (
            "It's not horrible, just horribly mediocre!",
            ["it", "'s", "not", "horrible", ",", "just", "horribly", "mediocre", "!"],
        ),
        ("Wait... what?", ["wait", "...", "what", "?"]),
        ('He said "wow" and left', ["he", "said", "``", "wow", "''", "and", "left"]),
        (
            "A \u201cmasterpiece\u201d it isn\u2019t",
            ["a", "``", "masterpiece", "''", "it", "is", "n't"],
        ),
        ("(Really) good", ["-lrb-", "really", "-rrb-", "good"]),
        ("Writer/director gets 3*", ["writer\\/director", "gets", "3\\*"]),
        ("We'll see; they've gone", ["we", "'ll", "see", ";", "they", "'ve", "gone"]),
        ("Great movie. Loved it.", ["great", "movie", ".", "loved", "it", "."]),
        (
            "Mr. Smith went to the U.S. in 2002.",
            ["mr.", "smith", "went", "to", "the", "u.s.", "in", "2002", "."],
        ),
        ("It runs 8\u00a01/2 hours", ["it", "runs", f"8{NBSP}1\\/2", "hours"]),
        ("no\u00a0break", ["no", "break"]),
        ("I cannot say", ["i", "can", "not", "say"]),
        ("", []),
        ("   \n\t ", []),
    ],
)
def test_raw_text(text: str, tokens: list[str]) -> None:
    assert tokenize(text) == tokens


@pytest.mark.parametrize("sentence", SST_STYLE)
def test_sst_text_round_trips(sentence: str) -> None:
    assert tokenize(sentence) == sentence.split(" ")


def test_round_trip_of_the_sst_test_set() -> None:
    """Every SST test sentence (cased and lower-cased) comes back token for token."""
    sentences = (
        _real_test_sentences() if SHARED_TEST.is_file() else [s.split(" ") for s in SST_STYLE]
    )
    failures = []
    for tokens in sentences:
        lower = [t.lower() for t in tokens]
        for text in (" ".join(tokens), " ".join(lower)):
            if tokenize(text) != lower:
                failures.append(text)
    assert failures == []
    assert len(sentences) == (2210 if SHARED_TEST.is_file() else len(SST_STYLE))


def test_rejects_non_strings() -> None:
    with pytest.raises(TypeError):
        tokenize(None)  # type: ignore[arg-type]


TEXT = st.text(
    alphabet=st.sampled_from(list("abcXYZ019 .,;:!?'\"()/*-&`\u00a0\u2019\u201c\u201d\n")),
    max_size=40,
)
SST_TOKENS = st.sampled_from(
    "the film is n't 's 're 'll 've 'm 'd ca wo good , . ! ? ; : -- ... `` '' ` ' -lrb- -rrb- "
    "co-writer\\/director \\* 1\\/2 mr. u.s. $ % # & 10,000 3.5 r&b ?! gonna ol' 'n'".split()
)


@settings(max_examples=300, deadline=None)
@given(TEXT)
def test_tokens_are_lowercase_unspaced_and_escaped(text: str) -> None:
    tokens = tokenize(text)
    assert all(tok and tok == tok.lower() for tok in tokens)
    assert all(not re.search(r"[\s()]", tok.replace(NBSP, "")) for tok in tokens)
    assert all(not re.search(r"(?<!\\)[/*]", tok) for tok in tokens)


@settings(max_examples=300, deadline=None)
@given(st.lists(SST_TOKENS, min_size=1, max_size=12))
def test_any_sequence_of_sst_tokens_round_trips(tokens: list[str]) -> None:
    assert tokenize(" ".join(tokens)) == tokens


def test_import_does_not_load_nltk() -> None:
    code = "import sys, textlrp.data; assert 'nltk' not in sys.modules, 'nltk imported eagerly'"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
