"""Occlusion f-diff / P-diff: the batched copies equal one explicit forward pass per word."""

from __future__ import annotations

import pytest
import torch
from conftest import random_model, random_sentences

import textlrp
from textlrp.api import encode_batch
from textlrp.methods.builtin import occlusion
from textlrp.methods.builtin.occlusion import occluded_scores
from textlrp.models import RecurrentClassifier

SENTENCES = [["good"], *random_sentences(4, 21, 7), ["never", "fails", "to", "engage", "us"]]


def biased_model(bidirectional: bool, seed: int) -> RecurrentClassifier:
    """A small float64 classifier whose output layer has a bias."""
    return random_model(bidirectional=bidirectional, seed=seed, output_bias=True)


def explicit_occluded(model, tokens: list[str], t: int, mode: str) -> torch.Tensor:
    """Scores (C,) of one sentence with word t removed, from one ordinary forward pass."""
    batch = encode_batch(model, [tokens])
    embedded = model.embedding(batch.token_ids).detach()
    if mode == "zero":
        embedded[0, t] = 0.0
        return model.forward_embedded(embedded, batch.lengths)[0]
    kept = torch.cat([embedded[:, :t], embedded[:, t + 1 :]], dim=1)
    if kept.shape[1] == 0:  # an empty sentence's read-out input is h_0 = 0, for every direction
        h0 = torch.zeros(1, model.config.hidden_size * model.num_directions, dtype=torch.float64)
        return model.output(model.head(h0))[0]
    return model.forward_embedded(kept, torch.tensor([kept.shape[1]]))[0]


@pytest.mark.parametrize("mode", ["zero", "drop"])
@pytest.mark.parametrize("bidirectional", [True, False])
def test_occluded_scores_equal_explicit_forward_passes(mode, bidirectional):
    model = biased_model(bidirectional, seed=22)
    batch = encode_batch(model, SENTENCES)
    with torch.no_grad():
        result = occluded_scores(model, batch, torch.float64, mode)
        full = model(batch.token_ids, batch.lengths)
        assert result.shape == (len(SENTENCES), batch.token_ids.shape[1], 3)
        for b, tokens in enumerate(SENTENCES):
            for t in range(len(tokens)):
                expected = explicit_occluded(model, tokens, t, mode)
                torch.testing.assert_close(result[b, t], expected, rtol=0, atol=1e-12)
            # padding positions hold the unoccluded scores
            for t in range(len(tokens), result.shape[1]):
                torch.testing.assert_close(result[b, t], full[b], rtol=0, atol=0)


def test_zero_and_drop_differ():
    model = random_model(seed=23)
    batch = encode_batch(model, [["the", "movie", "was", "fun"]])
    zero = occluded_scores(model, batch, torch.float64, "zero")
    drop = occluded_scores(model, batch, torch.float64, "drop")
    assert not torch.allclose(zero, drop)


@pytest.mark.parametrize("mode", ["zero", "drop"])
def test_f_diff_and_p_diff_definitions(mode):
    model = random_model(seed=24)
    target = 1
    [f] = textlrp.explain(
        model, SENTENCES[1:2], "occlusion_f", target, dtype=torch.float64, mode=mode
    )
    [p] = textlrp.explain(
        model, SENTENCES[1:2], "occlusion_p", target, dtype=torch.float64, mode=mode
    )
    tokens = SENTENCES[1]
    batch = encode_batch(model, [tokens])
    with torch.no_grad():
        scores = model(batch.token_ids, batch.lengths)[0]
        occluded = torch.stack(
            [explicit_occluded(model, tokens, t, mode) for t in range(len(tokens))]
        )
    expected_f = scores[target] - occluded[:, target]
    expected_p = torch.softmax(scores, -1)[target] - torch.softmax(occluded, -1)[:, target]
    torch.testing.assert_close(f.relevance, expected_f, rtol=0, atol=1e-12)
    torch.testing.assert_close(p.relevance, expected_p, rtol=0, atol=1e-12)
    assert f.relevance_per_dim is None and p.relevance_per_dim is None


@pytest.mark.parametrize("method", ["occlusion_f", "occlusion_p"])
@pytest.mark.parametrize("mode", ["zero", "drop"])
def test_batched_equals_one_by_one(method, mode, monkeypatch):
    model = biased_model(bidirectional=True, seed=25)
    targets = [k % 3 for k in range(len(SENTENCES))]
    monkeypatch.setattr(occlusion, "CHUNK_COPIES", 4)  # several internal chunks, too
    batched = textlrp.explain(
        model, SENTENCES, method, targets, dtype=torch.float64, batch_size=4, mode=mode
    )
    for tokens, target, explanation in zip(SENTENCES, targets, batched, strict=True):
        [single] = textlrp.explain(model, [tokens], method, target, dtype=torch.float64, mode=mode)
        torch.testing.assert_close(explanation.relevance, single.relevance, rtol=0, atol=1e-12)
    padded = batched.batch
    assert (padded.relevance[~padded.mask] == 0).all()


def test_float32_runs_on_a_float64_model():
    model = random_model(seed=26)
    [e] = textlrp.explain(model, ["the movie was fun"], method="occlusion_f", dtype="float32")
    assert e.relevance.dtype == torch.float32
    assert model.embedding.weight.dtype == torch.float64


def test_unknown_mode_is_an_input_error():
    model = random_model(seed=27)
    with pytest.raises(textlrp.InputError, match="occlusion mode"):
        textlrp.explain(model, ["the movie"], method="occlusion_f", mode="blank")


@pytest.mark.parametrize(
    "options",
    [
        {"cell": "gru"},
        {"readout": "max"},
        {"head_hidden": (3,), "output_bias": True},
        {"head_hidden": (4, 3), "bidirectional": False},
    ],
)
@pytest.mark.parametrize("tokens", [SENTENCES[-1], ["good"]])
def test_other_classifiers_through_their_own_forward(options, tokens):
    model = random_model(seed=28, **options)
    result = occluded_scores(model, encode_batch(model, [tokens]), torch.float64, "drop")
    with torch.no_grad():
        for t in range(len(tokens)):
            expected = explicit_occluded(model, tokens, t, "drop")
            torch.testing.assert_close(result[0, t], expected, rtol=0, atol=1e-12)
