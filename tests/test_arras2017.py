"""The importer for the 2017 release: its forward pass equals the released equations."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from conftest import SHARED_DATA
from oracle import oracle_lrp

import textlrp
from textlrp import ModelError, load_arras2017

RELEASE = SHARED_DATA / "arras2017-bilstm"


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def released_forward(weights: dict, embeddings: np.ndarray, word_ids: list[int]) -> np.ndarray:
    """The release's equations, gate rows i, g, f, o, two biases, no output bias."""
    x = embeddings[word_ids]
    final = {}
    for side, seq in (("Left", x), ("Right", x[::-1])):
        W, U = weights[f"Whh_{side}"], weights[f"Wxh_{side}"]
        b = weights[f"bxh_{side}"] + weights[f"bhh_{side}"]
        d = W.shape[1]
        h, c = np.zeros(d), np.zeros(d)
        for x_t in seq:
            z = U @ x_t + W @ h + b
            i, g, f, o = (
                sigmoid(z[:d]),
                np.tanh(z[d : 2 * d]),
                sigmoid(z[2 * d : 3 * d]),
                sigmoid(z[3 * d :]),
            )
            c = f * c + i * g
            h = o * np.tanh(c)
        final[side] = h
    return weights["Why_Left"] @ final["Left"] + weights["Why_Right"] @ final["Right"]


def write_fake_release(folder, d=4, e=3, vocab_size=12, seed=0):
    """A release-format folder with random weights, so the importer is tested without data."""
    rng = np.random.default_rng(seed)
    weights = {}
    for side in ("Left", "Right"):
        weights[f"Wxh_{side}"] = rng.uniform(-1, 1, (4 * d, e))
        weights[f"bxh_{side}"] = rng.uniform(-0.5, 0.5, 4 * d)
        weights[f"Whh_{side}"] = rng.uniform(-1, 1, (4 * d, d))
        weights[f"bhh_{side}"] = rng.uniform(-0.5, 0.5, 4 * d)
    weights["Why_Left"] = rng.uniform(-1, 1, (5, d))
    weights["Why_Right"] = rng.uniform(-1, 1, (5, d))
    words = [f"w{k}" for k in range(vocab_size)]
    with open(folder / "model", "wb") as handle:
        pickle.dump(weights, handle, protocol=4)
    with open(folder / "vocab", "wb") as handle:
        pickle.dump(words, handle, protocol=4)
    return weights, words, rng.normal(0, 1, (vocab_size, e))


def load_release(folder):
    with open(folder / "model", "rb") as handle:
        weights = pickle.load(handle)
    with open(folder / "vocab", "rb") as handle:
        words = pickle.load(handle)
    return weights, words


@pytest.fixture(params=["fixture", "released"])
def release(request, tmp_path):
    """(folder, weights, words, embeddings, sentences) for a fake and the real release."""
    if request.param == "fixture":
        weights, words, emb = write_fake_release(tmp_path)
        rng = np.random.default_rng(1)
        sentences = [[words[k] for k in rng.integers(0, len(words), n)] for n in (1, 2, 5, 9)]
        return tmp_path, weights, words, emb, sentences
    if not (RELEASE / "model").is_file():
        pytest.skip("released weights absent; the fixture release covers the importer")
    weights, words = load_release(RELEASE)
    emb = np.random.default_rng(2017).normal(0, 0.3, (len(words), weights["Wxh_Left"].shape[1]))
    lines = (RELEASE / "sequence_test.txt").read_text(encoding="utf-8").splitlines()
    sentences = [lines[k].split("\t")[1].split(" | ") for k in (0, 700, 1500, 2209)]
    return RELEASE, weights, words, emb, sentences


def test_forward_equals_released_equations(release):
    folder, weights, words, emb, sentences = release
    model = load_arras2017(folder, embeddings=emb)
    index = {w: k for k, w in enumerate(words)}
    result = textlrp.explain(model, sentences, dtype=torch.float64)
    for sentence, e in zip(sentences, result, strict=True):
        expected = released_forward(weights, emb, [index[w] for w in sentence])
        np.testing.assert_allclose(e.scores.numpy(), expected, rtol=0, atol=1e-12)


def test_lrp_on_release_matches_oracle_and_conserves(release):
    folder, _, _, emb, sentences = release
    model = load_arras2017(folder, embeddings=emb)
    for delta in (0.0, 1.0):
        result = textlrp.explain(
            model, sentences, target="very positive", bias_factor=delta, dtype=torch.float64
        )
        for sentence, e in zip(sentences, result, strict=True):
            r_dims, initial, _, _ = oracle_lrp(model, model.vocab.encode(sentence), 4, 0.001, delta)
            np.testing.assert_allclose(e.relevance_per_dim.numpy(), r_dims, rtol=1e-10, atol=1e-12)
            if delta == 1.0:
                total = float(e.relevance.sum()) + e.initial_state_relevance
                assert total == pytest.approx(e.target_score, rel=1e-9, abs=1e-12)


def test_embeddings_npy_in_folder_is_used(tmp_path):
    _, words, emb = write_fake_release(tmp_path)
    np.save(tmp_path / "embeddings.npy", emb)
    from_file = load_arras2017(tmp_path)
    given = load_arras2017(tmp_path, embeddings=emb)
    assert torch.equal(from_file.embedding.weight, given.embedding.weight)
    assert from_file.class_names[4] == "very positive"


def test_missing_embeddings_message(tmp_path):
    write_fake_release(tmp_path)
    with pytest.raises(ModelError, match="embeddings"):
        load_arras2017(tmp_path)


def test_wrong_embedding_shape(tmp_path):
    write_fake_release(tmp_path)
    with pytest.raises(ModelError, match="one row per vocabulary word"):
        load_arras2017(tmp_path, embeddings=np.zeros((3, 3)))


def test_nan_in_released_weights_is_refused(tmp_path):
    weights, words, emb = write_fake_release(tmp_path)
    weights["Whh_Right"][0, 0] = np.nan
    with open(tmp_path / "model", "wb") as handle:
        pickle.dump(weights, handle, protocol=4)
    with pytest.raises(ModelError, match="NaN"):
        load_arras2017(tmp_path, embeddings=emb)


def test_pickle_with_code_is_refused(tmp_path):
    write_fake_release(tmp_path)
    (tmp_path / "model").write_bytes(pickle.dumps(print))  # a global that is not an array
    with pytest.raises(ModelError, match="could not read"):
        load_arras2017(tmp_path, embeddings=np.zeros((12, 3)))


def test_missing_folder(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        load_arras2017(tmp_path / "nowhere", embeddings=np.zeros((2, 2)))
