"""Word vocabulary: token <-> index, with padding and unknown-word tokens."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from textlrp.errors import InputError

PAD = "<pad>"
UNK = "<unk>"


class Vocabulary:
    """Maps (lower-cased) tokens to embedding rows.

    Index 0 is always the padding token and index 1 the unknown-word token, so a model's
    embedding matrix has ``len(vocab)`` rows and padded batches can use 0 everywhere.
    """

    def __init__(self, words: Iterable[str], lowercase: bool = True) -> None:
        self.lowercase = lowercase
        self.itos: list[str] = [PAD, UNK]
        self.stoi: dict[str, int] = {PAD: 0, UNK: 1}
        for word in words:
            key = word.lower() if lowercase else word
            if key not in self.stoi:
                self.stoi[key] = len(self.itos)
                self.itos.append(key)

    pad_index = 0
    unk_index = 1
    CACHE_LIMIT = 1 << 20  # distinct raw tokens remembered by :meth:`indices`

    def __getstate__(self) -> dict:
        # The look-up cache is rebuilt on demand; copies and pickles leave it behind.
        return {k: v for k, v in self.__dict__.items() if k != "_index_cache"}

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: str) -> bool:
        return self.normalize(token) in self.stoi

    def normalize(self, token: str) -> str:
        return token.lower() if self.lowercase else token

    def index(self, token: str) -> int:
        """The row of ``token``, or the unknown-word row (also for a literal ``<pad>``)."""
        index = self.stoi.get(self.normalize(token), self.unk_index)
        return self.unk_index if index == self.pad_index else index

    def encode(self, tokens: Sequence[str]) -> list[int]:
        return self.indices(tokens)

    def indices(self, tokens: Iterable[str]) -> list[int]:
        """The rows of many tokens, as :meth:`index` gives them, in one pass.

        Each distinct raw token is normalized and looked up once and then remembered, so a
        corpus costs one dictionary look-up per token.
        """
        cache = self.__dict__.get("_index_cache")
        if cache is None or len(cache) > self.CACHE_LIMIT:
            cache = self.__dict__["_index_cache"] = {}
        index = self.index
        result = []
        append = result.append
        for token in tokens:
            row = cache.get(token)
            if row is None:
                row = cache[token] = index(token)
            append(row)
        return result

    def is_known(self, token: str) -> bool:
        return self.normalize(token) in self.stoi and self.normalize(token) not in (PAD, UNK)

    def to_list(self) -> list[str]:
        """Words without the two special tokens, in index order (for saving)."""
        return self.itos[2:]

    @classmethod
    def from_list(cls, words: Sequence[str], lowercase: bool = True) -> Vocabulary:
        vocab = cls(words, lowercase=lowercase)
        if len(vocab) != len(words) + 2:
            raise InputError("vocabulary words must be unique after normalization")
        return vocab
