"""Training the SST bi-LSTM on tiny fixture trees: files, reloading, determinism, metrics, CLI."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import pytest
import torch

from textlrp.cli.train_sst import add_train_arguments, config_from_args, run_train
from textlrp.data import SST_CLASS_NAMES, load_sst, sst_phrases
from textlrp.models.lstm_classifier import LSTMClassifier
from textlrp.training import (
    TrainConfig,
    accuracy_from_scores,
    build_vocabulary,
    evaluate,
    predict_scores,
    train_classifier,
    train_sst,
)

ASSET = Path(__file__).resolve().parents[1] / "src" / "textlrp" / "assets" / "sst_bilstm.pt"
SHARED_SST = Path(__file__).resolve().parents[2] / "shared" / "data" / "sst"
POSITIVE = ["good", "great", "fine", "fun", "superb"]
NEGATIVE = ["bad", "dull", "awful", "poor", "weak"]


def _tree(label: int, words: list[tuple[int, str]]) -> str:
    """A right-branching tree over labelled words, every inner node labelled ``label``."""
    node = f"({words[-1][0]} {words[-1][1]})"
    for word_label, word in reversed(words[:-1]):
        node = f"({label} ({word_label} {word}) {node})"
    return node


def write_fixture(folder: Path) -> Path:
    """Separable toy sentiment trees: 10 train, 4 dev, 4 test sentences (~60 phrases)."""
    folder.mkdir(parents=True, exist_ok=True)
    train = []
    for i in range(5):
        train.append(_tree(4, [(2, "The"), (2, "film"), (4, POSITIVE[i]), (2, ".")]))
        train.append(_tree(0, [(2, "A"), (0, NEGATIVE[i]), (2, "movie")]))
    dev = [
        _tree(4, [(2, "film"), (4, "great")]),
        _tree(0, [(2, "movie"), (0, "awful")]),
        _tree(2, [(2, "the"), (2, "film")]),
        _tree(3, [(3, "fun"), (2, ".")]),
    ]
    test = [
        _tree(4, [(4, "superb"), (2, ".")]),
        _tree(0, [(0, "dull"), (2, ".")]),
        _tree(1, [(1, "weak"), (2, "film")]),
        _tree(2, [(2, "a"), (2, "movie")]),
    ]
    for split, lines in (("train", train), ("dev", dev), ("test", test)):
        (folder / f"{split}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


TINY = TrainConfig(epochs=2, batch_size=8, lr=0.01, patience=0, seed=3)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return write_fixture(tmp_path / "sst")


def test_train_sst_writes_a_model_that_loads_back(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out" / "model.pt"
    result = train_sst(data_dir, out, seed=3, epochs=2, config=TINY, progress=False, download=False)
    assert out.is_file() and Path(f"{out}.json").is_file()
    saved = json.loads(Path(f"{out}.json").read_text())
    assert saved["test_fine"] == pytest.approx(result["test_fine"])
    assert result["epochs_run"] == 2 and result["best_epoch"] in (1, 2)
    assert result["train_sentences"] == 10
    assert result["vocab_size"] == 2 + len({"the", "film", ".", "a", "movie", *POSITIVE, *NEGATIVE})
    assert result["config"]["seed"] == 3 and result["config"]["epochs"] == 2
    model = LSTMClassifier.load(out)
    cfg = model.config
    assert (cfg.embedding_dim, cfg.hidden_size, cfg.num_layers) == (60, 60, 1)
    assert cfg.bidirectional and not cfg.output_bias and model.output.bias is None
    assert model.class_names == SST_CLASS_NAMES
    assert model.embedding.weight.dtype == torch.float32
    test = evaluate(model, load_sst("test", data_dir))
    assert test["fine"] == pytest.approx(result["test_fine"])
    assert test["binary"] == pytest.approx(result["test_binary"])
    assert (test["n"], test["n_binary"]) == (4, 3)


def test_saved_model_gives_the_same_scores(data_dir: Path, tmp_path: Path) -> None:
    sentences = load_sst("train", data_dir)
    phrases = sst_phrases("train", data_dir)
    assert 50 <= len(phrases) <= 80
    vocab = build_vocabulary(ex.tokens for ex in sentences)
    model, info = train_classifier(phrases, load_sst("dev", data_dir), vocab, TINY, progress=False)
    assert [h["epoch"] for h in info["history"]] == [1, 2]
    path = tmp_path / "m.pt"
    model.save(path)
    loaded = LSTMClassifier.load(path)
    texts = [ex.tokens for ex in sentences] + [("unseen", "words", "here")]
    before = predict_scores(model, texts)
    assert before.shape == (len(texts), 5)
    assert torch.equal(before, predict_scores(loaded, texts))
    # Batching (and length sorting inside it) does not change the scores.
    assert torch.allclose(before, predict_scores(model, texts, batch_size=1), atol=1e-6)


def test_training_is_deterministic_for_a_seed(data_dir: Path) -> None:
    phrases = sst_phrases("train", data_dir)
    dev = load_sst("dev", data_dir)
    vocab = build_vocabulary(ex.tokens for ex in load_sst("train", data_dir))
    one_epoch = TrainConfig(epochs=1, batch_size=8, lr=0.01, seed=5)
    first, _ = train_classifier(phrases, dev, vocab, one_epoch, progress=False)
    second, _ = train_classifier(phrases, dev, vocab, one_epoch, progress=False)
    other, _ = train_classifier(
        phrases, dev, vocab, TrainConfig(epochs=1, batch_size=8, lr=0.01, seed=6), progress=False
    )
    state1, state2 = first.state_dict(), second.state_dict()
    assert all(torch.equal(state1[k], state2[k]) for k in state1)
    assert not torch.equal(state1["output.weight"], other.state_dict()["output.weight"])


def test_training_learns_the_toy_task(data_dir: Path) -> None:
    vocab = build_vocabulary(ex.tokens for ex in load_sst("train", data_dir))
    cfg = TrainConfig(
        epochs=15,
        batch_size=8,
        lr=0.02,
        patience=0,
        seed=0,
        embedding_dropout=0.0,
        hidden_dropout=0.0,
    )
    model, _ = train_classifier(
        sst_phrases("train", data_dir), load_sst("dev", data_dir), vocab, cfg, progress=False
    )
    train_acc = evaluate(model, load_sst("train", data_dir))
    assert train_acc["fine"] == 1.0 and train_acc["binary"] == 1.0


def test_accuracy_from_scores_binary_rule() -> None:
    # Rows: argmax neutral but P(3)+P(4) > P(0)+P(1); clear very negative; argmax positive.
    scores = torch.tensor(
        [
            [0.0, 0.0, 3.0, 1.0, 1.0],
            [5.0, 0.0, 0.0, 0.0, 0.0],
            [0.0, 0.0, 0.0, 2.0, 0.0],
            [0.0, 1.0, 0.0, 0.0, 0.0],
        ]
    )
    labels = torch.tensor([4, 0, 2, 3])
    acc = accuracy_from_scores(scores, labels)
    assert acc["fine"] == pytest.approx(1 / 4)  # only row 2 (very negative) is right
    assert acc["n"] == 4 and acc["n_binary"] == 3  # the neutral row is dropped
    assert acc["binary"] == pytest.approx(2 / 3)  # rows 1, 2 right; row 4 says negative
    neutral_only = accuracy_from_scores(scores[2:3], labels[2:3])
    assert math.isnan(neutral_only["binary"]) and neutral_only["n_binary"] == 0


def test_evaluate_rejects_bad_input(data_dir: Path) -> None:
    from textlrp.errors import InputError

    vocab = build_vocabulary([["good"]])
    model = LSTMClassifier(vocab, SST_CLASS_NAMES)
    with pytest.raises(InputError):
        evaluate(model, [])
    with pytest.raises(InputError):
        evaluate(model, [((), 2)])
    with pytest.raises(InputError):
        TrainConfig(embedding_dropout=1.0)


def test_cli_arguments_and_run(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = add_train_arguments(argparse.ArgumentParser())
    out = tmp_path / "cli.pt"
    args = parser.parse_args(
        [
            "--data-dir",
            str(data_dir),
            "--out",
            str(out),
            "--epochs",
            "1",
            "--seed",
            "4",
            "--batch-size",
            "16",
            "--quiet",
            "--no-download",
        ]
    )
    cfg = config_from_args(args)
    assert (cfg.epochs, cfg.seed, cfg.batch_size, cfg.dedupe) == (1, 4, 16, True)
    defaults = config_from_args(parser.parse_args([]))
    assert defaults == TrainConfig()
    assert run_train(args) == 0
    assert LSTMClassifier.load(out).num_classes == 5
    printed = capsys.readouterr().out
    assert "test five-class" in printed and str(out) in printed


def test_bundled_model_matches_its_model_card() -> None:
    """The asset has the paper's architecture and the accuracy MODEL_CARD.md reports."""
    from textlrp.data import tokenize

    model = LSTMClassifier.load(ASSET)
    cfg = model.config
    assert cfg.embedding_dim == cfg.hidden_size == 60 and cfg.num_layers == 1
    assert cfg.bidirectional and cfg.readout == "last" and cfg.cell == "lstm"
    assert model.output.bias is None and model.class_names == SST_CLASS_NAMES
    assert len(model.vocab) == 16583 and model.embedding.weight.dtype == torch.float32
    texts = ["A great, wonderful and moving film.", "A dull, awful and boring mess."]
    probs = predict_scores(model, [tokenize(t) for t in texts]).softmax(dim=1)
    positive, negative = probs[:, 3:].sum(1), probs[:, :2].sum(1)
    assert positive[0] > negative[0] and negative[1] > positive[1]
    if (SHARED_SST / "test.txt").is_file():
        test = evaluate(model, load_sst("test", SHARED_SST, download=False))
        assert (round(test["fine"] * 2210), round(test["binary"] * 1821)) == (1072, 1563)


def test_unknown_word_row_stays_zero_through_training(data_dir: Path, tmp_path: Path) -> None:
    """Every training word is in the vocabulary, so the unknown-word row never learns: it must
    stay a zero vector rather than keep random noise."""
    from textlrp.models import load_model

    out = tmp_path / "m.pt"
    train_sst(data_dir, out, seed=3, epochs=2, config=TINY, progress=False, download=False)
    model = load_model(out)
    assert float(model.embedding.weight.detach()[model.vocab.unk_index].abs().sum()) == 0.0
    assert float(model.embedding.weight.detach()[model.vocab.pad_index].abs().sum()) == 0.0
    assert float(model.embedding.weight.detach()[2:].abs().sum()) > 0.0
