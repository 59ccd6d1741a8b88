"""wrap_model on a user's own CNN: same scores, explainable, anything else refused by name."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import textlrp
from textlrp import CNNClassifier, ModelError, wrap_model

WORDS = ["<pad>", "<unk>", "a", "fine", "film", "dull", "plot", "not", "at", "all"]
CLASSES = ["neg", "neu", "pos"]


class UserCNN(nn.Module):
    """What a user might have trained: Kim-style widths 2, 3, 4, a ReLU head with dropout."""

    def __init__(self, widths=(2, 3, 4), sequential=True, bias=True):
        super().__init__()
        torch.manual_seed(3)
        self.emb = nn.Embedding(len(WORDS), 6, padding_idx=0)
        convs = [nn.Conv1d(6, 4, w, bias=bias) for w in widths]
        if sequential:
            convs = [
                nn.Sequential(c, nn.ReLU(), nn.AdaptiveMaxPool1d(1), nn.Flatten()) for c in convs
            ]
        self.convs = nn.ModuleList(convs)
        self.head = nn.Sequential(
            nn.Dropout(0.5), nn.Linear(4 * len(widths), 5), nn.ReLU(), nn.Linear(5, 3)
        )

    def forward(self, ids):  # one unpadded document at a time
        x = self.emb(ids).transpose(1, 2)
        pooled = []
        for conv in self.convs:
            out = conv(x)
            if out.dim() == 3:
                out = torch.relu(out).amax(-1)
            pooled.append(out)
        return self.head(torch.cat(pooled, -1))


DOCS = [
    ["a", "fine", "film", "all"],
    ["not", "a", "dull", "plot", "at", "all", "film"],
    ["dull", "plot", "film", "fine"],
]


@pytest.mark.parametrize("sequential", [True, False])
@pytest.mark.parametrize("bias", [True, False])
def test_wrapped_cnn_computes_what_the_user_model_computes(sequential, bias):
    user = UserCNN(sequential=sequential, bias=bias).double().eval()
    wrapped = wrap_model(user.emb, user.convs, user.head, WORDS, CLASSES)
    assert isinstance(wrapped, CNNClassifier)
    assert wrapped.widths == (2, 3, 4)
    with torch.no_grad():
        expected = torch.cat([user(torch.tensor([[WORDS.index(w) for w in d]])) for d in DOCS])
    result = textlrp.explain(wrapped, DOCS, dtype=torch.float64, method="lrp_cons")
    torch.testing.assert_close(result.batch.scores, expected, rtol=0, atol=1e-12)
    for e in result:
        assert float(e.relevance.sum()) == pytest.approx(e.target_score, rel=1e-10, abs=1e-12)


def test_single_conv_without_a_list():
    user = UserCNN(widths=(3,), sequential=False).double().eval()
    wrapped = wrap_model(user.emb, user.convs[0], user.head, WORDS, CLASSES)
    assert wrapped.widths == (3,)


@pytest.mark.parametrize(
    "convs,message",
    [
        ([nn.Conv1d(6, 4, 3, stride=2)], "stride=2"),
        ([nn.Conv1d(6, 4, 3, padding=1)], "padding"),
        ([nn.Conv1d(6, 4, 3, dilation=2)], "dilation=2"),
        ([nn.Conv1d(6, 4, 2), nn.Conv1d(6, 5, 3)], "same number of filters"),
        ([nn.Conv1d(5, 4, 2)], "5 input channels"),
        ([nn.Sequential(nn.Conv1d(6, 4, 2), nn.Tanh())], "Tanh"),
        ([nn.Sequential(nn.Conv1d(6, 4, 2), nn.ReLU(), nn.MaxPool1d(2))], "MaxPool1d"),
        ([nn.Sequential(nn.Conv1d(6, 4, 2), nn.ReLU(), nn.AvgPool1d(2))], "AvgPool1d"),
        ([nn.Sequential(nn.Conv1d(6, 4, 2), nn.ReLU(), nn.AdaptiveMaxPool1d(2))], "output_size"),
        ([nn.Conv1d(6, 4, 2), nn.Conv2d(6, 4, 2)], "Conv2d"),
    ],
)
def test_unsupported_cnn_parts_are_named(convs, message):
    emb = nn.Embedding(len(WORDS), 6)
    head = nn.Linear(4 * len(convs), 3)
    with pytest.raises(ModelError, match=message):
        wrap_model(emb, convs, head, WORDS, CLASSES)


def test_head_and_readout_are_checked_for_cnns():
    emb = nn.Embedding(len(WORDS), 6)
    conv = nn.Conv1d(6, 4, 2)
    with pytest.raises(ModelError, match="Tanh"):
        wrap_model(emb, conv, nn.Sequential(nn.Linear(4, 3), nn.Tanh()), WORDS, CLASSES)
    with pytest.raises(ModelError, match="readout"):
        wrap_model(emb, conv, nn.Linear(4, 3), WORDS, CLASSES, readout="mean")
    with pytest.raises(ModelError, match="fit"):
        wrap_model(emb, conv, nn.Linear(5, 3), WORDS, CLASSES)
    with torch.no_grad():
        conv.weight[0, 0, 0] = float("nan")
    with pytest.raises(ModelError, match="NaN"):
        wrap_model(emb, conv, nn.Linear(4, 3), WORDS, CLASSES)
