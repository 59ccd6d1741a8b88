"""Sensitivity analysis and Gradient×Input: definitions and finite differences."""

from __future__ import annotations

import pytest
import torch
from conftest import random_model, random_sentences

import textlrp
from textlrp.api import encode_batch


def finite_difference_gradient(model, tokens, target, step=1e-6):
    batch = encode_batch(model, [tokens])
    x = model.embedding(batch.token_ids).detach()
    grad = torch.zeros_like(x)
    for t in range(x.shape[1]):
        for k in range(x.shape[2]):
            plus, minus = x.clone(), x.clone()
            plus[0, t, k] += step
            minus[0, t, k] -= step
            f_plus = model.forward_embedded(plus, batch.lengths)[0, target]
            f_minus = model.forward_embedded(minus, batch.lengths)[0, target]
            grad[0, t, k] = (f_plus - f_minus) / (2 * step)
    return x[0], grad[0]


@pytest.mark.parametrize("layers,bidirectional", [(1, True), (2, True), (1, False)])
def test_gradient_equals_finite_differences(layers, bidirectional):
    model = random_model(num_layers=layers, bidirectional=bidirectional, seed=12)
    tokens = random_sentences(1, 12, 6)[0] + ["good"]
    x, numeric = finite_difference_gradient(model, tokens, target=2)
    [sa] = textlrp.explain(model, [tokens], method="gradient", target=2, dtype=torch.float64)
    [gi] = textlrp.explain(
        model, [tokens], method="gradient_x_input", target=2, dtype=torch.float64
    )
    torch.testing.assert_close(sa.relevance_per_dim, numeric**2, rtol=1e-6, atol=1e-10)
    # word level: squared L2 norm of the whole gradient (both encoders summed first)
    torch.testing.assert_close(sa.relevance, (numeric**2).sum(-1), rtol=1e-6, atol=1e-10)
    torch.testing.assert_close(gi.relevance, (x * numeric).sum(-1), rtol=1e-6, atol=1e-10)


def test_gradient_target_matters():
    model = random_model(seed=13)
    tokens = ["the", "movie", "was", "great"]
    a = textlrp.explain(model, [tokens], method="gradient_x_input", target=0, dtype=torch.float64)
    b = textlrp.explain(model, [tokens], method="gradient_x_input", target=1, dtype=torch.float64)
    assert not torch.allclose(a[0].relevance, b[0].relevance)


def test_gradient_methods_run_in_float32_on_a_float64_model():
    model = random_model(seed=14)
    [e] = textlrp.explain(model, ["the movie was fun"], method="gradient", dtype=torch.float32)
    assert e.relevance.dtype == torch.float32
    assert model.embedding.weight.dtype == torch.float64  # the user's model is left as it was
