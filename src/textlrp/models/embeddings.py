"""Word vectors for initialising a model's embedding layer: train word2vec or load a file.

Pre-trained vectors (the GoogleNews word2vec vectors the 2016 CNN paper used) cannot be
downloaded here, so the default stand-in is word2vec (gensim, skip-gram) trained on the
training split. Users with vectors of their own load them with :func:`load_word_vectors`:
word2vec binary (``.bin``/``.bin.gz``) or text format, GloVe text (no header line), or gensim's
own ``KeyedVectors.save`` format (``.kv``).

Out-of-vocabulary rule (:func:`embedding_matrix`): a vocabulary word (lower-cased) takes the
vector of the word itself, else of its capitalised form, else of its upper-case form (so cased
files such as GoogleNews serve lower-cased text); a word found in none of them gets a random
normal vector with the per-dimension standard deviation of the loaded vectors (seeded), which
the model then trains. ``<pad>`` and ``<unk>`` are zero vectors.

gensim is an optional extra: ``pip install 'textlrp[news]'``.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from textlrp.errors import DataError, InputError
from textlrp.models.vocab import Vocabulary

if TYPE_CHECKING:  # pragma: no cover - typing only
    from gensim.models import KeyedVectors

__all__ = [
    "require_news_extra",
    "EmbeddingStats",
    "Word2VecSettings",
    "build_vocabulary",
    "embedding_matrix",
    "load_word_vectors",
    "train_word2vec",
]


def require_news_extra() -> None:
    """Fail with the install command when the ``textlrp[news]`` libraries are missing."""
    missing = []
    for module in ("gensim", "sklearn"):
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    if missing:
        raise InputError(
            f"20 Newsgroups needs {' and '.join(missing)}: install the extra with "
            "`pip install 'textlrp[news]'`"
        )


def _gensim():
    try:
        import gensim  # noqa: F401
        from gensim.models import KeyedVectors, Word2Vec
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise InputError(
            "word vectors need gensim: install the extra with `pip install 'textlrp[news]'`"
        ) from exc
    return KeyedVectors, Word2Vec


@dataclasses.dataclass(frozen=True)
class Word2VecSettings:
    """gensim Word2Vec settings of the stand-in vectors (skip-gram like GoogleNews)."""

    dim: int = 300
    window: int = 5
    min_count: int = 2
    epochs: int = 5
    negative: int = 5
    sg: int = 1
    seed: int = 0
    workers: int = 2

    def __post_init__(self) -> None:
        if min(self.dim, self.window, self.min_count, self.epochs, self.workers) < 1:
            raise InputError("word2vec dim, window, min_count, epochs and workers must be ≥ 1")


def train_word2vec(
    documents: Iterable[Sequence[str]], settings: Word2VecSettings | None = None
) -> KeyedVectors:
    """word2vec vectors trained on the token lists in ``documents``.

    With ``workers=1`` the result is deterministic for a seed; with more workers gensim's
    thread scheduling makes it vary slightly from run to run.
    """
    settings = settings or Word2VecSettings()
    _, Word2Vec = _gensim()
    corpus = [list(doc) for doc in documents if len(doc) > 0]
    if not corpus:
        raise DataError("word2vec needs at least one non-empty document")
    model = Word2Vec(
        vector_size=settings.dim,
        window=settings.window,
        min_count=settings.min_count,
        negative=settings.negative,
        sg=settings.sg,
        seed=settings.seed,
        workers=settings.workers,
    )
    model.build_vocab(corpus)
    if len(model.wv) == 0:
        raise DataError(
            f"no word occurs {settings.min_count} times in the word2vec corpus; "
            "lower min_count or give more text"
        )
    model.train(corpus, total_examples=len(corpus), epochs=settings.epochs)
    return model.wv


def load_word_vectors(path: str | Path, dim: int | None = None) -> KeyedVectors:
    """Vectors from a word2vec (binary or text), GloVe (text, no header) or gensim ``.kv`` file.

    ``dim``, when given, is the dimension the model needs; a file with another dimension is a
    :class:`DataError` that names both.
    """
    KeyedVectors, _ = _gensim()
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(
            f"embeddings file {path} not found: pass a word2vec (.bin/.txt), GloVe (.txt) or "
            "gensim (.kv) file, or leave --embeddings out to train word2vec on the training split"
        )
    try:
        vectors = _load_any(KeyedVectors, path)
    except (OSError, ValueError, EOFError, UnicodeDecodeError, KeyError, IndexError) as exc:
        raise DataError(
            f"cannot read word vectors from {path} ({type(exc).__name__}: {exc}); give a "
            "word2vec binary/text file, a GloVe text file (one 'word v1 … vD' per line) or a "
            "gensim KeyedVectors .kv file"
        ) from exc
    if len(vectors) == 0:
        raise DataError(f"{path} holds no word vectors")
    if dim is not None and vectors.vector_size != dim:
        raise DataError(
            f"{path} holds {vectors.vector_size}-dimensional vectors but the model's embeddings "
            f"have {dim} dimensions: pass --embedding-dim {vectors.vector_size} or a {dim}-d file"
        )
    return vectors


def _load_any(KeyedVectors, path: Path):  # noqa: N803 - the gensim class
    name = path.name.lower()
    if name.endswith(".kv") or name.endswith(".model"):
        return KeyedVectors.load(str(path))
    if name.endswith(".bin") or name.endswith(".bin.gz"):
        return KeyedVectors.load_word2vec_format(str(path), binary=True)
    return _read_text_vectors(KeyedVectors, path)


def _read_text_vectors(KeyedVectors, path: Path):  # noqa: N803 - the gensim class
    """word2vec text (``<count> <dim>`` header) or GloVe text (no header), every row checked.

    gensim pads or mis-reads ragged rows silently, so the rows are parsed here: the dimension
    comes from the header or the first row, and a row with another number of values is an
    error naming its line. Words may contain spaces (GloVe 840B): the last ``dim`` fields are
    the vector.
    """
    import gzip

    opener = gzip.open if path.name.lower().endswith(".gz") else open
    words: list[str] = []
    rows: list[np.ndarray] = []
    dim = None
    with opener(path, "rt", encoding="utf-8", errors="strict") as handle:
        for number, line in enumerate(handle, start=1):
            parts = line.rstrip("\n").rstrip(" ").split(" ")
            if number == 1 and len(parts) == 2 and all(p.isdigit() for p in parts):
                dim = int(parts[1])
                continue
            if parts == [""]:
                continue
            if dim is None:
                dim = len(parts) - 1
            if dim < 1 or len(parts) < dim + 1:
                raise ValueError(f"line {number} has {len(parts) - 1} values, expected {dim}")
            try:
                rows.append(np.asarray(parts[-dim:], dtype=np.float32))
            except ValueError as exc:
                raise ValueError(f"line {number} has a value that is not a number") from exc
            words.append(" ".join(parts[:-dim]))
    if dim is None or not rows:
        raise ValueError("no vectors found")
    vectors = KeyedVectors(vector_size=dim)
    vectors.add_vectors(words, np.stack(rows))
    return vectors


def build_vocabulary(documents: Iterable[Sequence[str]], min_count: int = 2) -> Vocabulary:
    """Words occurring at least ``min_count`` times, most frequent first (ties alphabetical)."""
    if min_count < 1:
        raise InputError("min_count must be at least 1")
    counts = Counter(token for doc in documents for token in doc)
    words = sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w))
    if not words:
        raise DataError(f"no word occurs {min_count} times in the training documents")
    return Vocabulary(words)


@dataclasses.dataclass(frozen=True)
class EmbeddingStats:
    """How many vocabulary words found a vector (exactly, or via a cased form)."""

    words: int
    found: int
    found_cased: int
    random: int

    @property
    def coverage(self) -> float:
        return (self.found + self.found_cased) / max(self.words, 1)


def embedding_matrix(
    vocab: Vocabulary, vectors: KeyedVectors, seed: int = 0
) -> tuple[np.ndarray, EmbeddingStats]:
    """A ``(len(vocab), dim)`` float32 matrix by the module's out-of-vocabulary rule."""
    dim = vectors.vector_size
    matrix = np.zeros((len(vocab), dim), dtype=np.float32)
    scale = np.asarray(vectors.vectors, dtype=np.float64).std(axis=0)
    rng = np.random.default_rng(seed)
    found = cased = missing = 0
    for index, word in enumerate(vocab.itos):
        if index in (vocab.pad_index, vocab.unk_index):
            continue
        for form in (word, word.capitalize(), word.upper()):
            if form in vectors.key_to_index:
                matrix[index] = vectors[form]
                if form == word:
                    found += 1
                else:
                    cased += 1
                break
        else:
            matrix[index] = rng.normal(0.0, scale).astype(np.float32)
            missing += 1
    return matrix, EmbeddingStats(len(vocab) - 2, found, cased, missing)
