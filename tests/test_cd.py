"""Contextual Decomposition (spec §6a): exactness, a slow reference, the span boundary."""

from __future__ import annotations

import pytest
import torch
from conftest import random_model, random_sentences

import textlrp
from textlrp.api import encode_batch
from textlrp.methods.builtin.cd import cd_decompose, cd_phrase
from textlrp.models import RecurrentClassifier

SENTENCES = [["fun"], *random_sentences(3, 31, 6), ["it", "never", "fails", "to", "engage", "us"]]


def make_model(bidirectional: bool, output_bias: bool, seed: int) -> RecurrentClassifier:
    """A small float64 classifier, with or without an output bias."""
    return random_model(bidirectional=bidirectional, seed=seed, output_bias=output_bias)


def all_spans(sentences):
    """Every (sentence, start, stop) with 0 <= start < stop <= length."""
    return [
        (tokens, start, stop)
        for tokens in sentences
        for start in range(len(tokens))
        for stop in range(start + 1, len(tokens) + 1)
    ]


def shares(act, a, b, c):
    """The spec's linearization of act(a + b + c), written out."""
    part_a = 0.5 * (act(a + c) - act(c) + act(a + b + c) - act(b + c))
    part_b = 0.5 * (act(b + c) - act(c) + act(a + b + c) - act(a + c))
    return part_a, part_b, act(c)


def reference_cd(model, tokens, start, stop):
    """Spec §6a written out literally: one sentence, one span, vectors, a loop per encoder."""
    lstm = model.rnn
    ids = torch.tensor(model.vocab.encode(tokens))
    x = model.embedding.weight.detach()[ids]
    length = len(tokens)
    d = lstm.hidden_size
    relevant = torch.zeros(model.num_classes, dtype=torch.float64)
    irrelevant = torch.zeros_like(relevant)
    directions = 2 if lstm.bidirectional else 1
    for direction in range(directions):
        suffix = "_l0" + ("_reverse" if direction == 1 else "")
        w_ih = getattr(lstm, "weight_ih" + suffix).detach()
        w_hh = getattr(lstm, "weight_hh" + suffix).detach()
        b = (getattr(lstm, "bias_ih" + suffix) + getattr(lstm, "bias_hh" + suffix)).detach()
        beta, gamma = torch.zeros(d, dtype=torch.float64), torch.zeros(d, dtype=torch.float64)
        beta_h, gamma_h = torch.zeros_like(beta), torch.zeros_like(beta)
        positions = range(length) if direction == 0 else reversed(range(length))
        for t in positions:  # t is the word's position in the sentence
            inside = start <= t < stop
            ux = w_ih @ x[t]
            rel = w_hh @ beta_h + (ux if inside else 0 * ux)
            irrel = w_hh @ gamma_h + (0 * ux if inside else ux)

            def gate(vector, k):
                return vector[k * d : (k + 1) * d]

            ri, ii, bi = shares(torch.sigmoid, gate(rel, 0), gate(irrel, 0), gate(b, 0))
            rf, if_, bf = shares(torch.sigmoid, gate(rel, 1), gate(irrel, 1), gate(b, 1))
            rg, ig, bg = shares(torch.tanh, gate(rel, 2), gate(irrel, 2), gate(b, 2))
            o = torch.sigmoid(rel[3 * d :] + irrel[3 * d :] + b[3 * d :])
            new_beta = ri * (rg + bg) + bi * rg + (bi * bg if inside else 0) + (rf + bf) * beta
            new_gamma = (
                ii * (rg + ig + bg)
                + (ri + bi) * ig
                + (0 if inside else bi * bg)
                + (rf + if_ + bf) * gamma
                + if_ * beta
            )
            beta, gamma = new_beta, new_gamma
            both = torch.tanh(beta + gamma)
            beta_h = o * 0.5 * (torch.tanh(beta) + both - torch.tanh(gamma))
            gamma_h = o * 0.5 * (torch.tanh(gamma) + both - torch.tanh(beta))
        block = model.output.weight.detach()[:, direction * d : (direction + 1) * d]
        relevant += block @ beta_h
        irrelevant += block @ gamma_h
    return relevant, irrelevant


@pytest.mark.parametrize("output_bias", [False, True])
@pytest.mark.parametrize("bidirectional", [True, False])
def test_decomposition_reconstructs_states_and_logits_for_every_span(bidirectional, output_bias):
    model = make_model(bidirectional, output_bias, seed=32)
    spans = all_spans(SENTENCES)
    tokens = [s for s, _, _ in spans]
    batch = encode_batch(model, tokens)
    result = cd_decompose(
        model, batch, [a for _, a, _ in spans], [b for _, _, b in spans], torch.float64
    )
    with torch.no_grad():
        embedded = model.embedding(batch.token_ids)
        hidden = model.final_states(embedded, batch.lengths)  # (N, directions * d)
        logits = model(batch.token_ids, batch.lengths)
    directions = 2 if bidirectional else 1
    assert result.beta_h.shape == (len(spans), directions, 4)
    torch.testing.assert_close(
        (result.beta_h + result.gamma_h).reshape(len(spans), -1), hidden, rtol=0, atol=1e-12
    )
    torch.testing.assert_close(result.scores, logits, rtol=0, atol=1e-12)
    bias = model.output.bias if output_bias else torch.zeros(3, dtype=torch.float64)
    torch.testing.assert_close(result.bias, bias.detach().expand(len(spans), -1))
    torch.testing.assert_close(
        result.relevant + result.irrelevant, logits - bias, atol=1e-12, rtol=0
    )


@pytest.mark.parametrize("bidirectional", [True, False])
def test_decomposition_equals_slow_reference_for_every_span(bidirectional):
    model = make_model(bidirectional, output_bias=True, seed=33)
    spans = all_spans(SENTENCES[:3])
    batch = encode_batch(model, [s for s, _, _ in spans])
    result = cd_decompose(
        model, batch, [a for _, a, _ in spans], [b for _, _, b in spans], torch.float64
    )
    for n, (tokens, start, stop) in enumerate(spans):
        relevant, irrelevant = reference_cd(model, tokens, start, stop)
        torch.testing.assert_close(result.relevant[n], relevant, rtol=0, atol=1e-12)
        torch.testing.assert_close(result.irrelevant[n], irrelevant, rtol=0, atol=1e-12)


@pytest.mark.parametrize("bidirectional", [True, False])
def test_word_relevance_equals_slow_per_span_loop(bidirectional):
    model = make_model(bidirectional, output_bias=False, seed=34)
    targets = [k % 3 for k in range(len(SENTENCES))]
    result = textlrp.explain(model, SENTENCES, "cd", targets, dtype=torch.float64)
    for tokens, target, explanation in zip(SENTENCES, targets, result, strict=True):
        expected = torch.stack(
            [reference_cd(model, tokens, k, k + 1)[0][target] for k in range(len(tokens))]
        )
        torch.testing.assert_close(explanation.relevance, expected, rtol=0, atol=1e-12)
        assert explanation.relevance_per_dim is None
        by_direction = explanation.relevance_by_direction
        assert by_direction.shape == (len(tokens), 2 if bidirectional else 1)
        torch.testing.assert_close(by_direction.sum(-1), explanation.relevance)


def test_span_boundary_last_word_in_next_word_out():
    """With ``t < stop`` the span [start, stop) holds word stop − 1 but not word stop."""
    model = make_model(bidirectional=False, output_bias=False, seed=35)
    tokens = ["the", "movie", "was", "not", "good"]
    batch = encode_batch(model, [tokens] * 3)
    # [0, 5): every word in, nothing is irrelevant; [0, 4): the last word is out.
    result = cd_decompose(model, batch, [0, 0, 1], [5, 4, 5], torch.float64)
    torch.testing.assert_close(result.irrelevant[0], torch.zeros(3, dtype=torch.float64))
    torch.testing.assert_close(result.gamma_h[0], torch.zeros(1, 4, dtype=torch.float64))
    assert result.irrelevant[1].abs().max() > 1e-3
    assert result.irrelevant[2].abs().max() > 1e-3
    # The single-word span [2, 3) differs from [2, 4) (what `t <= stop` would compute).
    single = encode_batch(model, [tokens])
    one = cd_decompose(model, single, 2, 3)
    two = cd_decompose(model, single, 2, 4)
    assert not torch.allclose(one.relevant, two.relevant)
    torch.testing.assert_close(
        one.relevant[0], reference_cd(model, tokens, 2, 3)[0], atol=1e-12, rtol=0
    )


def test_bidirectional_whole_sentence_span_leaves_nothing_irrelevant():
    model = make_model(bidirectional=True, output_bias=True, seed=36)
    tokens = SENTENCES[-1]
    phrase = cd_phrase(model, tokens, 0, len(tokens))
    torch.testing.assert_close(phrase.irrelevant, torch.zeros(3, dtype=torch.float64))
    with torch.no_grad():
        batch = encode_batch(model, [tokens])
        logits = model(batch.token_ids, batch.lengths)[0]
    torch.testing.assert_close(phrase.relevant + phrase.bias, logits, rtol=0, atol=1e-12)


def test_cd_phrase():
    model = make_model(bidirectional=True, output_bias=True, seed=37)
    phrase = cd_phrase(model, "the movie was not good", 3, 5)
    assert phrase.phrase == ["not", "good"]
    relevant, irrelevant = reference_cd(model, phrase.tokens, 3, 5)
    torch.testing.assert_close(phrase.relevant, relevant, rtol=0, atol=1e-12)
    torch.testing.assert_close(phrase.irrelevant, irrelevant, rtol=0, atol=1e-12)
    torch.testing.assert_close(phrase.bias, model.output.bias.detach())
    with pytest.raises(textlrp.InputError, match="does not fit"):
        cd_phrase(model, "the movie", 1, 3)
    with pytest.raises(textlrp.InputError, match="does not fit"):
        cd_phrase(model, "the movie", 1, 1)


@pytest.mark.parametrize("output_bias", [False, True])
@pytest.mark.parametrize("bidirectional", [True, False])
def test_batched_equals_one_by_one(bidirectional, output_bias):
    model = make_model(bidirectional, output_bias, seed=38)
    targets = [(k + 1) % 3 for k in range(len(SENTENCES))]
    batched = textlrp.explain(model, SENTENCES, "cd", targets, dtype=torch.float64, batch_size=3)
    for tokens, target, explanation in zip(SENTENCES, targets, batched, strict=True):
        [single] = textlrp.explain(model, [tokens], "cd", target, dtype=torch.float64)
        torch.testing.assert_close(explanation.relevance, single.relevance, rtol=0, atol=1e-12)
        expected_bias = float(model.output.bias.detach()[target]) if output_bias else 0.0
        assert explanation.bias_relevance == pytest.approx(expected_bias)
    padded = batched.batch
    assert (padded.relevance[~padded.mask] == 0).all()
    assert (padded.relevance_by_direction[~padded.mask] == 0).all()


def test_float32_runs_on_a_float64_model():
    model = make_model(bidirectional=True, output_bias=False, seed=39)
    [e] = textlrp.explain(model, ["the movie was fun"], method="cd", dtype="float32")
    assert e.relevance.dtype == torch.float32
    assert model.embedding.weight.dtype == torch.float64


def test_stacked_or_non_lstm_models_are_input_errors():
    stacked = random_model(num_layers=2, seed=40)
    with pytest.raises(textlrp.InputError, match="single-layer LSTMs"):
        textlrp.explain(stacked, ["the movie was fun"], method="cd")
    with pytest.raises(textlrp.InputError, match="single-layer LSTMs"):
        cd_phrase(stacked, "the movie was fun", 0, 2)
    gru = random_model(seed=41, cell="gru")
    with pytest.raises(textlrp.InputError, match="single-layer LSTMs"):
        textlrp.explain(gru, ["the movie was fun"], method="cd")
    with pytest.raises(textlrp.InputError, match="single-layer LSTMs"):
        cd_decompose(gru, encode_batch(gru, [["the", "movie"]]), 0, 1)
    for head in ((3,), (10,)):  # (10,): as wide as the final states, 2d, used to slip through
        headed = random_model(seed=42, hidden_size=5, head_hidden=head)
        with pytest.raises(textlrp.InputError, match="head"):
            textlrp.explain(headed, ["the movie was fun"], method="cd")
        with pytest.raises(textlrp.InputError, match="head"):
            cd_phrase(headed, "the movie was fun", 0, 2)
    pooled = random_model(seed=41, readout="mean")
    with pytest.raises(textlrp.InputError, match="final states"):
        textlrp.explain(pooled, ["the movie was fun"], method="cd")


def test_bad_spans_are_input_errors():
    model = make_model(bidirectional=True, output_bias=False, seed=42)
    batch = encode_batch(model, [["the", "movie"], ["fun"]])
    with pytest.raises(textlrp.InputError, match="start <= stop"):
        cd_decompose(model, batch, [0, 0], [2, 2])
    with pytest.raises(textlrp.InputError, match="one per sentence"):
        cd_decompose(model, batch, [0, 0, 0], 1)
