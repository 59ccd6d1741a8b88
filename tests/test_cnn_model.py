"""The CNN classifier: batch invariance, padding, the short-document rule, files."""

from __future__ import annotations

import pytest
import torch
from cnn_fixtures import random_cnn, random_ids
from hypothesis import given, settings
from hypothesis import strategies as st

import textlrp
from textlrp import CNNClassifier, CNNConfig, InputError, ModelError


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), count=st.integers(1, 6), extra=st.integers(0, 4))
def test_batch_gives_what_each_document_gives_alone(seed, count, extra):
    model = random_cnn(widths=(1, 3, 4), head_hidden=(5,), seed=seed % 7)
    ids, lengths = random_ids(count, seed, min_len=0, max_len=7)
    ids = torch.nn.functional.pad(ids, (0, extra))  # more padding than needed
    with torch.no_grad():
        batched = model(ids, lengths)
        for row in range(count):
            n = int(lengths[row])
            alone = model(ids[row : row + 1, :n], lengths[row : row + 1])
            torch.testing.assert_close(batched[row : row + 1], alone, rtol=1e-12, atol=1e-12)


def test_padding_content_never_matters():
    """Garbage in the padding (a non-zero padding row, any vectors) changes nothing."""
    model = random_cnn(widths=(2, 5))
    ids, lengths = random_ids(5, 3, min_len=1, max_len=6)
    embedded = model.embedding(ids).detach()
    noisy = embedded.clone()
    mask = torch.arange(ids.shape[1])[None, :] < lengths[:, None]
    noisy[~mask] = 1e6  # would win every max-pool if padding took part
    with torch.no_grad():
        torch.testing.assert_close(
            model.forward_embedded(noisy, lengths), model.forward_embedded(embedded, lengths)
        )


def test_short_document_is_zero_padded_to_the_filter_width():
    """A document shorter than H has one window: its words followed by zero vectors."""
    model = random_cnn(widths=(4,), num_filters=2)
    embedded = torch.randn(1, 2, 4, dtype=torch.float64)
    conv = model.convs[0]
    padded = torch.cat([embedded, torch.zeros(1, 2, 4, dtype=torch.float64)], dim=1)
    z = conv(padded.transpose(1, 2))[..., 0]  # the single window p = 0
    expected = model.output(torch.relu(z))
    with torch.no_grad():
        torch.testing.assert_close(model.forward_embedded(embedded, torch.tensor([2])), expected)
        empty = model.forward_embedded(embedded[:, :0], torch.tensor([0]))
        torch.testing.assert_close(empty, model.output(torch.relu(conv.bias))[None])


def test_max_pooling_reads_only_valid_windows():
    model = random_cnn(widths=(2,), num_filters=1, head_hidden=())
    with torch.no_grad():
        model.convs[0].weight.fill_(1.0)
        model.convs[0].bias.zero_()
        model.output.weight.fill_(1.0)
        model.output.bias.zero_()
    # windows of [1, 2, 3] (width 2, 4 dims): sums 12 and 20; the max is 20
    embedded = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)[None, :, None].expand(1, 3, 4)
    with torch.no_grad():
        scores = model.forward_embedded(embedded, torch.tensor([3]))
    assert scores[0, 0].item() == pytest.approx(20.0)


def test_save_and_load_round_trip(tmp_path):
    model = random_cnn(widths=(2, 3), head_hidden=(4,))
    path = tmp_path / "cnn.pt"
    model.save(path)
    loaded = textlrp.load_model(path)
    assert isinstance(loaded, CNNClassifier)
    assert loaded.config == model.config
    assert loaded.class_names == model.class_names
    assert loaded.vocab.itos == model.vocab.itos
    ids, lengths = random_ids(4, 1)
    with torch.no_grad():
        torch.testing.assert_close(loaded(ids, lengths), model(ids, lengths))
    assert isinstance(CNNClassifier.load(path), CNNClassifier)
    with pytest.raises(ModelError, match="load_model"):
        textlrp.LSTMClassifier.load(path)


def test_files_without_family_are_recurrent(tmp_path):
    from conftest import random_model

    path = tmp_path / "lstm.pt"
    random_model().save(path)
    assert isinstance(textlrp.load_model(path), textlrp.LSTMClassifier)
    with pytest.raises(ModelError, match="recurrent"):
        CNNClassifier.load(path)


def test_unknown_family_and_nan_weights_are_refused(tmp_path):
    model = random_cnn()
    path = tmp_path / "cnn.pt"
    model.save(path)
    payload = torch.load(path, weights_only=True)
    payload["family"] = "transformer"
    torch.save(payload, tmp_path / "other.pt")
    with pytest.raises(ModelError, match="transformer"):
        textlrp.load_model(tmp_path / "other.pt")
    with torch.no_grad():
        model.convs[0].weight[0, 0, 0] = float("nan")
    model.save(path)
    with pytest.raises(ModelError, match="convs.0.weight"):
        textlrp.load_model(path)


@pytest.mark.parametrize(
    "options,message",
    [
        ({"widths": ()}, "widths"),
        ({"widths": (0,)}, "widths"),
        ({"num_filters": 0}, "num_filters"),
        ({"dropout": 1.0}, "dropout"),
        ({"head_hidden": (0,)}, "head_hidden"),
    ],
)
def test_bad_configs_are_refused(options, message):
    with pytest.raises(InputError, match=message):
        CNNConfig(**options)


def test_frozen_embedding_and_bad_lengths():
    config = CNNConfig(4, 2, (2,), freeze_embedding=True)
    model = CNNClassifier(textlrp.models.Vocabulary(["a"]), ["x"], config)
    assert not model.embedding.weight.requires_grad
    assert model.convs[0].weight.requires_grad
    with pytest.raises(InputError, match="lengths"):
        model(torch.zeros(1, 3, dtype=torch.long), torch.tensor([4]))
