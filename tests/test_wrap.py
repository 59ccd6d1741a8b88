"""Explaining a model the user built from standard modules, without retraining it."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

import textlrp
from textlrp import ModelError, wrap_model

WORDS = ["<pad>", "<unk>", "a", "fine", "film", "dull", "plot", "not"]


class UserModel(nn.Module):
    """What a user might have trained: time-major GRU/LSTM, a ReLU head with dropout."""

    def __init__(self, cell=nn.LSTM, bidirectional=True, layers=2):
        super().__init__()
        torch.manual_seed(5)
        self.emb = nn.Embedding(len(WORDS), 6, padding_idx=0)
        self.rnn = cell(6, 5, num_layers=layers, bidirectional=bidirectional)
        width = 5 * (2 if bidirectional else 1)
        self.head = nn.Sequential(
            nn.Dropout(0.3), nn.Linear(width, 7), nn.ReLU(), nn.Dropout(0.3), nn.Linear(7, 3)
        )

    def forward(self, ids, lengths):
        packed = pack_padded_sequence(self.emb(ids).transpose(0, 1), lengths, enforce_sorted=False)
        _, state = self.rnn(packed)
        h_n = state[0] if isinstance(state, tuple) else state
        directions = 2 if self.rnn.bidirectional else 1
        return self.head(torch.cat(list(h_n[-directions:]), dim=-1))


@pytest.mark.parametrize("cell", [nn.LSTM, nn.GRU])
@pytest.mark.parametrize("bidirectional", [True, False])
def test_wrapped_model_computes_what_the_user_model_computes(cell, bidirectional):
    user = UserModel(cell, bidirectional).double().eval()
    wrapped = wrap_model(user.emb, user.rnn, user.head, WORDS, ["neg", "neu", "pos"])
    sentences = [["a", "fine", "film"], ["not", "a", "dull", "plot", "film"], ["dull"]]
    ids = torch.zeros(3, 5, dtype=torch.long)
    for row, sentence in enumerate(sentences):
        ids[row, : len(sentence)] = torch.tensor([WORDS.index(w) for w in sentence])
    lengths = torch.tensor([3, 5, 1])
    expected = user(ids, lengths)
    result = textlrp.explain(wrapped, sentences, dtype=torch.float64, method="lrp_cons")
    torch.testing.assert_close(result.batch.scores, expected, rtol=0, atol=1e-12)
    for e in result:  # conservation through the ReLU head too
        total = float(e.relevance.sum()) + e.initial_state_relevance
        assert total == pytest.approx(e.target_score, rel=1e-9, abs=1e-12)
    grads = textlrp.explain(wrapped, sentences, dtype=torch.float64, method="gradient")
    assert all(torch.isfinite(g.relevance).all() for g in grads)


def test_user_special_tokens_are_not_matched_by_text():
    user = UserModel().double().eval()
    wrapped = wrap_model(user.emb, user.rnn, user.head, WORDS, ["neg", "neu", "pos"])
    [e] = textlrp.explain(wrapped, [["<pad>", "film"]], dtype=torch.float64)
    assert e.unknown == [True, False]


@pytest.mark.parametrize(
    "change,message",
    [
        (lambda m: setattr(m, "head", nn.Sequential(nn.Linear(10, 3), nn.Tanh())), "Tanh"),
        (lambda m: setattr(m, "head", nn.Sequential(nn.Conv1d(10, 3, 1))), "Conv1d"),
        (lambda m: setattr(m, "rnn", nn.RNN(6, 5)), "RNN"),
        (lambda m: setattr(m, "head", nn.Linear(10, 4)), "4 units"),
        (lambda m: setattr(m, "head", nn.Sequential(nn.Linear(10, 7), nn.Linear(7, 3))), "ReLU"),
    ],
)
def test_unsupported_modules_are_named(change, message):
    user = UserModel(layers=1)
    change(user)
    with pytest.raises(ModelError, match=message):
        wrap_model(user.emb, user.rnn, user.head, WORDS, ["neg", "neu", "pos"])
