"""Integrated Gradients: completeness, our own quadrature sums, batching."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import random_model, random_sentences

import textlrp
from textlrp.api import encode_batch
from textlrp.methods.builtin import integrated_gradients as ig_module

SENTENCES = [["fun"], *random_sentences(3, 51, 6), ["it", "never", "fails", "to", "engage", "us"]]


def score_gap(model, tokens, target):
    """f_c(x) − f_c(0): what the attributions of a complete method add up to."""
    batch = encode_batch(model, [tokens])
    with torch.no_grad():
        x = model.embedding(batch.token_ids)
        full = model.forward_embedded(x, batch.lengths)[0, target]
        empty = model.forward_embedded(torch.zeros_like(x), batch.lengths)[0, target]
    return float(full - empty)


def own_quadrature(model, tokens, target, alphas, weights):
    """x ⊙ Σ_k w_k ∂f_c(α_k x)/∂x, one sentence, one point at a time."""
    batch = encode_batch(model, [tokens])
    x = model.embedding(batch.token_ids).detach()[0]
    total = torch.zeros_like(x)
    for alpha, weight in zip(alphas, weights, strict=True):
        point = (alpha * x).clone().requires_grad_(True)
        score = model.forward_embedded(point[None], batch.lengths)[0, target]
        (grad,) = torch.autograd.grad(score, point)
        total += weight * grad
    return x * total


def explain_ig(model, tokens, target, **options):
    [e] = textlrp.explain(
        model, [tokens], "integrated_gradients", target, dtype=torch.float64, **options
    )
    return e


@pytest.mark.parametrize("bidirectional", [True, False])
def test_completeness_tightens_with_steps(bidirectional):
    model = random_model(bidirectional=bidirectional, seed=52)
    tokens, target = SENTENCES[-1], 2
    gap = score_gap(model, tokens, target)

    def error(**options):
        return abs(float(explain_ig(model, tokens, target, **options).relevance.sum()) - gap)

    for rule in ("riemann_middle", "riemann_trapezoid"):  # O(1/n²) rules
        coarse, fine = error(steps=4, integration=rule), error(steps=64, integration=rule)
        assert fine < coarse / 50
        assert fine < 1e-4 * max(abs(gap), 1.0)
    assert error(steps=64, integration="riemann_right") < error(
        steps=4, integration="riemann_right"
    )
    # Gauss–Legendre (the default, 50 points) converges much faster: float64 round-off is left
    assert error(steps=3) > 1e-6
    assert error() < 1e-12


def test_matches_our_own_slow_quadrature_sums():
    model = random_model(seed=53)
    tokens, target = SENTENCES[2], 1
    steps = 12
    alphas = [k / steps for k in range(1, steps + 1)]
    own = own_quadrature(model, tokens, target, alphas, [1 / steps] * steps)
    riemann = explain_ig(model, tokens, target, steps=steps, integration="riemann_right")
    torch.testing.assert_close(riemann.relevance_per_dim, own, rtol=0, atol=1e-12)
    nodes, weights = np.polynomial.legendre.leggauss(steps)
    own_gl = own_quadrature(model, tokens, target, (0.5 * (nodes + 1)).tolist(), 0.5 * weights)
    gauss = explain_ig(model, tokens, target, steps=steps)
    torch.testing.assert_close(gauss.relevance_per_dim, own_gl, rtol=0, atol=1e-12)
    torch.testing.assert_close(gauss.relevance, own_gl.sum(-1), rtol=0, atol=1e-12)


@pytest.mark.parametrize("rule", ig_module.INTEGRATION_RULES)
def test_quadrature_rules_integrate_low_degree_polynomials(rule):
    alphas, weights = ig_module.quadrature(rule, 6)
    torch.testing.assert_close(weights.sum(), torch.tensor(1.0, dtype=torch.float64))
    assert bool(((alphas >= 0) & (alphas <= 1)).all())
    exact_degree = {"gausslegendre": 11, "riemann_middle": 1, "riemann_trapezoid": 1}
    for degree in range(exact_degree.get(rule, 0) + 1):
        integral = float((weights * alphas**degree).sum())
        assert integral == pytest.approx(1 / (degree + 1), abs=1e-14)


@pytest.mark.parametrize("bidirectional", [True, False])
def test_batched_equals_one_by_one(bidirectional, monkeypatch):
    model = random_model(bidirectional=bidirectional, seed=54)
    targets = [k % 3 for k in range(len(SENTENCES))]
    monkeypatch.setattr(ig_module, "CHUNK_ROWS", 7)  # two points per pass
    batched = textlrp.explain(
        model,
        SENTENCES,
        "integrated_gradients",
        targets,
        dtype=torch.float64,
        batch_size=3,
        steps=8,
    )
    for tokens, target, explanation in zip(SENTENCES, targets, batched, strict=True):
        single = explain_ig(model, tokens, target, steps=8)
        torch.testing.assert_close(
            explanation.relevance_per_dim, single.relevance_per_dim, rtol=0, atol=1e-12
        )
    padded = batched.batch
    assert (padded.relevance[~padded.mask] == 0).all()
    assert (padded.relevance_per_dim[~padded.mask] == 0).all()


def test_float32_runs_on_a_float64_model():
    model = random_model(seed=55)
    [e] = textlrp.explain(model, ["the movie was fun"], "integrated_gradients", dtype="float32")
    assert e.relevance.dtype == torch.float32
    assert model.embedding.weight.dtype == torch.float64


@pytest.mark.parametrize(
    "options,message",
    [
        ({"integration": "simpson"}, "integration rule"),
        ({"steps": 1, "integration": "riemann_trapezoid"}, "steps must be"),
        ({"steps": 0}, "steps must be"),
        ({"steps": 2.5}, "steps must be"),
    ],
)
def test_bad_options_are_input_errors(options, message):
    model = random_model(seed=56)
    with pytest.raises(textlrp.InputError, match=message):
        textlrp.explain(model, ["the movie"], "integrated_gradients", **options)
