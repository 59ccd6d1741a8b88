"""The batched LRP engine against the spec: conservation, the slow oracle, batching."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import random_model, random_sentences
from hypothesis import given, settings
from hypothesis import strategies as st
from oracle import oracle_lrp

import textlrp
from textlrp.api import encode_batch
from textlrp.lrp import trace_classifier

SHAPES = [
    dict(embedding_dim=5, hidden_size=4, num_layers=1, bidirectional=True),
    dict(embedding_dim=3, hidden_size=6, num_layers=1, bidirectional=False),
    dict(embedding_dim=4, hidden_size=3, num_layers=2, bidirectional=True),
    dict(embedding_dim=2, hidden_size=5, num_layers=3, bidirectional=False),
]


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "-".join(map(str, s.values())))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_conservation_with_bias_factor_one(shape, seed):
    model = random_model(**shape, seed=seed)
    texts = random_sentences(6, seed)
    for target in range(model.num_classes):
        result = textlrp.explain(
            model, texts, method="lrp", target=target, dtype=torch.float64, bias_factor=1.0
        )
        for e in result:
            total = float(e.relevance.sum()) + e.initial_state_relevance
            assert abs(total - e.target_score) <= 1e-9 * max(1.0, abs(e.target_score))
            # per-dimension relevances add up to the word relevances
            assert torch.allclose(e.relevance_per_dim.sum(-1), e.relevance, atol=1e-14)
            assert torch.allclose(e.relevance_by_direction.sum(-1), e.relevance, atol=1e-14)


def test_lrp_cons_is_bias_factor_one():
    model = random_model(seed=3)
    texts = random_sentences(4, 3)
    cons = textlrp.explain(model, texts, method="lrp_cons", dtype=torch.float64)
    explicit = textlrp.explain(model, texts, method="lrp", bias_factor=1.0, dtype=torch.float64)
    for a, b in zip(cons, explicit, strict=True):
        assert torch.equal(a.relevance, b.relevance)


def test_without_bias_factor_relevance_is_not_conserved():
    """δ = 0 absorbs the biases' share: the check above is not vacuous."""
    model = random_model(seed=4)
    [e] = textlrp.explain(model, [random_sentences(1, 4, 8)[0] + ["the"]], dtype=torch.float64)
    total = float(e.relevance.sum()) + e.initial_state_relevance
    assert abs(total - e.target_score) > 1e-6


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "-".join(map(str, s.values())))
@pytest.mark.parametrize("delta,eps", [(0.0, 0.001), (1.0, 0.001), (0.0, 0.1), (1.0, 0.0)])
def test_agrees_with_slow_oracle(shape, delta, eps):
    model = random_model(**shape, seed=7)
    texts = random_sentences(5, 11)
    result = textlrp.explain(
        model, texts, method="lrp", target=1, dtype=torch.float64, eps=eps, bias_factor=delta
    )
    for text, e in zip(texts, result, strict=True):
        ids = model.vocab.encode(text)
        r_dims, initial, scores, per_direction = oracle_lrp(model, ids, 1, eps, delta)
        np.testing.assert_allclose(e.scores.numpy(), scores, rtol=0, atol=1e-12)
        np.testing.assert_allclose(e.relevance_per_dim.numpy(), r_dims, rtol=1e-10, atol=1e-12)
        assert initial == pytest.approx(e.initial_state_relevance, rel=1e-10, abs=1e-12)
        if shape["num_layers"] == 1:
            by_dir = np.stack([r.sum(-1) for r in per_direction], axis=-1)
            np.testing.assert_allclose(e.relevance_by_direction.numpy(), by_dir, atol=1e-12)


def test_engine_forward_equals_torch_lstm():
    for shape in SHAPES:
        model = random_model(**shape, seed=5)
        texts = random_sentences(8, 5)
        batch = encode_batch(model, texts)
        trace = trace_classifier(model, batch.token_ids, batch.lengths, torch.float64)
        expected = model(batch.token_ids, batch.lengths)
        torch.testing.assert_close(trace.scores, expected, rtol=0, atol=1e-13)


@pytest.mark.parametrize("method", ["lrp", "lrp_cons", "gradient", "gradient_x_input"])
def test_batched_equals_one_by_one(method):
    model = random_model(num_layers=2, seed=8)
    texts = random_sentences(7, 8)
    batched = textlrp.explain(model, texts, method=method, dtype=torch.float64)
    for text, e in zip(texts, batched, strict=True):
        [alone] = textlrp.explain(model, [text], method=method, dtype=torch.float64)
        torch.testing.assert_close(
            alone.relevance_per_dim, e.relevance_per_dim, rtol=1e-12, atol=1e-14
        )
        assert alone.target == e.target


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    count=st.integers(1, 6),
    bidirectional=st.booleans(),
    layers=st.integers(1, 2),
    chunk=st.integers(1, 4),
)
def test_padding_batch_order_and_chunking_do_not_change_relevance(
    seed, count, bidirectional, layers, chunk
):
    model = random_model(num_layers=layers, bidirectional=bidirectional, seed=seed % 7)
    texts = random_sentences(count, seed)
    reference = textlrp.explain(model, texts, dtype=torch.float64)
    permutation = torch.randperm(count, generator=torch.Generator().manual_seed(seed)).tolist()
    # a long extra sentence forces more padding on every other one
    shuffled = [texts[i] for i in permutation] + [random_sentences(1, seed + 1, 20)[0] * 2]
    other = textlrp.explain(model, shuffled, dtype=torch.float64, batch_size=chunk)
    for new_position, old_position in enumerate(permutation):
        torch.testing.assert_close(
            other[new_position].relevance, reference[old_position].relevance, rtol=1e-12, atol=1e-14
        )


def test_float32_close_to_float64():
    model = random_model(seed=9)
    texts = random_sentences(5, 9)
    r64 = textlrp.explain(model, texts, dtype=torch.float64)
    r32 = textlrp.explain(model, texts, dtype="float32")
    for a, b in zip(r64, r32, strict=True):
        assert b.relevance.dtype == torch.float32
        torch.testing.assert_close(b.relevance.double(), a.relevance, rtol=1e-4, atol=1e-5)
