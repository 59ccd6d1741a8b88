"""The SST reproduction (`textlrp reproduce sst`): each statistic on tiny constructed inputs,
and one end-to-end run on a fixture treebank with a small random model."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
import torch

import textlrp
from textlrp.api import encode_batch
from textlrp.cli.main import main as textlrp_main
from textlrp.data import SST_CLASS_NAMES
from textlrp.experiments.cache import StageCache
from textlrp.experiments.document import Heatmaps, HeatRow, Para, Table, to_html, to_markdown
from textlrp.experiments.sst.common import occlusion_relevance
from textlrp.experiments.sst.composition import (
    combinations,
    group_by_class,
    modifier_shares,
    polarity_classes,
    top_polar_words,
)
from textlrp.experiments.sst.deletion import (
    condensed,
    delete_words,
    deletion_order,
    normalized,
    predictions_after,
    random_order,
)
from textlrp.experiments.sst.position import (
    encoder_gradients,
    position_weights,
    positional_distribution,
)
from textlrp.experiments.sst.representations import knn_accuracy, whitened_pca
from textlrp.experiments.sst.top_words import aggregate_words, extremes
from textlrp.experiments.sst.wordlists import AMPLIFIERS, NEGATIONS
from textlrp.methods.builtin.occlusion import occluded_scores
from textlrp.models import ClassifierConfig, RecurrentClassifier, Vocabulary

WORDS = (
    "the film movie good bad great boring not very never fails to engage us it is a . , and "
    "funny dull really no"
).split()


def small_model(seed: int = 0, embedding: int = 6, hidden: int = 5) -> RecurrentClassifier:
    torch.manual_seed(seed)
    model = RecurrentClassifier(
        Vocabulary(WORDS), SST_CLASS_NAMES, ClassifierConfig(embedding, hidden)
    )
    with torch.no_grad():
        for param in model.parameters():
            param.uniform_(-0.8, 0.8)
    return model.float().eval()


# ------------------------------------------------------------------ word deletion
def test_deletion_order_three_words_both_directions():
    relevance = np.array([[0.5, -1.0, 2.0], [0.5, -1.0, 2.0]])
    lengths = np.array([3, 3])
    order = deletion_order(relevance, lengths, np.array([True, False]))
    assert order[0].tolist() == [2, 0, 1]  # decreasing: most relevant first
    assert order[1].tolist() == [1, 0, 2]  # increasing: least relevant first


def test_deletion_order_puts_padding_last_even_for_extreme_relevance():
    relevance = np.array([[1.0, 3.0, -50.0, 99.0]])  # positions 2, 3 are padding
    order = deletion_order(relevance, np.array([2]), np.array([True]))
    assert order[0, :2].tolist() == [1, 0]
    order = deletion_order(relevance, np.array([2]), np.array([False]))
    assert order[0, :2].tolist() == [0, 1]
    shuffled = random_order(np.array([2, 4]), 4, seed=3)
    assert sorted(shuffled[0, :2].tolist()) == [0, 1]
    assert sorted(shuffled[1].tolist()) == [0, 1, 2, 3]


def test_delete_words_zero_and_drop():
    embedded = torch.tensor([[1.0, 2.0, 3.0, 0.0]])[..., None]  # (1, 4, 1), length 3
    lengths = torch.tensor([3])
    zeroed, zl = delete_words(embedded, lengths, torch.tensor([[1]]), "zero")
    assert zeroed[0, :, 0].tolist() == [1.0, 0.0, 3.0, 0.0] and zl.tolist() == [3]
    dropped, dl = delete_words(embedded, lengths, torch.tensor([[1]]), "drop")
    assert dropped[0, :, 0].tolist() == [1.0, 3.0, 0.0, 0.0] and dl.tolist() == [2]
    dropped, dl = delete_words(embedded, lengths, torch.tensor([[2, 0]]), "drop")
    assert dropped[0, :, 0].tolist() == [2.0, 0.0, 0.0, 0.0] and dl.tolist() == [1]


@pytest.mark.parametrize("mode", ["zero", "drop"])
def test_one_deletion_matches_occlusion_scores(mode):
    """The stage reads k = 1 off the occlusion scores: the same as deleting and re-scoring."""
    model = small_model()
    batch = encode_batch(model, [["the", "film", "is", "good", "."], ["not", "very", "dull"]])
    embedded = batch.inputs(model, torch.float32)
    occluded = occluded_scores(model, batch, torch.float32, mode)
    lengths = batch.lengths.numpy()
    order = random_order(lengths, embedded.shape[1], seed=1)
    [predicted] = predictions_after(model, embedded, batch.lengths, [order], 1, mode)
    expected = occluded[torch.arange(2), torch.as_tensor(order[:, 0])].argmax(1)
    assert predicted.tolist() == expected.tolist()


def test_table3_normalization_random_zero_occlusion_hundred():
    curves = {
        "random": [100.0, 80.0, 70.0, 60.0],
        "occlusion_p": [100.0, 40.0, 30.0, 20.0],
        "lrp": [100.0, 42.0, 32.0, 22.0],
        "worse": [100.0, 90.0, 80.0, 70.0],
    }
    raw = {k: condensed(v, (1, 2, 3)) for k, v in curves.items()}
    assert raw["random"] == pytest.approx(70.0) and raw["occlusion_p"] == pytest.approx(30.0)
    scores = normalized(raw)
    assert scores["random"] == pytest.approx(0.0)
    assert scores["occlusion_p"] == pytest.approx(100.0)
    assert scores["lrp"] == pytest.approx(95.0)
    assert scores["worse"] == pytest.approx(-25.0)
    # Increasing order: accuracy rises, the same mapping still gives random 0, reference 100.
    up = normalized({"random": 10.0, "occlusion_p": 30.0, "m": 20.0})
    assert (up["random"], up["occlusion_p"], up["m"]) == pytest.approx((0.0, 100.0, 50.0))


# ------------------------------------------------------------------ positions
def test_position_binning_splits_words_across_bins():
    weights = position_weights(3, 10)
    assert weights[0].tolist() == pytest.approx([0.3, 0.3, 0.3, 0.1, 0, 0, 0, 0, 0, 0])
    assert weights[1].tolist() == pytest.approx([0, 0, 0, 0.2, 0.3, 0.3, 0.2, 0, 0, 0])
    assert weights.sum(1) == pytest.approx(np.ones(3))
    assert position_weights(20, 10).sum(0) == pytest.approx(np.full(10, 2.0))


def test_positional_distribution_uses_magnitudes_and_sums_to_one():
    one = positional_distribution([np.array([0.0, 0.0, -5.0])], 10)
    assert one.sum() == pytest.approx(1.0)
    assert one[:6].sum() == pytest.approx(0.0)  # all mass on the last third
    assert one[7:].sum() == pytest.approx(0.9) and one[6] == pytest.approx(0.1)
    sentences = [np.array([100.0, 0.0]), np.array([0.0, 1.0])]
    # The paper: sum over sentences, then normalise: a large-relevance sentence weighs more.
    summed = positional_distribution(sentences, 2)
    assert summed.tolist() == pytest.approx([100 / 101, 1 / 101])
    # Our variant: each sentence scaled to 1 first, so each counts equally.
    mixed = positional_distribution(sentences, 2, normalise="sentence")
    assert mixed.tolist() == pytest.approx([0.5, 0.5])
    for normalise in ("total", "sentence"):
        assert positional_distribution([np.zeros(4)], 10, normalise).sum() == 0.0  # left out
    with pytest.raises(ValueError, match="normalise"):
        positional_distribution(sentences, 2, normalise="mean")


def test_encoder_gradients_add_up_to_the_whole_gradient():
    model = small_model(1)
    batch = encode_batch(model, [["the", "film", "is", "good"], ["never", "dull", "."]])
    targets = torch.tensor([4, 0])
    g_forward, g_backward = encoder_gradients(model, batch, targets, torch.float32)
    whole = textlrp.explain(
        model,
        [["the", "film", "is", "good"], ["never", "dull", "."]],
        method="gradient",
        target=[4, 0],
    )
    squared = ((g_forward + g_backward) ** 2).sum(-1)
    for i, e in enumerate(whole):
        assert squared[i, : len(e.tokens)] == pytest.approx(e.relevance, rel=1e-4, abs=1e-8)
    # The forward encoder's final state never sees the last word's successors: for a one-word
    # change at the first position both parts are generally non-zero.
    assert g_forward.abs().sum() > 0 and g_backward.abs().sum() > 0


# ------------------------------------------------------------------ top words
def test_aggregate_words_means_over_occurrences():
    tokens = [["good", "film"], ["bad", "film"], ["good"]]
    relevance = [[2.0, 0.0], [-1.0, 1.0], [4.0]]
    rows = aggregate_words(tokens, relevance)
    assert rows == [("good", 3.0, 2), ("film", 0.5, 2), ("bad", -1.0, 1)]
    most, least = extremes(rows, top=1, min_count=2)
    assert most == [("good", 3.0, 2)] and least == [("film", 0.5, 2)]
    most, least = extremes(rows, top=2, min_count=1)
    assert [w for w, _, _ in least] == ["bad", "film"]


# ------------------------------------------------------------------ representations
def test_whitened_pca_recovers_axes_and_whitens():
    rng = np.random.default_rng(0)
    data = rng.normal(size=(4000, 3)) * np.array([3.0, 1.0, 0.1])
    rotation, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    coords, ratio = whitened_pca(data @ rotation.T + 5.0)
    assert coords.shape == (4000, 2)
    assert np.cov(coords.T) == pytest.approx(np.eye(2), abs=1e-9)
    assert ratio == pytest.approx([9 / 10.01, 1 / 10.01], abs=0.02)
    same, three = whitened_pca(data, 2, explained=3)  # PC3's share too, same 2-D projection
    assert same.shape == (4000, 2) and three.shape == (3,)
    assert three == pytest.approx([9 / 10.01, 1 / 10.01, 0.01 / 10.01], abs=0.02)
    assert three.sum() == pytest.approx(1.0)
    # PC1 lies along the rotated first axis.
    projection = (data @ rotation.T)[:, :] @ rotation[:, 0]
    assert abs(np.corrcoef(coords[:, 0], projection)[0, 1]) > 0.99


def test_knn_accuracy_on_separated_and_mixed_points():
    rng = np.random.default_rng(1)
    points = np.vstack([rng.normal(-5, 1, (40, 2)), rng.normal(5, 1, (40, 2))])
    labels = np.array([0] * 40 + [1] * 40)
    assert knn_accuracy(points, labels, k=5) == 1.0
    assert knn_accuracy(points, rng.permutation(labels), k=5) < 0.8


def test_occlusion_relevance_matches_the_registered_methods():
    model = small_model(2)
    texts = [["the", "film", "is", "good", "."], ["not", "very", "dull"]]
    batch = encode_batch(model, texts)
    with torch.no_grad():
        full = model.forward_embedded(batch.inputs(model, torch.float32), batch.lengths)
    occluded = occluded_scores(model, batch, torch.float32, "zero").numpy()
    targets = np.array([3, 1])
    for method, probabilities in (("occlusion_f", False), ("occlusion_p", True)):
        ours = occlusion_relevance(
            full.numpy(), occluded, targets, batch.lengths.numpy(), probabilities
        )
        theirs = textlrp.explain(model, texts, method=method, target=[3, 1])
        for i, e in enumerate(theirs):
            assert ours[i, : len(e.tokens)] == pytest.approx(e.relevance.numpy(), abs=1e-5)


# ------------------------------------------------------------------ composition
def test_word_lists_have_the_papers_sizes_and_single_tokens():
    assert len(NEGATIONS) == 39 and len(AMPLIFIERS) == 69
    assert not set(NEGATIONS) & set(AMPLIFIERS)
    assert all(w == w.lower() and " " not in w for w in NEGATIONS + AMPLIFIERS)


def test_combinations_all_or_sampled_and_grouping():
    every = combinations([2, 3], limit=100, seed=0)
    assert sorted(map(tuple, every.tolist())) == [(i, j) for i in range(2) for j in range(3)]
    sample = combinations([10, 10, 10], limit=50, seed=0)
    assert len({tuple(r) for r in sample.tolist()}) == 50 and sample.max() < 10
    assert combinations([0, 5], limit=10, seed=0).shape == (0, 2)
    groups = group_by_class(
        np.array([[1.0, -1.0], [3.0, 1.0], [0.0, 2.0]]),
        np.full((3, 5), 0.2),
        np.array([0, 0, 4]),
        5,
    )
    assert groups["0"]["count"] == 2 and groups["0"]["mean_relevance"] == [2.0, 0.0]
    assert groups["0"]["std_relevance"] == [1.0, 1.0] and groups["4"]["std_relevance"] == [0, 0]
    assert groups["0"]["share"] == pytest.approx(2 / 3)
    assert set(groups) == {"0", "4"}
    assert polarity_classes(SST_CLASS_NAMES) == {
        "positive": [3, 4],
        "negative": [0, 1],
        "neutral": [2],
    }


def test_top_polar_words_ranks_by_polarity_mass_among_predicted_words():
    words = ["a", "b", "c", "d"]
    probabilities = np.array(
        [
            [0.0, 0.1, 0.1, 0.3, 0.5],  # positive, mass 0.8
            [0.0, 0.0, 0.05, 0.05, 0.9],  # positive, mass 0.95
            [0.5, 0.1, 0.0, 0.2, 0.2],  # negative (argmax 0) despite positive mass 0.4
            [0.1, 0.1, 0.2, 0.6, 0.0],  # positive, mass 0.6
        ]
    )
    assert top_polar_words(words, probabilities, [3, 4], 2) == ["b", "a"]
    assert top_polar_words(words, probabilities, [3, 4], 10) == ["b", "a", "d"]
    assert top_polar_words(words, probabilities, [0, 1], 10) == ["c"]


def test_modifier_shares_count_bigrams_in_the_wanted_classes():
    model = small_model(4)
    modifiers, targets = ["not", "very"], ["good", "dull", "film"]
    shares = modifier_shares(model, modifiers, targets, [0, 1])
    with torch.no_grad():
        for m, share in zip(modifiers, shares, strict=True):
            batch = encode_batch(model, [[m, w] for w in targets])
            scores = model.forward_embedded(batch.inputs(model, torch.float32), batch.lengths)
            assert share == pytest.approx(float(np.isin(scores.argmax(1).numpy(), [0, 1]).mean()))


# ------------------------------------------------------------------ cache, document
def test_cache_resumes_and_keys_on_settings(tmp_path):
    calls = []

    def compute():
        calls.append(1)
        return {"x": 1}

    cache = StageCache(tmp_path, {"model": "abc"})
    assert cache.json("s", {"a": 1}, compute) == ({"x": 1}, False)
    assert cache.json("s", {"a": 1}, compute) == ({"x": 1}, True)
    cache.json("s", {"a": 2}, compute)
    assert len(calls) == 2
    other = StageCache(tmp_path, {"model": "changed"})
    other.json("s", {"a": 1}, compute)
    assert len(calls) == 3  # a different model never reuses an entry
    cache.path("s", {"a": 1}, "json").write_text("{broken", encoding="utf-8")
    cache.json("s", {"a": 1}, compute)
    assert len(calls) == 4  # a damaged entry is recomputed
    arrays = cache.arrays("r", {}, lambda: {"m": np.arange(3)})
    again = cache.arrays("r", {}, lambda: {"m": np.zeros(3)})
    assert again["m"].tolist() == arrays["m"].tolist() == [0, 1, 2]
    assert (tmp_path / ".gitignore").read_text() == "*\n"


def test_document_renders_markdown_and_escaped_html():
    blocks = [
        Para("a **b** `c`"),
        Table(["x", "y|z"], [["1", "<2>"]]),
        Heatmaps([HeatRow("row", ["<script>", "ok"], [1.0, -0.5])], png="h.png"),
    ]
    md = to_markdown(blocks)
    assert "| x | y\\|z |" in md and "![heatmaps](h.png)" in md
    page = to_html(blocks, "t")
    assert "<b>b</b>" in page and "<code>c</code>" in page and "&lt;2&gt;" in page
    assert "&lt;script&gt;" in page and "<script>" not in page
    assert "background:#ff0000" in page and "background:#8080ff" in page


# ------------------------------------------------------------------ end to end
def _tree(label: int, words: list[str]) -> str:
    node = f"(2 {words[-1]})"
    for word in reversed(words[:-1]):
        node = f"({label} (2 {word}) {node})"
    return node


def write_treebank(folder: Path) -> Path:
    """Random sentences over WORDS: lengths 4..24, labels cycling through the 5 classes."""
    rng = random.Random(0)
    folder.mkdir(parents=True)
    for split, count in (("train", 6), ("dev", 5), ("test", 30)):
        lines = []
        for i in range(count):
            length = 4 + (i * 5) % 21
            lines.append(_tree(i % 5, [rng.choice(WORDS) for _ in range(length)]))
        (folder / f"{split}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def test_end_to_end_report_and_resume(tmp_path, capsys):
    data = write_treebank(tmp_path / "sst")
    model_path = tmp_path / "model.pt"
    small_model(3).save(model_path)
    out = tmp_path / "out"
    argv = [
        "--data-dir",
        str(data),
        "--out",
        str(out),
        "--model",
        str(model_path),
        "--seeds",
        "2",
        "--ig-steps",
        "2",
        "--max-ngrams",
        "40",
        "--quiet",
        "--no-download",
    ]
    assert textlrp_main(["reproduce", "sst", *argv]) == 0
    report = (out / "report.md").read_text(encoding="utf-8")
    for title in (
        "Model accuracy",
        "2017 Fig. 1",
        "very positive",
        "Word deletion",
        "sentence position",
        "Semantic composition",
        "Sentence representations",
    ):
        assert title in report
    assert "| decreasing: paper (zero) | 0 | 35 | 66 |" in report
    for png in (
        "deletion_drop.png",
        "deletion_zero.png",
        "position.png",
        "representations.png",
        "heatmaps_2017_lrp.png",
        "heatmaps_2019_table5.png",
    ):
        assert (out / png).stat().st_size > 1000
    assert '<span class="tok"' in (out / "report.html").read_text(encoding="utf-8")
    cached = sorted(p.name for p in (out / "cache").glob("deletion-*.json"))
    result = json.loads((out / "cache" / cached[0]).read_text())
    for mode in ("drop", "zero"):
        curve = result["modes"][mode]["lrp"]["correct"]
        assert len(curve) == 6 and curve[0] == 100.0  # starts at 100% on correct sentences
    capsys.readouterr()
    assert (
        textlrp_main(["reproduce", "sst", *argv]) == 0
    )  # the rerun loads every stage from the cache
    err = capsys.readouterr().err
    assert err.count("from cache") == 7


def test_cli_rejects_bad_settings_with_a_one_line_error(tmp_path, capsys):
    assert (
        textlrp_main(["reproduce", "sst", "--out", str(tmp_path / "o"), "--seeds", "0", "--quiet"])
        == 2
    )
    assert "--seeds" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_fig3_claims_say_when_sa_is_not_worse_than_random():
    from textlrp.experiments.sst.sections.deletion import _fig3_claims

    def scores(sa_wrong: float) -> dict[str, dict[str, float]]:
        return {
            "decreasing": {"lrp": 30.0, "gradient": 80.0, "random": 85.0},
            "increasing": {"lrp": 35.0, "gradient": sa_wrong, "random": 9.0},
        }

    assert "does **not** reproduce: here SA does better than random" in _fig3_claims(scores(11))
    text = _fig3_claims(scores(5))
    assert "worse than random on the initially wrong sentences reproduces" in text
    assert "does **not**" not in text
