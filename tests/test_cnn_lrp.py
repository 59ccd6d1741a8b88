"""LRP of CNNs (spec §9, docs/cnn-rules.md): conservation, the loop oracle, invariances."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from cnn_fixtures import WORDS, random_cnn
from cnn_oracle import cnn_oracle
from hypothesis import given, settings
from hypothesis import strategies as st

import textlrp
from textlrp import InputError
from textlrp.lrp.conv import cnn_relevance, trace_cnn

RULES = [
    {},
    {"conv_rule": "zplus"},
    {"head_rule": "zplus"},
    {"composite": "epsilon_plus"},
    {"composite": "epsilon_plus_all"},
]
RULE_IDS = ["epsilon", "conv-zplus", "head-zplus", "epsilon_plus", "epsilon_plus_all"]


def documents(count: int, seed: int, max_len: int = 9) -> list[list[str]]:
    """Random documents of 1..max_len words (so some are shorter than the widest filter)."""
    generator = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, max_len + 1, (count,), generator=generator).tolist()
    picks = [torch.randint(0, len(WORDS), (n,), generator=generator).tolist() for n in lengths]
    return [[WORDS[i] for i in row] for row in picks]


@pytest.mark.parametrize("widths", [(3,), (1, 2, 5)])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_conservation_without_head(widths, seed):
    """δ = 1, ε-rule, no head: the words' relevances sum to the target score exactly."""
    model = random_cnn(widths=widths, seed=seed)
    texts = documents(8, seed)
    for target in range(model.num_classes):
        result = textlrp.explain(model, texts, "lrp_cons", target=target, dtype=torch.float64)
        for e in result:
            assert float(e.relevance.sum()) == pytest.approx(e.target_score, rel=1e-12, abs=1e-12)
            assert e.bias_relevance == 0.0
            torch.testing.assert_close(e.relevance_per_dim.sum(-1), e.relevance)


@pytest.mark.parametrize("rules", RULES, ids=RULE_IDS)
@pytest.mark.parametrize("delta", [0.0, 1.0])
def test_conservation_with_head_and_absorbed_shares(rules, delta):
    """Words + what biases, stabilizers and z⁺ denominators kept = the target score."""
    model = random_cnn(widths=(2, 4), head_hidden=(6, 5), seed=3)
    texts = documents(8, 3)
    result = textlrp.explain(
        model, texts, "lrp", target=2, dtype=torch.float64, bias_factor=delta, **rules
    )
    for e in result:
        total = float(e.relevance.sum()) + e.bias_relevance
        assert total == pytest.approx(e.target_score, rel=1e-12, abs=1e-12)
    if delta == 1.0 and not rules:
        assert all(e.bias_relevance == 0.0 for e in result)
    else:  # the absorbed part is real: the check above is not vacuous
        assert max(abs(e.bias_relevance) for e in result) > 1e-3


@pytest.mark.parametrize("rules", RULES, ids=RULE_IDS)
@pytest.mark.parametrize("delta,eps", [(0.0, 0.001), (1.0, 0.001), (0.0, 0.1), (1.0, 0.0)])
@pytest.mark.parametrize("head_hidden", [(), (5,)])
def test_agrees_with_loop_oracle(rules, delta, eps, head_hidden):
    model = random_cnn(widths=(1, 3, 4), head_hidden=head_hidden, seed=11)
    texts = documents(6, 12)
    result = textlrp.explain(
        model, texts, "lrp", target=1, dtype=torch.float64, eps=eps, bias_factor=delta, **rules
    )
    conv_zplus = rules.get("conv_rule") == "zplus" or "composite" in rules
    conv_rule = "zplus" if conv_zplus else "epsilon"
    head_rule = (
        "zplus"
        if rules.get("head_rule") == "zplus" or rules.get("composite") == "epsilon_plus_all"
        else "epsilon"
    )
    for text, e in zip(texts, result, strict=True):
        ids = torch.tensor(model.vocab.encode(text))
        x = model.embedding.weight[ids].detach().numpy()
        r_x, absorbed, scores = cnn_oracle(model, x, 1, eps, delta, conv_rule, head_rule)
        np.testing.assert_allclose(e.scores.numpy(), scores, rtol=0, atol=1e-12)
        np.testing.assert_allclose(e.relevance_per_dim.numpy(), r_x, rtol=1e-10, atol=1e-12)
        assert e.bias_relevance == pytest.approx(absorbed, rel=1e-10, abs=1e-12)


def test_empty_and_short_documents_against_the_oracle():
    """Straight through the engine (the API refuses empty texts): L = 0, 1 < H, L = H."""
    model = random_cnn(widths=(2, 4), head_hidden=(3,), seed=5)
    embedded = torch.randn(4, 5, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    lengths = torch.tensor([0, 1, 4, 5])
    targets = torch.tensor([0, 1, 2, 0])
    for delta in (0.0, 1.0):
        for conv_rule in ("epsilon", "zplus"):
            trace = trace_cnn(model, embedded, lengths, torch.float64)
            result = cnn_relevance(model, trace, targets, 0.01, delta, conv_rule)
            for b, n in enumerate(lengths.tolist()):
                x = embedded[b, :n].numpy()
                target = int(targets[b])
                r_x, absorbed, scores = cnn_oracle(model, x, target, 0.01, delta, conv_rule)
                np.testing.assert_allclose(trace.scores[b].numpy(), scores, atol=1e-12)
                np.testing.assert_allclose(result.input_relevance[b, :n].numpy(), r_x, atol=1e-12)
                assert float(result.input_relevance[b, n:].abs().sum()) == 0.0
                assert float(result.absorbed[b]) == pytest.approx(absorbed, abs=1e-12)
                total = float(result.input_relevance[b].sum() + result.absorbed[b])
                assert total == pytest.approx(float(scores[targets[b]]), abs=1e-12)


def _hand_model(bias: float = -1.0):
    """e = 2, one filter of width 2 reading x_{p,0} + x_{p+1,1} + bias; s = 2·pool + 0.5."""
    model = random_cnn(embedding_dim=2, num_filters=1, widths=(2,), num_classes=1)
    with torch.no_grad():
        model.convs[0].weight.copy_(torch.tensor([[[1.0, 0.0], [0.0, 1.0]]]))
        model.convs[0].bias.fill_(bias)
        model.output.weight.fill_(2.0)
        model.output.bias.fill_(0.5)
    return model


def _explain_vectors(model, rows, **options):
    inputs = torch.tensor([rows], dtype=torch.float64)
    [e] = textlrp.explain_vectors(model, inputs, method="lrp", dtype=torch.float64, **options)
    return e


def test_one_filter_worked_by_hand():
    """x = [(1,2), (3,1), (0,4)]: z_0 = 1 + 1 - 1 = 1, z_1 = 3 + 4 - 1 = 6 wins; s = 12.5."""
    model = _hand_model()
    rows = [[1.0, 2.0], [3.0, 1.0], [0.0, 4.0]]
    e = _explain_vectors(model, rows, eps=0.0)
    assert e.target_score == pytest.approx(12.5)
    # δ = 0: R_f = 2·6 = 12; x_{1,0}: 3/6·12 = 6, x_{2,1}: 4/6·12 = 8; biases keep 0.5 − 2.
    np.testing.assert_allclose(e.relevance.numpy(), [0.0, 6.0, 8.0], atol=1e-12)
    assert e.bias_relevance == pytest.approx(-1.5)
    # δ = 1: R_f = 12 + 0.5 = 12.5; the conv bias share −12.5/6 is spread over 2·2 inputs.
    e = _explain_vectors(model, rows, eps=0.0, bias_factor=1.0)
    share = -12.5 / 6 / 4
    expected = [0.0, 3 * 12.5 / 6 + 2 * share, 4 * 12.5 / 6 + 2 * share]
    np.testing.assert_allclose(e.relevance.numpy(), expected, atol=1e-12)
    # z⁺: (x W)⁺ = 3 and 4 in the winning window, b⁺ = 0: R_f = 12 split 3 : 4.
    e = _explain_vectors(model, rows, eps=0.0, conv_rule="zplus")
    np.testing.assert_allclose(e.relevance.numpy(), [0.0, 36 / 7, 48 / 7], atol=1e-12)
    # z⁺ with a positive conv bias 2: the denominator is 3 + 4 + 2 and the bias keeps 2/9.
    e = _explain_vectors(_hand_model(bias=2.0), rows, eps=0.0, conv_rule="zplus")
    r_f = 2 * 9.0  # z_1 = 3 + 4 + 2
    np.testing.assert_allclose(e.relevance.numpy(), [0.0, 3 / 9 * r_f, 4 / 9 * r_f], atol=1e-12)


def test_short_document_rule_by_hand():
    """One word (2, 5) under a width-2 filter: one window [x_0, 0], z = 2 + 0 − 1 = 1."""
    e = _explain_vectors(_hand_model(), [[2.0, 5.0]], eps=0.0, bias_factor=1.0)
    assert e.target_score == pytest.approx(2.5)
    # R_f = 2.5; x_{0,0}: 2·1/1·2.5 = 5; the share −2.5 goes to the 2 real inputs only.
    np.testing.assert_allclose(e.relevance.numpy(), [2.5], atol=1e-12)


def test_ties_go_to_the_first_window():
    """x = (2,1) three times: z_0 = z_1 = 2; the first window wins all of R_f."""
    e = _explain_vectors(_hand_model(), [[2.0, 1.0]] * 3, eps=0.0)
    # R_f = 2·2 = 4: x_{0,0} takes 2/2·4 = 4, x_{1,1} takes 1/2·4 = 2, word 2 nothing.
    np.testing.assert_allclose(e.relevance.numpy(), [4.0, 2.0, 0.0], atol=1e-12)


def test_a_dead_filter_sends_its_delta_share_to_the_first_window():
    """spec §9.3: every z < 0, so every a = 0 ties and t* = 1 (window 0), not the largest z.

    x = [(0,0), (1,0), (0,1)], bias −5: z_0 = 0 + 0 − 5 = −5, z_1 = 1 + 1 − 5 = −3 (the
    largest z), both a = 0. s = 2·0 + 0.5 = 0.5. With δ = 1 and ε = 0, R_f = 0.5/1 · 0.5/0.5
    = 0.5 reaches the filter; at window 0 (z = −5) every one of its four inputs is zero, so
    each gets the bias share δ·(b/z)·R_f/N = (−5/−5)·0.5/4: words 0 and 1, never word 2.
    """
    model = _hand_model(bias=-5.0)
    rows = [[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]
    e = _explain_vectors(model, rows, eps=0.0, bias_factor=1.0)
    per_input = (-5.0 / -5.0) * 0.5 / 4
    np.testing.assert_allclose(
        e.relevance.numpy(), [2 * per_input, 2 * per_input, 0.0], rtol=1e-12, atol=1e-12
    )
    assert float(e.relevance.sum() + e.bias_relevance) == pytest.approx(0.5, abs=1e-12)


@settings(max_examples=20, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    count=st.integers(1, 6),
    chunk=st.integers(1, 4),
    rules=st.sampled_from(RULES),
    delta=st.sampled_from([0.0, 1.0]),
)
def test_batch_order_padding_and_chunking_do_not_change_relevance(
    seed, count, chunk, rules, delta
):
    model = random_cnn(widths=(2, 5), head_hidden=(4,), seed=seed % 5)
    texts = documents(count, seed)
    options = dict(dtype=torch.float64, bias_factor=delta, **rules)
    reference = textlrp.explain(model, texts, **options)
    permutation = torch.randperm(count, generator=torch.Generator().manual_seed(seed)).tolist()
    shuffled = [texts[i] for i in permutation] + [documents(1, seed + 1, 20)[0] * 2]
    other = textlrp.explain(model, shuffled, batch_size=chunk, **options)
    for new_position, old_position in enumerate(permutation):
        torch.testing.assert_close(
            other[new_position].relevance_per_dim,
            reference[old_position].relevance_per_dim,
            rtol=1e-12,
            atol=1e-14,
        )
        alone = textlrp.explain(model, [texts[old_position]], **options)[0]
        torch.testing.assert_close(
            alone.relevance_per_dim,
            reference[old_position].relevance_per_dim,
            rtol=1e-12,
            atol=1e-14,
        )
        assert alone.bias_relevance == pytest.approx(reference[old_position].bias_relevance)


def test_padding_content_does_not_change_relevance():
    model = random_cnn(widths=(2, 3), head_hidden=(4,), seed=2)
    embedded = torch.randn(3, 6, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    lengths = torch.tensor([6, 2, 4])
    noisy = embedded.clone()
    mask = torch.arange(6)[None, :] < lengths[:, None]
    noisy[~mask] = 1e6
    targets = torch.tensor([0, 1, 2])
    clean = cnn_relevance(model, trace_cnn(model, embedded, lengths, torch.float64), targets)
    dirty = cnn_relevance(model, trace_cnn(model, noisy, lengths, torch.float64), targets)
    torch.testing.assert_close(dirty.input_relevance, clean.input_relevance, rtol=0, atol=0)
    assert float(clean.input_relevance[~mask].abs().sum()) == 0.0


def test_float32_close_to_float64():
    model = random_cnn(widths=(2, 3), head_hidden=(4,), seed=4)
    texts = documents(6, 4)
    r64 = textlrp.explain(model, texts, dtype=torch.float64)
    r32 = textlrp.explain(model, texts, dtype="float32")
    for a, b in zip(r64, r32, strict=True):
        assert b.relevance.dtype == torch.float32
        torch.testing.assert_close(b.relevance.double(), a.relevance, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    "options,message",
    [
        ({"product_rule": "all"}, "product_rule applies to LSTM/GRU"),
        ({"conv_rule": "alpha2beta1"}, "unknown conv_rule"),
        ({"head_rule": "gamma"}, "unknown head_rule"),
        ({"composite": "epsilon_gamma_box"}, "unknown composite"),
        ({"composite": "epsilon_plus", "conv_rule": "epsilon"}, "give one or the other"),
        ({"eps": -1.0}, "eps"),
        ({"bias_factor": 2.0}, "bias_factor"),
    ],
)
def test_bad_cnn_options_are_refused(options, message):
    with pytest.raises(InputError, match=message):
        textlrp.explain(random_cnn(), ["the game"], "lrp", **options)


@pytest.mark.parametrize("name", ["conv_rule", "head_rule", "composite"])
def test_cnn_options_are_refused_for_recurrent_models(name):
    from conftest import random_model

    value = "epsilon"
    with pytest.raises(InputError, match=f"{name} apply to CNN models only"):
        textlrp.explain(random_model(), ["the movie"], "lrp", **{name: value})
