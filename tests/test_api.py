"""explain(): targets, text forms, and a clear error for every kind of bad input."""

from __future__ import annotations

import math

import pytest
import torch
from conftest import random_model

import textlrp
from textlrp import InputError, ModelError
from textlrp.models import RecurrentClassifier


@pytest.fixture
def model():
    return random_model(seed=21)


def test_targets_by_name_index_predicted_and_list(model):
    texts = [["the", "movie"], ["great", "fun"]]
    predicted = textlrp.explain(model, texts, dtype=torch.float64)
    for e in predicted:
        assert e.target == e.predicted == int(e.scores.argmax())
    by_name = textlrp.explain(model, texts, target="CLASS1", dtype=torch.float64)
    assert [e.target for e in by_name] == [1, 1]
    per_text = textlrp.explain(model, texts, target=[0, "class2"], dtype=torch.float64)
    assert [e.target for e in per_text] == [0, 2]
    assert per_text[1].target_name == "class2"


def test_batch_tensors_match_the_list(model):
    texts = [["the"], ["great", "fun", "movie"]]
    result = textlrp.explain(model, texts, dtype=torch.float64)
    assert result.batch.relevance.shape == (2, 3)
    assert result.batch.mask.tolist() == [[True, False, False], [True, True, True]]
    torch.testing.assert_close(result.batch.relevance[1], result[1].relevance)
    assert float(result.batch.relevance[0, 1:].abs().sum()) == 0.0


def test_raw_text_is_tokenized_and_unknown_words_flagged(model):
    [e] = textlrp.explain(model, "The movie wasn't GOOD!", dtype=torch.float64)
    assert e.tokens == ["the", "movie", "was", "n't", "good", "!"]
    assert e.unknown == [False, False, False, True, False, True]


def test_json_record(model):
    [e] = textlrp.explain(model, [["the", "movie"]], dtype=torch.float64)
    record = e.to_dict()
    assert record["tokens"] == ["the", "movie"]
    assert math.isclose(sum(record["relevance"]), float(e.relevance.sum()), rel_tol=1e-12)
    assert record["target_name"] == model.class_names[e.target]


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (dict(texts=""), "empty"),
        (dict(texts=["   "]), "empty"),
        (dict(texts=[]), "no texts"),
        (dict(texts=[[]]), "empty"),
        (dict(texts="xyzzy plugh"), "no word in the model's vocabulary"),
        (dict(texts="the movie", method="magic"), "unknown method 'magic'"),
        (dict(texts="the movie", target="sideways"), "unknown class name"),
        (dict(texts="the movie", target=7), "out of range"),
        (dict(texts="the movie", target=-1), "out of range"),
        (dict(texts=["the", "movie"], target=[0]), "one per text"),
        (dict(texts="the movie", eps=-1.0), "eps"),
        (dict(texts="the movie", eps=float("nan")), "eps"),
        (dict(texts="the movie", bias_factor=2.0), "bias_factor"),
        (dict(texts="the movie", product_rule="none"), "product_rule"),
        (dict(texts="the movie", method="gradient", eps=0.1), "does not take"),
        (dict(texts="the movie", dtype="float16"), "dtype"),
        (dict(texts=[["the", 3]]), "token strings"),
    ],
)
def test_bad_input_gets_a_clear_error(model, kwargs, message):
    with pytest.raises(InputError, match=message):
        textlrp.explain(model, **kwargs)


def test_nan_weights_are_refused(model):
    with torch.no_grad():
        model.rnn.weight_hh_l0[0, 0] = float("nan")
    with pytest.raises(ModelError, match="rnn.weight_hh_l0"):
        textlrp.explain(model, "the movie")


def test_inf_embedding_is_refused(model):
    with torch.no_grad():
        model.embedding.weight[3, 0] = float("inf")
    with pytest.raises(ModelError, match="embedding.weight"):
        textlrp.explain(model, "the movie")


def test_training_mode_is_restored_and_dropout_not_used(model):
    model.train()
    a = textlrp.explain(model, "the movie was fun", dtype=torch.float64)
    assert model.training
    b = textlrp.explain(model, "the movie was fun", dtype=torch.float64)
    torch.testing.assert_close(a[0].relevance, b[0].relevance, rtol=0, atol=0)


def test_save_and_load_roundtrip(model, tmp_path):
    path = tmp_path / "m.pt"
    model.save(path)
    loaded = RecurrentClassifier.load(path)
    assert loaded.class_names == model.class_names
    assert loaded.vocab.itos == model.vocab.itos
    a = textlrp.explain(model, "the movie was fun", dtype=torch.float64)
    b = textlrp.explain(loaded, "the movie was fun", dtype=torch.float64)
    torch.testing.assert_close(a[0].relevance, b[0].relevance, rtol=0, atol=0)


@pytest.mark.parametrize("content", [b"", b"not a model at all", b"PK\x03\x04garbage"])
def test_corrupt_model_file(tmp_path, content):
    path = tmp_path / "bad.pt"
    path.write_bytes(content)
    with pytest.raises(ModelError, match="could not read model file"):
        RecurrentClassifier.load(path)


def test_model_file_of_another_kind(tmp_path):
    path = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(3)}, path)
    with pytest.raises(ModelError, match="not a textlrp model file"):
        RecurrentClassifier.load(path)


def test_missing_model_file(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        textlrp.load_model(tmp_path / "missing.pt")


@pytest.mark.parametrize("method", textlrp.available_methods())
def test_explain_vectors_equals_explain_on_the_same_embeddings(model, method):
    texts = [["the", "movie", "was", "fun"], ["great"]]
    by_words = textlrp.explain(model, texts, method=method, target=1, dtype=torch.float64)
    ids = torch.tensor([model.vocab.encode(t) + [0] * (4 - len(t)) for t in texts])
    vectors = model.embedding(ids).detach()
    vectors[1, 1:] = 123.0  # padding content must not matter
    by_vectors = textlrp.explain_vectors(
        model, vectors, [4, 1], method=method, target=1, dtype=torch.float64
    )
    assert by_vectors[0].tokens == ["x1", "x2", "x3", "x4"]
    for a, b in zip(by_words, by_vectors, strict=True):
        torch.testing.assert_close(a.relevance, b.relevance, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize(
    "inputs,lengths,message",
    [
        (torch.zeros(2, 3), None, "shape"),
        (torch.zeros(2, 3, 4), None, "features"),
        (torch.full((1, 3, 5), float("nan")), None, "NaN"),
        (torch.zeros(2, 3, 5), [3, 4], "lengths"),
        (torch.zeros(2, 3, 5), [3], "lengths"),
        (torch.zeros(2, 3, 5), [0, 2], "lengths"),
    ],
)
def test_explain_vectors_bad_input(model, inputs, lengths, message):
    with pytest.raises(InputError, match=message):
        textlrp.explain_vectors(model, inputs.double(), lengths)


def test_special_tokens_in_text_are_unknown_words(model):
    [e] = textlrp.explain(model, [["<pad>", "the", "<unk>", "movie"]], dtype=torch.float64)
    assert e.unknown == [True, False, True, False]
    ids = textlrp.api.encode_batch(model, [["<pad>", "the"]]).token_ids
    assert ids.tolist() == [[model.vocab.unk_index, model.vocab.index("the")]]


def test_targets_accept_numpy_integers_and_0d_tensors(model):
    import numpy as np

    texts = [["the", "movie"], ["great", "fun"]]
    for target in (np.int64(2), torch.tensor(2), [np.int32(2), torch.tensor(2)]):
        result = textlrp.explain(model, texts, target=target, dtype=torch.float64)
        assert [e.target for e in result] == [2, 2]
    for bad in (torch.tensor([1, 2, 0]), torch.tensor(1.5), 1.5, None):
        with pytest.raises(InputError, match="target"):
            textlrp.explain(model, texts, target=bad, dtype=torch.float64)


@pytest.mark.parametrize("bad", [None, 42, b"bytes"])
def test_texts_that_are_not_text_raise_input_error(model, bad):
    with pytest.raises(InputError, match="text"):
        textlrp.explain(model, bad)
    with pytest.raises(InputError, match="text #1"):
        textlrp.explain(model, ["the movie", bad])


def test_explain_leaves_the_callers_model_alone():
    """No train/eval switch, no dtype conversion: a training-mode float32 model stays so."""
    model = random_model(seed=3, head_hidden=(4,), head_dropout=0.5).float().train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    texts = [["the", "movie", "was", "fun"], ["bad"]]
    for method in ("lrp", "gradient", "occlusion_f", "integrated_gradients"):
        first = textlrp.explain(model, texts, method=method, dtype=torch.float64)
        again = textlrp.explain(model, texts, method=method, dtype=torch.float64)
        # dropout is off during explanation: the same result twice, equal to an eval copy's
        eval_copy = random_model(seed=3, head_hidden=(4,), head_dropout=0.5).float().eval()
        reference = textlrp.explain(eval_copy, texts, method=method, dtype=torch.float64)
        for a, b, c in zip(first, again, reference, strict=True):
            torch.testing.assert_close(a.relevance, b.relevance, rtol=0, atol=0)
            torch.testing.assert_close(a.relevance, c.relevance, rtol=1e-12, atol=1e-12)
        assert model.training and model.embedding.weight.dtype == torch.float32
    for name, value in model.state_dict().items():
        assert torch.equal(value, before[name]), name


def test_the_dtype_copy_is_made_once_and_refreshed_when_weights_change():
    from textlrp.models.precision import in_dtype

    model = random_model(seed=4).float().eval()
    assert in_dtype(model, torch.float32) is model
    copy = in_dtype(model, torch.float64)
    assert copy is not model and copy.embedding.weight.dtype == torch.float64
    assert in_dtype(model, torch.float64) is copy  # reused, not deep-copied per call
    with torch.no_grad():
        model.output.weight.add_(1.0)
    fresh = in_dtype(model, torch.float64)
    assert fresh is not copy
    torch.testing.assert_close(fresh.output.weight, model.output.weight.double())


@pytest.mark.parametrize("method", ["lrp", "gradient", "integrated_gradients"])
def test_per_dim_false_drops_only_the_per_dimension_relevance(model, method):
    texts = [["the", "movie", "was", "fun"], ["bad"]]
    full = textlrp.explain(model, texts, method=method, dtype=torch.float64)
    lean = textlrp.explain(model, texts, method=method, dtype=torch.float64, per_dim=False)
    assert lean.batch.relevance_per_dim is None
    for a, b in zip(full, lean, strict=True):
        assert a.relevance_per_dim is not None and b.relevance_per_dim is None
        torch.testing.assert_close(b.relevance, a.relevance, rtol=0, atol=0)
        torch.testing.assert_close(b.scores, a.scores, rtol=0, atol=0)
