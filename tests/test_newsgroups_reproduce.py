"""Smoke reproduction of the 20 Newsgroups experiments on a small fixture archive, and the CLI."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest

from textlrp.cli.main import main as textlrp_main
from textlrp.data.newsgroups import NEWSGROUPS

pytest.importorskip("gensim")
pytest.importorskip("sklearn")

SHARED = [f"common{i}" for i in range(30)]


def topic_words(label: int) -> list[str]:
    return [f"{NEWSGROUPS[label].split('.')[-1]}{i}" for i in range(6)]


def fixture_archive(path: Path, train: int = 8, test: int = 5, seed: int = 0) -> Path:
    """20 classes of posts mixing shared words with a few class words, plus markup tokens."""
    rng = np.random.default_rng(seed)
    with tarfile.open(path, "w:gz") as archive:
        for split, count in (("train", train), ("test", test)):
            for label, group in enumerate(NEWSGROUPS):
                for k in range(count):
                    n = int(rng.integers(12, 40))
                    words = [
                        str(rng.choice(topic_words(label))) if rng.random() < 0.3
                        else str(rng.choice(SHARED))
                        for _ in range(n)
                    ]
                    if k == 0:
                        words[2] = "<script>alert(1)</script>"
                    body = (
                        f"From: a@b.c\nSubject: {group}\n\n" + " ".join(words)
                        + "\n> quoted line\n\n--\nsig line\n"
                    ).encode("latin-1")
                    info = tarfile.TarInfo(f"20news-bydate-{split}/{group}/{1000 + k}")
                    info.size = len(body)
                    archive.addfile(info, io.BytesIO(body))
    return path


def test_smoke_reproduction_writes_every_stage_and_resumes(tmp_path):
    from textlrp.experiments.newsgroups.report import build_context, run_report, smoke_settings

    archive = fixture_archive(tmp_path / "20news-bydate.tar.gz")
    out = tmp_path / "out"
    ctx = build_context(out, source=archive, progress=False, settings=smoke_settings(8))
    report = run_report(ctx)
    markdown = report.read_text(encoding="utf-8")
    page = (out / "report.html").read_text(encoding="utf-8")
    for title in ("Test accuracy", "Heatmaps", "Word deletion", "Document vectors",
                  "Most relevant words", "Choices that are ours"):
        assert title in markdown and title in page
    assert (out / "deletion.png").is_file() and (out / "vectors_pca.png").is_file()
    assert any((out / "heatmaps").glob("*.png"))
    # posts contain markup: the tokenizer keeps only its words, and the HTML escapes tokens
    assert "<script" not in page and "script" in page
    from textlrp.experiments.document import to_html
    from textlrp.experiments.newsgroups import heatmaps

    result = json.loads(next((out / "cache").glob("heatmaps-*.json")).read_text())
    example = result["examples"][0]
    example["tokens"] = ["<img src=x onerror=alert(1)>"] + example["tokens"][1:]
    crafted = to_html(heatmaps.section({"examples": [example]}, ctx), "t")
    assert "<img" not in crafted and "&lt;img src=x onerror=alert(1)&gt;" in crafted
    # the relevance arrays are cached; a second run computes nothing
    cached = sorted(p.name for p in (out / "cache").iterdir())
    assert any(name.startswith("relevance_lrp") for name in cached)
    assert any(name.startswith("cnn-") and name.endswith(".pt") for name in cached)
    again = build_context(out, source=archive, progress=False, settings=smoke_settings(8))
    run_report(again)
    assert "loaded from the cache" in (out / "report.md").read_text(encoding="utf-8")
    assert sorted(p.name for p in (out / "cache").iterdir()) == cached
    deletion = json.loads(next((out / "cache").glob("deletion-*.json")).read_text())
    for mode in ("zero", "drop"):
        for key in ("lrp", "gradient", "gradient_x_input", "occlusion", "random"):
            curve = np.array(deletion["cnn"][mode][key])
            assert curve.shape == (len(deletion["steps"]), 2)
            assert curve[0, 0] == 1.0 and curve[0, 1] == 0.0  # k = 0: the initial split
    # predicted-class relevance reuses the true-class rows where they agree: same numbers
    reused = again.relevance("lrp", "predicted")
    direct = again._compute("lrp", again.targets_of("predicted"))
    np.testing.assert_allclose(reused, direct, rtol=1e-5, atol=1e-6)
    # the SVM learns the fixture's class words far above chance (1/20)
    accuracy = json.loads(next((out / "cache").glob("accuracy-*.json")).read_text())
    assert accuracy["rows"][1]["accuracy"] > 0.5  # the SVM on the same tokens


def test_knn_accuracies_match_scikit_learn():
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.neighbors import KNeighborsClassifier

    from textlrp.experiments.newsgroups.vectors import knn_accuracies

    rng = np.random.default_rng(1)
    labels = np.repeat(np.arange(4), 15)
    vectors = rng.normal(size=(60, 5)) + labels[:, None] * 0.7
    splitter = StratifiedKFold(n_splits=3, shuffle=True, random_state=0)
    ours = knn_accuracies(vectors, labels, (1, 4, 7), splitter)
    for k in (1, 4, 7):
        reference = KNeighborsClassifier(n_neighbors=k, metric="cosine", algorithm="brute")
        expected = cross_val_score(reference, vectors, labels, cv=splitter).mean()
        assert ours[str(k)] == pytest.approx(expected)


def test_cli_train_and_reproduce_errors(tmp_path, capsys):
    archive = fixture_archive(tmp_path / "20news-bydate.tar.gz", train=4, test=2)
    model = tmp_path / "cnn.pt"
    status = textlrp_main([
        "train", "20news", "--data", str(archive), "--out", str(model), "--embedding-dim", "8",
        "--filters", "4", "--epochs", "1", "--threads", "1", "--quiet", "--max-tokens", "50",
    ])
    assert status == 0 and model.is_file()
    summary = json.loads(model.with_suffix(".json").read_text())
    assert 0.0 <= summary["test_accuracy"] <= 1.0 and summary["removed"] == [
        "headers", "footers", "quotes"]
    import textlrp

    loaded = textlrp.load_model(model)
    assert loaded.class_names == list(NEWSGROUPS) and loaded.embedding.weight.shape[1] == 8
    status = textlrp_main(["reproduce", "20news", "--data", str(tmp_path / "missing.tar.gz"),
                           "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert status == 2 and "20news-bydate.tar.gz" in err and "Traceback" not in err
    glove = tmp_path / "glove.txt"
    glove.write_text("common1 0.1 0.2 0.3\n", encoding="utf-8")
    status = textlrp_main(["train", "20news", "--data", str(archive), "--embeddings", str(glove),
                           "--out", str(tmp_path / "x.pt"), "--quiet"])
    err = capsys.readouterr().err
    assert status == 2 and "3-dimensional" in err and "--embedding-dim 3" in err


def test_one_gradient_pass_gives_the_registered_sa_and_gxi(tmp_path):
    import torch

    import textlrp
    from textlrp.experiments.newsgroups.common import encode_rows, gradient_relevance
    from textlrp.models.cnn import CNNClassifier, CNNConfig
    from textlrp.models.vocab import Vocabulary

    torch.manual_seed(0)
    vocab = Vocabulary([f"w{i}" for i in range(9)])
    model = CNNClassifier(vocab, ["a", "b"], CNNConfig(embedding_dim=4, num_filters=3)).eval()
    docs = [["w1", "w2", "w3", "w4"], ["w5"], ["w6", "w7", "w8"]]
    batch = encode_rows(model, docs, [vocab.encode(d) for d in docs])
    pair = gradient_relevance(model, batch, np.array([0, 1, 1]))
    for key in ("gradient", "gradient_x_input"):
        expected = textlrp.explain(model, docs, method=key, target=[0, 1, 1])
        for row, explanation in zip(pair[key], expected, strict=True):
            n = len(explanation.tokens)
            np.testing.assert_allclose(row[:n], explanation.relevance.numpy(), rtol=1e-5,
                                       atol=1e-7)
