"""Word vectors, vocabulary, the bag-of-words SVM's exact explanation, fast CNN occlusion."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from textlrp.errors import DataError
from textlrp.experiments.newsgroups.common import cnn_occluded_scores, encode_rows
from textlrp.methods.builtin.occlusion import occluded_scores
from textlrp.models.bow_svm import BowSVM
from textlrp.models.cnn import CNNClassifier, CNNConfig
from textlrp.models.embeddings import (
    Word2VecSettings,
    build_vocabulary,
    embedding_matrix,
    load_word_vectors,
    train_word2vec,
)
from textlrp.models.vocab import Vocabulary

pytest.importorskip("gensim")

CORPUS = [
    "the cat sat on the mat".split(),
    "the dog sat on the log".split(),
    "cats and dogs are pets".split(),
    "the cat and the dog".split(),
] * 5


def test_word2vec_on_a_tiny_corpus_is_seeded_and_sized():
    settings = Word2VecSettings(dim=12, min_count=2, epochs=3, workers=1, seed=3)
    first = train_word2vec(CORPUS, settings)
    again = train_word2vec(CORPUS, settings)
    assert first.vector_size == 12 and "cat" in first.key_to_index
    assert "pets" in first.key_to_index and "mat" in first.key_to_index  # 5 occurrences each
    np.testing.assert_array_equal(first["cat"], again["cat"])  # one worker: deterministic
    with pytest.raises(DataError, match="min_count"):
        train_word2vec([["once"]], settings)


def test_vector_files_load_in_every_format_and_wrong_dimension_is_clear(tmp_path):
    vectors = train_word2vec(CORPUS, Word2VecSettings(dim=6, epochs=1, workers=1))
    words = vectors.index_to_key
    glove = tmp_path / "glove.6B.6d.txt"
    glove.write_text(
        "".join(w + " " + " ".join(f"{v:.6f}" for v in vectors[w]) + "\n" for w in words),
        encoding="utf-8",
    )
    text = tmp_path / "vectors.txt"
    vectors.save_word2vec_format(str(text), binary=False)
    binary = tmp_path / "vectors.bin"
    vectors.save_word2vec_format(str(binary), binary=True)
    native = tmp_path / "vectors.kv"
    vectors.save(str(native))
    for path in (glove, text, binary, native):
        loaded = load_word_vectors(path, dim=6)
        assert loaded.vector_size == 6 and len(loaded) == len(words)
        np.testing.assert_allclose(loaded["cat"], vectors["cat"], atol=1e-5)
    with pytest.raises(DataError, match="6-dimensional.*300 dimensions.*--embedding-dim 6"):
        load_word_vectors(glove, dim=300)
    with pytest.raises(DataError, match="not found"):
        load_word_vectors(tmp_path / "missing.bin")
    broken = tmp_path / "broken.txt"
    broken.write_text("cat 0.1 0.2\ndog 0.3\n", encoding="utf-8")
    with pytest.raises(DataError, match="cannot read"):
        load_word_vectors(broken)


def test_vocabulary_and_out_of_vocabulary_rule():
    vocab = build_vocabulary([["b", "a", "a", "c"], ["a", "b", "zzz"]], min_count=2)
    assert vocab.itos == ["<pad>", "<unk>", "a", "b"]
    with pytest.raises(DataError):
        build_vocabulary([["x"]], min_count=2)
    vectors = train_word2vec(
        [["Paris", "london", "PARIS", "london", "Berlin"]] * 3,
        Word2VecSettings(dim=4, min_count=1, epochs=1, workers=1),
    )
    vocab = Vocabulary(["london", "paris", "berlin", "nowhere"])
    matrix, stats = embedding_matrix(vocab, vectors, seed=0)
    assert matrix.shape == (6, 4) and matrix.dtype == np.float32
    assert not matrix[:2].any()  # <pad>, <unk> stay zero
    np.testing.assert_array_equal(matrix[vocab.index("london")], vectors["london"])
    np.testing.assert_array_equal(matrix[vocab.index("paris")], vectors["Paris"])  # capitalised
    np.testing.assert_array_equal(matrix[vocab.index("berlin")], vectors["Berlin"])
    assert matrix[vocab.index("nowhere")].any()  # random, trained later
    assert (stats.found, stats.found_cased, stats.random) == (1, 2, 1)


def test_svm_exact_explanation_conserves_the_decision_value():
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(30)]
    docs = [list(rng.choice(words, size=rng.integers(3, 20))) for _ in range(60)]
    labels = [int(doc.count("w1") + doc.count("w2") > doc.count("w3")) + 2 * (i % 2)
              for i, doc in enumerate(docs)]
    svm = BowSVM(min_df=1).fit(docs, labels)
    test = docs[:10] + [["w1", "w1", "unseen", "w5"], []]
    decision = svm.decision(test)
    for target in range(4):
        for doc, explanation, row in zip(test, svm.explain(test, [target] * len(test)), decision,
                                         strict=True):
            assert len(explanation.relevance) == len(doc)
            total = explanation.relevance.sum() + explanation.bias
            assert total == pytest.approx(row[target], abs=1e-10)
            assert explanation.score == pytest.approx(row[target], abs=1e-10)
            assert explanation.bias == pytest.approx(svm.bias[target])
    repeated = svm.explain([["w1", "w1", "unseen", "w5"]], [1])[0]
    assert repeated.relevance[0] == repeated.relevance[1] and repeated.relevance[2] == 0.0


@pytest.mark.parametrize("widths", [(3,), (1, 2, 4)])
def test_fast_cnn_occlusion_equals_the_generic_loop(widths):
    torch.manual_seed(0)
    vocab = Vocabulary([f"w{i}" for i in range(12)])
    config = CNNConfig(embedding_dim=5, num_filters=4, widths=widths, head_hidden=(3,))
    model = CNNClassifier(vocab, ["a", "b", "c"], config).double().eval()
    docs = [["w1", "w2", "w3", "w4", "w5", "w6", "w7"], ["w3"], ["w4", "w9"], [],
            ["w2", "w2", "w8", "w1", "w11"]]
    batch = encode_rows(model, docs, [vocab.encode(d) for d in docs])
    expected = occluded_scores(model, batch, torch.float64, "zero")
    with torch.no_grad():
        fast = cnn_occluded_scores(model, batch.inputs(model, torch.float64), batch.lengths)
    mask = batch.mask[..., None]
    torch.testing.assert_close(fast * mask, expected * mask, rtol=1e-10, atol=1e-10)
