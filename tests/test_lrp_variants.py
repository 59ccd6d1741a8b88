"""LRP beyond the 2017 model: product rules, GRUs, pooled read-outs, an output bias."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from conftest import random_model, random_sentences
from oracle import oracle_lrp

import textlrp
from textlrp.api import encode_batch
from textlrp.lrp import trace_classifier

RULES = ["all", "prop", "abs", "half"]
VARIANTS = [
    dict(cell=cell, readout=readout, output_bias=bias, bidirectional=bi, num_layers=layers)
    for cell, readout, bias, bi, layers in itertools.product(
        ["lstm", "gru"], ["last", "max", "mean"], [False, True], [True, False], [1, 2]
    )
]


def variant_id(v: dict) -> str:
    return "{cell}-{readout}-bias{output_bias:d}-bi{bidirectional:d}-L{num_layers}".format(**v)


@pytest.mark.parametrize("variant", VARIANTS, ids=variant_id)
def test_forward_of_engine_equals_module(variant):
    model = random_model(seed=40, **variant)
    batch = encode_batch(model, random_sentences(6, 40))
    trace = trace_classifier(model, batch.token_ids, batch.lengths, torch.float64)
    torch.testing.assert_close(
        trace.scores, model(batch.token_ids, batch.lengths), rtol=0, atol=1e-13
    )


@pytest.mark.parametrize("variant", VARIANTS, ids=variant_id)
@pytest.mark.parametrize("rule", RULES)
def test_agrees_with_oracle(variant, rule):
    model = random_model(seed=41, **variant)
    texts = random_sentences(3, 41, 6)
    for delta in (0.0, 1.0):
        result = textlrp.explain(
            model,
            texts,
            target=2,
            dtype=torch.float64,
            product_rule=rule,
            eps=0.01,
            bias_factor=delta,
        )
        for text, e in zip(texts, result, strict=True):
            r_dims, initial, scores, _ = oracle_lrp(
                model, model.vocab.encode(text), 2, 0.01, delta, rule
            )
            np.testing.assert_allclose(e.scores.numpy(), scores, atol=1e-12, rtol=0)
            np.testing.assert_allclose(e.relevance_per_dim.numpy(), r_dims, rtol=1e-9, atol=1e-12)
            assert initial == pytest.approx(e.initial_state_relevance, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("variant", VARIANTS, ids=variant_id)
@pytest.mark.parametrize("rule", RULES)
def test_conservation_for_every_rule_and_cell(variant, rule):
    """δ = 1 conserves; prop and abs split exactly only with ε = 0 in the split.

    LRP-prop with ε = 0 divides by gate + signal, which can cross zero (tanh signals are
    signed): its conservation is checked where every gate + signal is positive (non-negative
    weights and embeddings), the reason the paper stabilizes it with ε = 0.2.
    """
    model = random_model(seed=42, **variant)
    if rule == "prop":
        with torch.no_grad():
            for param in model.parameters():
                param.abs_()
    eps = 0.0 if rule in ("prop", "abs") else 0.001
    result = textlrp.explain(
        model,
        random_sentences(5, 42),
        target=0,
        dtype=torch.float64,
        product_rule=rule,
        bias_factor=1.0,
        eps=eps,
    )
    for e in result:
        total = float(e.relevance.sum()) + e.initial_state_relevance
        assert total == pytest.approx(e.target_score, rel=1e-9, abs=1e-12)
        assert e.bias_relevance == 0.0  # δ = 1 hands the output bias's share down


def test_output_bias_share_is_reported():
    model = random_model(seed=43, output_bias=True)
    with torch.no_grad():
        model.output.bias.fill_(0.7)
    [e] = textlrp.explain(
        model, [["the", "movie", "was", "fun"]], target=1, eps=0.0, dtype=torch.float64
    )
    # δ = 0, ε = 0: the read-out conserves except for the bias's own share
    assert e.bias_relevance == pytest.approx(0.7, rel=1e-12)
    [cons] = textlrp.explain(
        model,
        [["the", "movie", "was", "fun"]],
        target=1,
        eps=0.0,
        dtype=torch.float64,
        bias_factor=1.0,
    )
    assert cons.bias_relevance == 0.0


def sigm(z):
    return 1 / (1 + math.exp(-z))


@pytest.mark.parametrize("rule", RULES)
def test_hand_computed_one_unit_lstm(rule):
    """A 1-unit, 1-input LSTM over two steps, relevance written out scalar by scalar (δ = 0)."""
    model = random_model(
        embedding_dim=1, hidden_size=1, bidirectional=False, num_classes=2, seed=44
    )
    eps = 0.2 if rule == "prop" else 0.001
    U = model.rnn.weight_ih_l0.detach()[:, 0].tolist()  # i, f, g, o
    W = model.rnn.weight_hh_l0.detach()[:, 0].tolist()
    b = (model.rnn.bias_ih_l0 + model.rnn.bias_hh_l0).detach().tolist()
    w_out = model.output.weight.detach()[1, 0].item()
    tokens = ["good", "movie"]
    xs = [model.embedding.weight[model.vocab.index(t), 0].item() for t in tokens]

    def sign(v):
        return 1.0 if v >= 0 else -1.0

    def stab(v):
        return v + eps * sign(v)

    def split(gate, signal, r):
        if rule == "all":
            return 0.0, r
        if rule == "half":
            return r / 2, r / 2
        if rule == "prop":
            return gate / stab(gate + signal) * r, signal / stab(gate + signal) * r
        total = abs(gate) + abs(signal) + eps
        return abs(gate) / total * r, abs(signal) / total * r

    h, c, steps = 0.0, 0.0, []
    for x in xs:
        pre = [U[k] * x + W[k] * h + b[k] for k in range(4)]
        i, f, g, o = sigm(pre[0]), sigm(pre[1]), math.tanh(pre[2]), sigm(pre[3])
        c_new = f * c + i * g
        steps.append(dict(x=x, h_prev=h, c_prev=c, pre=pre, i=i, f=f, g=g, o=o, c=c_new))
        c, h = c_new, o * math.tanh(c_new)
    score = w_out * h
    r_h = w_out * h / stab(score) * score  # output layer, ε-rule, δ = 0
    r_c = 0.0
    relevance = [0.0, 0.0]
    for t in (1, 0):
        s = steps[t]
        r_o, r_tanh = split(s["o"], math.tanh(s["c"]), r_h)
        r_cell = r_c + r_tanh
        r_fc = s["f"] * s["c_prev"] / stab(s["c"]) * r_cell
        r_ig = s["i"] * s["g"] / stab(s["c"]) * r_cell
        r_f, r_c = split(s["f"], s["c_prev"], r_fc)
        r_i, r_g = split(s["i"], s["g"], r_ig)
        r_h = 0.0
        for k, r_gate in enumerate((r_i, r_f, r_g, r_o)):
            relevance[t] += U[k] * s["x"] / stab(s["pre"][k]) * r_gate
            r_h += W[k] * s["h_prev"] / stab(s["pre"][k]) * r_gate
    [e] = textlrp.explain(model, [tokens], target=1, product_rule=rule, dtype=torch.float64)
    assert e.target_score == pytest.approx(score, rel=1e-12)
    assert e.relevance.tolist() == pytest.approx(relevance, rel=1e-10, abs=1e-14)


def test_default_eps_per_rule():
    """The 2019 paper's stabilizers: 0.001, except 0.2 for LRP-prop."""
    model = random_model(seed=45)
    text = [["the", "movie", "was", "fun"]]
    default = textlrp.explain(model, text, product_rule="prop", dtype=torch.float64)
    explicit = textlrp.explain(model, text, product_rule="prop", eps=0.2, dtype=torch.float64)
    other = textlrp.explain(model, text, product_rule="prop", eps=0.001, dtype=torch.float64)
    assert torch.equal(default[0].relevance, explicit[0].relevance)
    assert not torch.allclose(default[0].relevance, other[0].relevance)


def test_lrp_all_approaches_gradient_x_input_with_constant_gates():
    """Gates forced constant, no biases, ε = 0: LRP-all and Gradient×Input differ only through
    the curvature of tanh, so they agree ever more closely as the weights shrink (linear regime).
    Exact equality cannot hold: LRP passes relevance through tanh unchanged, the gradient does not.
    """
    gaps = []
    for scale in (0.3, 0.1, 0.03):
        model = random_model(seed=46, bidirectional=False, scale=scale)
        with torch.no_grad():
            d = model.rnn.hidden_size
            for name in ("weight_ih_l0", "weight_hh_l0"):
                weight = getattr(model.rnn, name)
                weight[: 2 * d] = 0.0  # i, f
                weight[3 * d :] = 0.0  # o
            model.rnn.bias_ih_l0.zero_()
            model.rnn.bias_hh_l0.zero_()
        text = [["the", "movie", "was", "not", "fun"]]
        [lrp] = textlrp.explain(model, text, target=0, eps=0.0, dtype=torch.float64)
        [gxi] = textlrp.explain(
            model, text, method="gradient_x_input", target=0, dtype=torch.float64
        )
        gaps.append(float((lrp.relevance - gxi.relevance).abs().max() / gxi.relevance.abs().max()))
    assert gaps[2] < 0.01
    assert gaps[0] > gaps[1] > gaps[2]
