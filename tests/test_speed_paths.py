"""The fast paths give the same results as the plain ones: compiled loops, scores from the
method's own forward pass, cached encoding, per-text views of the batch."""

from __future__ import annotations

import copy

import pytest
import torch
from conftest import random_model, random_sentences

import textlrp
from textlrp.batching import PREDICTED, encode_batch
from textlrp.lrp import native
from textlrp.methods import base
from textlrp.methods.base import MethodOutput, register


def _explain_all(model, texts, dtype=torch.float64, **options):
    return textlrp.explain(model, texts, dtype=dtype, **options)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("delta", [0.0, 1.0])
@pytest.mark.parametrize("layers,bidirectional", [(1, True), (2, True), (2, False)])
def test_compiled_loops_equal_python_loops_bit_for_bit(
    monkeypatch, dtype, delta, layers, bidirectional
):
    compiled = native.kernels(wait=True)
    if compiled is None:
        pytest.skip(f"the C++ extension could not be built here: {native.build_error()}")
    model = random_model(num_layers=layers, bidirectional=bidirectional, seed=50)
    texts = random_sentences(9, 50, 12)
    fast = _explain_all(model, texts, dtype, bias_factor=delta)
    monkeypatch.setattr(native, "kernels", lambda wait=False: None)
    plain = _explain_all(model, texts, dtype, bias_factor=delta)
    for a, b in zip(fast, plain, strict=True):
        assert torch.equal(a.relevance_per_dim, b.relevance_per_dim)
        assert torch.equal(a.scores, b.scores)
        assert a.initial_state_relevance == b.initial_state_relevance


def test_switched_off_by_environment(monkeypatch):
    monkeypatch.setenv("TEXTLRP_NATIVE", "0")
    assert native.kernels() is None


@pytest.mark.parametrize(
    "method", ["lrp", "lrp_cons", "gradient", "gradient_x_input", "occlusion_f"]
)
def test_scores_from_the_methods_own_pass_are_the_models(method):
    model = random_model(seed=51)
    texts = random_sentences(7, 51)
    assert base.get_method(method).scores
    result = _explain_all(model, texts, method=method)
    batch = encode_batch(model, texts)
    expected = model.double()(batch.token_ids, batch.lengths)
    torch.testing.assert_close(result.batch.scores, expected, rtol=0, atol=1e-12)
    assert result.batch.targets.tolist() == expected.argmax(-1).tolist()
    for e in result:
        assert e.target == e.predicted


def test_explicit_targets_reach_a_scoring_method():
    model = random_model(seed=52)
    texts = random_sentences(4, 52)
    result = _explain_all(model, texts, target=["predicted", 0, "class1", 2])
    assert result.batch.targets[1:].tolist() == [0, 1, 2]
    assert result[0].target == result[0].predicted


def test_a_method_without_scores_gets_resolved_targets():
    seen = []

    @register("_test_no_scores", "records its targets")
    def record(model, batch, targets, *, dtype):
        seen.append(targets.clone())
        return MethodOutput(relevance=torch.zeros(batch.token_ids.shape, dtype=dtype))

    try:
        model = random_model(seed=53)
        result = _explain_all(model, random_sentences(5, 53), method="_test_no_scores")
    finally:
        base._REGISTRY.pop("_test_no_scores")
    targets = torch.cat(seen)
    assert (targets != PREDICTED).all()
    assert sorted(targets.tolist()) == sorted(result.batch.targets.tolist())


def test_cached_encoding_equals_token_by_token_lookup():
    model = random_model(seed=54)
    vocab = model.vocab
    words = vocab.to_list()[:5]
    tokens = [[w.upper() for w in words] + ["<pad>", "<unk>", "zzz-unknown"], words[:2]]
    batch = encode_batch(model, tokens)
    for row, sentence in zip(batch.token_ids.tolist(), tokens, strict=True):
        assert row[: len(sentence)] == [vocab.index(t) for t in sentence]
    assert batch.unknown[0, len(words) :].tolist() == [True, True, True]
    assert "_index_cache" in vocab.__dict__
    assert "_index_cache" not in copy.deepcopy(vocab).__dict__  # copies leave the cache behind


def test_explanations_are_views_of_the_batch_rows():
    model = random_model(seed=55)
    texts = random_sentences(6, 55)
    result = _explain_all(model, texts)
    for i, e in enumerate(result):
        n = len(e.tokens)
        assert torch.equal(e.relevance, result.batch.relevance[i, :n])
        assert torch.equal(e.relevance_per_dim, result.batch.relevance_per_dim[i, :n])
        assert torch.equal(e.scores, result.batch.scores[i])
        assert e.unknown == [False] * n
