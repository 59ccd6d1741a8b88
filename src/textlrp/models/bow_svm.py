"""A bag-of-words linear SVM (TF-IDF + scikit-learn's LinearSVC) and its exact explanation.

The classic 20 Newsgroups baseline, on the same tokens as the CNN. Its decision value for class
c is linear in the TF-IDF features, f_c(x) = Σ_j w_cj x_j + b_c, so it is explained exactly:
a word occurrence gets R_t = w_cj x_j / n_j, where j is the word's feature and n_j the word's
count in the document (a feature's share is split evenly over its occurrences); words outside
the TF-IDF vocabulary get 0, and the **bias share** b_c is kept as its own term, not spread over
the words. Hence Σ_t R_t + b_c = f_c(x) exactly (conservation).

scikit-learn is part of the optional extra ``textlrp[news]``.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Sequence

import numpy as np

from textlrp.errors import InputError

__all__ = ["BowSVM", "BowExplanation"]


def _sklearn():
    try:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.svm import LinearSVC
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise InputError(
            "the bag-of-words SVM needs scikit-learn: `pip install 'textlrp[news]'`"
        ) from exc
    return TfidfVectorizer, LinearSVC


def _identity(tokens):
    return tokens


@dataclasses.dataclass
class BowExplanation:
    """Exact relevance of every token of one document for one class."""

    tokens: list[str]
    relevance: np.ndarray  # (T,)
    bias: float
    score: float  # decision value f_c(x)
    target: int


class BowSVM:
    """TF-IDF (sublinear tf, l2-normalised, words in ≥ ``min_df`` documents) + LinearSVC."""

    def __init__(self, C: float = 1.0, min_df: int = 2, sublinear_tf: bool = True) -> None:  # noqa: N803
        TfidfVectorizer, LinearSVC = _sklearn()
        self.vectorizer = TfidfVectorizer(
            tokenizer=_identity,
            preprocessor=_identity,
            lowercase=False,
            token_pattern=None,
            min_df=min_df,
            sublinear_tf=sublinear_tf,
        )
        self.svm = LinearSVC(C=C)
        self._index: dict[str, int] = {}

    def fit(self, documents: Sequence[Sequence[str]], labels: Sequence[int]) -> BowSVM:
        features = self.vectorizer.fit_transform([list(d) for d in documents])
        self.svm.fit(features, np.asarray(labels))
        self._index = self.vectorizer.vocabulary_
        return self

    def features(self, documents: Sequence[Sequence[str]]):
        return self.vectorizer.transform([list(d) for d in documents])

    def decision(self, documents: Sequence[Sequence[str]]) -> np.ndarray:
        """Decision values (B, C)."""
        return np.asarray(self.svm.decision_function(self.features(documents)))

    def predict(self, documents: Sequence[Sequence[str]]) -> np.ndarray:
        return self.decision(documents).argmax(1)

    @property
    def weights(self) -> np.ndarray:
        return np.asarray(self.svm.coef_)

    @property
    def bias(self) -> np.ndarray:
        return np.asarray(self.svm.intercept_)

    def idf(self, word: str) -> float:
        """The word's IDF, 0 for words outside the TF-IDF vocabulary."""
        j = self._index.get(word)
        return 0.0 if j is None else float(self.vectorizer.idf_[j])

    def explain(self, documents: Sequence[Sequence[str]], targets: Sequence[int]) -> list[
        BowExplanation
    ]:
        """The exact explanation of each document for its target class."""
        if len(documents) != len(targets):
            raise InputError("give one target class per document")
        features = self.features(documents).tocsr()
        weights, bias = self.weights, self.bias
        results = []
        for row, (tokens, target) in enumerate(zip(documents, targets, strict=True)):
            start, stop = features.indptr[row], features.indptr[row + 1]
            value = dict(zip(features.indices[start:stop], features.data[start:stop], strict=True))
            counts = Counter(tokens)
            relevance = np.zeros(len(tokens), dtype=np.float64)
            for t, word in enumerate(tokens):
                j = self._index.get(word)
                if j is not None:
                    relevance[t] = weights[target, j] * value.get(j, 0.0) / counts[word]
            score = float(sum(weights[target, j] * v for j, v in value.items()) + bias[target])
            results.append(BowExplanation(list(tokens), relevance, float(bias[target]), score,
                                          int(target)))
        return results
