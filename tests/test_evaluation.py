"""Faithfulness metrics (textlrp.evaluation): definitions on a model whose occlusion effects are
known exactly, batching against one-at-a-time scoring, baselines, randomisation, the CLI."""

from __future__ import annotations

import copy
import json
import math

import numpy as np
import pytest
import torch
from conftest import SHARED_DATA, random_model, random_sentences
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from textlrp.batching import EncodedBatch, encode_batch
from textlrp.cli.main import main
from textlrp.errors import InputError
from textlrp.evaluation import (
    evaluate_faithfulness,
    prepare,
    random_relevance,
    randomized_copy,
    remove_tokens,
    score_relevance,
    target_probabilities,
)
from textlrp.evaluation.metrics import (
    average_ranks,
    curve_auc,
    relevance_ranks,
    spearman_rows,
    top_counts,
)
from textlrp.evaluation.report import render_terminal, write_report
from textlrp.models import Vocabulary


# ------------------------------------------------------------------ a hand-computable model
class BagOfWords(nn.Module):
    """Score of class 1 = Σ_t w(word_t), class 0 scores 0: p_1 = sigmoid(Σ w).

    The embedding is one number per word, so zeroing or dropping a token removes exactly its
    weight: every occlusion effect is known in closed form.
    """

    def __init__(self, weights: dict[str, float]) -> None:
        super().__init__()
        self.vocab = Vocabulary(list(weights))
        self.class_names = ["neg", "pos"]
        self.embedding = nn.Embedding(len(self.vocab), 1).double()
        with torch.no_grad():
            self.embedding.weight.zero_()
            for word, w in weights.items():
                self.embedding.weight[self.vocab.index(word), 0] = w

    def forward_embedded(self, embedded: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        total = embedded[..., 0].sum(1)
        return torch.stack([torch.zeros_like(total), total], dim=1)


WEIGHTS = {"a": 2.0, "b": -1.0, "c": 0.5, "d": 1.5, "e": -0.25, "f": 0.1}


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def bow_batch(model: BagOfWords, sentences: list[list[str]]) -> EncodedBatch:
    return encode_batch(model, sentences)


def word_weights(sentence: list[str]) -> np.ndarray:
    return np.array([WEIGHTS[w] for w in sentence])


def p_target(weights: np.ndarray, target: int) -> float:
    p1 = sigmoid(float(weights.sum()))
    return p1 if target == 1 else 1.0 - p1


# ------------------------------------------------------------------ removal and batching
def test_remove_tokens_zero_and_drop_by_hand():
    x = torch.arange(1.0, 7.0).reshape(1, 3, 2).repeat(2, 1, 1)  # rows: [1,2],[3,4],[5,6]
    lengths = torch.tensor([3, 2])
    removed = torch.tensor([[False, True, False], [True, True, False]])
    zeroed, zl = remove_tokens(x, lengths, removed, "zero")
    assert zeroed[0].tolist() == [[1, 2], [0, 0], [5, 6]]
    assert zeroed[1].tolist() == [[0, 0], [0, 0], [0, 0]]  # third step is padding
    assert zl.tolist() == [3, 2]
    dropped, dl = remove_tokens(x, lengths, removed, "drop")
    assert dropped[0].tolist() == [[1, 2], [5, 6], [0, 0]]
    assert dropped[1].tolist() == [[0, 0], [0, 0], [0, 0]]  # empty: one zero step
    assert dl.tolist() == [2, 1]
    with pytest.raises(InputError, match="removal mode"):
        remove_tokens(x, lengths, removed, "blank")


@pytest.mark.parametrize("mode", ["zero", "drop"])
def test_batched_perturbations_equal_one_at_a_time(mode):
    model = random_model(seed=3)
    sentences = random_sentences(6, seed=4)
    batch = encode_batch(model, sentences)
    embedded = batch.inputs(model, torch.float64)
    generator = torch.Generator().manual_seed(5)
    rows = torch.randint(0, 6, (40,), generator=generator)
    removed = torch.rand(40, embedded.shape[1], generator=generator) < 0.4
    targets = torch.tensor([0, 1, 2, 0, 1, 2])
    batched = target_probabilities(
        model, embedded, batch.lengths, targets, rows, removed, mode, chunk_copies=7
    )
    for j in range(40):
        b = int(rows[j])
        n = int(batch.lengths[b])
        keep = [t for t in range(n) if not removed[j, t]]
        if mode == "zero":
            copy_ = embedded[b : b + 1, :n].clone()
            copy_[0, [t for t in range(n) if removed[j, t]]] = 0.0
            length = n
        else:
            copy_ = embedded[b : b + 1, keep] if keep else torch.zeros(1, 1, 5).double()
            length = max(len(keep), 1)
        with torch.no_grad():
            scores = model.forward_embedded(copy_, torch.tensor([length]))
        expected = torch.softmax(scores, -1)[0, targets[b]]
        assert float(batched[j]) == pytest.approx(float(expected), abs=1e-12)


# ------------------------------------------------------------------ metric definitions
@pytest.mark.parametrize("mode", ["zero", "drop"])  # the same for a bag of words
def test_comprehensiveness_sufficiency_curves_on_a_known_model(mode):
    model = BagOfWords(WEIGHTS)
    sentences = [list("abcdef"), list("dbe"), ["a"]]
    batch = bow_batch(model, sentences)
    targets = torch.tensor([1, 0, 1])
    prepared = prepare(model, batch, targets, dtype=torch.float64, mode=mode)
    # relevance that ranks the tokens in a chosen order (ties resolved by position)
    relevance = torch.zeros(batch.token_ids.shape, dtype=torch.float64)
    relevance[0, :6] = torch.tensor([3.0, 1.0, 0.0, 2.0, 1.0, -5.0])  # order a,d,b,e,c,f
    relevance[1, :3] = torch.tensor([0.0, 1.0, 0.0])  # order b,d,e
    relevance[2, :1] = 7.0
    k_max = 40
    scores = score_relevance(model, prepared, relevance, k_max=k_max)
    orders = [[0, 3, 1, 4, 2, 5], [1, 0, 2], [0]]
    for i, (sentence, order) in enumerate(zip(sentences, orders, strict=True)):
        w = word_weights(sentence)
        c = int(targets[i])
        n = len(sentence)
        full = p_target(w, c)
        deletion = [p_target(np.delete(w, order[:m]), c) for m in range(n + 1)]
        insertion = [p_target(w[order[:m]], c) for m in range(n + 1)]
        for k in range(1, k_max + 1):
            m = min(max(math.ceil(k * n / 100), 1), n)
            assert scores.comprehensiveness[i, k - 1] == pytest.approx(full - deletion[m])
            assert scores.sufficiency[i, k - 1] == pytest.approx(full - insertion[m])
        trapezoid = sum((deletion[m] + deletion[m + 1]) / 2 for m in range(n)) / n
        assert scores.deletion_auc[i] == pytest.approx(trapezoid)
        trapezoid = sum((insertion[m] + insertion[m + 1]) / 2 for m in range(n)) / n
        assert scores.insertion_auc[i] == pytest.approx(trapezoid)
        loo = [full - p_target(np.delete(w, t), c) for t in range(n)]
        np.testing.assert_allclose(prepared.loo[i, :n], loo, atol=1e-12)
    per = scores.per_sentence()
    np.testing.assert_allclose(per["comprehensiveness"], scores.comprehensiveness.mean(1))


def test_true_contributions_maximise_top1_comprehensiveness_and_match_occlusion():
    """Relevance = each word's signed contribution to the target: its top-1 deletion is the
    largest possible single-token drop, and its ranking equals leave-one-out's (ρ = 1)."""
    model = BagOfWords(WEIGHTS)
    sentence = list("abcdef")
    batch = bow_batch(model, [sentence])
    targets = torch.tensor([1])
    prepared = prepare(model, batch, targets, dtype=torch.float64)
    w = word_weights(sentence)
    truth = score_relevance(model, prepared, torch.from_numpy(w[None, :]), k_max=10)
    full = p_target(w, 1)
    drops = [full - p_target(np.delete(w, t), 1) for t in range(6)]
    assert truth.comprehensiveness[0, 0] == pytest.approx(max(drops))
    assert truth.spearman_loo[0] == pytest.approx(1.0)
    reverse = score_relevance(model, prepared, torch.from_numpy(-w[None, :]), k_max=10)
    assert reverse.comprehensiveness[0, 0] == pytest.approx(min(drops))
    assert reverse.spearman_loo[0] == pytest.approx(-1.0)
    assert reverse.deletion_auc[0] > truth.deletion_auc[0]
    assert reverse.insertion_auc[0] < truth.insertion_auc[0]


def test_top_counts_are_ceiling_percentages():
    counts = top_counts(np.array([10, 1, 19]), 50)
    assert counts[0, 9] == 1 and counts[0, 10] == 2  # 10% of 10 = 1, 11% of 10 → 2
    assert (counts[1] == 1).all()
    assert counts[2, 0] == 1 and counts[2, 49] == 10
    with pytest.raises(InputError, match="1..100"):
        top_counts(np.array([3]), 0)


def test_ranks_put_padding_last_and_break_ties_by_position():
    ranks = relevance_ranks(torch.tensor([[1.0, 3.0, 1.0, 9.0]]), torch.tensor([3]))
    assert ranks.tolist() == [[1, 0, 2, 3]]
    with pytest.raises(InputError, match="NaN"):
        relevance_ranks(torch.tensor([[float("nan"), 1.0]]), torch.tensor([2]))


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), k_max=st.integers(1, 100))
def test_aopc_and_auc_bounds(seed, k_max):
    model = random_model(seed=seed % 7, scale=2.0)
    sentences = random_sentences(4, seed=seed)
    batch = encode_batch(model, sentences)
    targets = torch.tensor([seed % 3, 0, 1, 2])
    prepared = prepare(model, batch, targets, dtype=torch.float64)
    relevance = torch.randn(batch.token_ids.shape, generator=torch.Generator().manual_seed(seed))
    scores = score_relevance(model, prepared, relevance, k_max=k_max)
    full = prepared.full.numpy()
    per = scores.per_sentence()
    for metric in ("comprehensiveness", "sufficiency"):
        assert (per[metric] <= full + 1e-12).all() and (per[metric] >= full - 1 - 1e-12).all()
    for metric in ("deletion_auc", "insertion_auc"):
        assert ((per[metric] >= 0) & (per[metric] <= 1)).all()
    valid = ~np.isnan(per["spearman_loo"])
    assert (np.abs(per["spearman_loo"][valid]) <= 1 + 1e-12).all()


def test_mean_rank_shares_ties_and_random_cannot_win():
    from textlrp.evaluation.faithfulness import rank_methods

    def row(value):
        return {"metrics": {"comprehensiveness": {"mean": value}, "deletion_auc": {"mean": value}}}

    rows = {"a": row(0.5), "b": row(0.5), "c": row(0.2), "random": row(0.9)}
    ranking = rank_methods(rows, ["comprehensiveness"])  # higher is better
    assert ranking["mean_rank"] == {"random": 1.0, "a": 2.5, "b": 2.5, "c": 4.0}
    assert ranking["best"] == {"comprehensiveness": "a"} and ranking["overall"] == "a"
    ranking = rank_methods(rows, ["deletion_auc"])  # lower is better
    assert ranking["mean_rank"] == {"c": 1.0, "a": 2.5, "b": 2.5, "random": 4.0}
    assert ranking["overall"] == "c"


def test_auc_of_a_constant_curve_is_the_constant():
    curve = np.array([[0.3, 0.3, 0.3, np.nan], [0.5, 0.5, 0.5, 0.5]])
    np.testing.assert_allclose(curve_auc(curve, np.array([2, 3])), [0.3, 0.5])


def test_spearman_against_scipy():
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(0)
    a = np.round(rng.normal(size=(30, 8)), 1)  # rounding makes ties
    b = np.round(rng.normal(size=(30, 8)), 1)
    lengths = rng.integers(1, 9, size=30)
    rho = spearman_rows(a, b, lengths)
    for i, n in enumerate(lengths):
        np.testing.assert_allclose(average_ranks(a[i, :n]), stats.rankdata(a[i, :n]))
        if n < 2 or np.ptp(a[i, :n]) == 0 or np.ptp(b[i, :n]) == 0:
            assert np.isnan(rho[i])
        else:
            assert rho[i] == pytest.approx(stats.spearmanr(a[i, :n], b[i, :n])[0])


# ------------------------------------------------------------------ random baseline
def test_random_relevance_is_a_uniform_ranking():
    mask = torch.arange(5)[None, :] < torch.tensor([5, 3])[:, None]
    first = random_relevance(mask, 0)
    assert torch.equal(first, random_relevance(mask, 0))
    assert not torch.equal(first, random_relevance(mask, 1))
    assert (first[~mask] == 0).all() and (first[mask] > 0).all()
    # every position of a 3-token sentence is ranked first about equally often
    tops = np.bincount([int(random_relevance(mask, s)[1, :3].argmax()) for s in range(900)])
    assert tops.min() > 240 and tops.max() < 360  # 300 expected; ±60 is over 4 std


def test_random_baseline_is_the_mean_of_its_seeds_and_near_the_expected_drop():
    model = BagOfWords(WEIGHTS)
    sentences = [list("abcdef"), list("dbea"), list("fcab")]
    result = evaluate_faithfulness(
        model, sentences, [], seeds=40, k_max=10, dtype="float64", progress=False
    )
    row = result.summary["methods"]["random"]["metrics"]["comprehensiveness"]
    seed_means = [
        result.sentences[f"random/{s}"].per_sentence()["comprehensiveness"].mean()
        for s in range(40)
    ]
    assert row["mean"] == pytest.approx(np.mean(seed_means))
    assert row["seed_std"] == pytest.approx(np.std(seed_means, ddof=1))
    # k ≤ 10% removes one token: a random token's expected drop is the mean single drop
    expected = []
    for sentence in sentences:
        w = word_weights(sentence)
        c = int(w.sum() > 0)
        full = p_target(w, c)
        expected.append(np.mean([full - p_target(np.delete(w, t), c) for t in range(len(w))]))
    spread = max(row["seed_std"], 1e-9)
    assert abs(row["mean"] - np.mean(expected)) < 4 * spread / math.sqrt(40) + 1e-9


# ------------------------------------------------------------------ model randomisation
def test_randomized_copy_changes_the_model_not_the_callers():
    model = random_model(seed=8)
    before = copy.deepcopy(model.state_dict())
    randomized = randomized_copy(model, seed=1)
    for name, value in model.state_dict().items():
        assert torch.equal(value, before[name])
    changed = randomized.state_dict()
    assert torch.equal(changed["embedding.weight"], before["embedding.weight"])
    for name in before:
        if not name.startswith("embedding"):
            assert not torch.equal(changed[name], before[name]), name
    again = randomized_copy(model, seed=1)
    for name, value in again.state_dict().items():
        assert torch.equal(value, changed[name])
    batch = encode_batch(model, random_sentences(3, seed=2))
    with torch.no_grad():
        a = model(batch.token_ids, batch.lengths)
        b = randomized(batch.token_ids, batch.lengths)
    assert not torch.allclose(a, b)


# ------------------------------------------------------------------ the whole evaluation
def test_evaluate_every_method_on_a_small_model():
    model = random_model(seed=12, scale=1.5)
    sentences = random_sentences(8, seed=13) + [["zzz", "qqq"]]  # the last has no known word
    model_before = copy.deepcopy(model.state_dict())
    model.train()  # the caller's mode is left alone (metrics run on an eval-mode copy)
    result = evaluate_faithfulness(
        model,
        sentences,
        seeds=2,
        k_max=20,
        randomization=True,
        dtype="float64",
        method_options={"integrated_gradients": {"steps": 8}},
        progress=False,
    )
    summary = result.summary
    assert summary["settings"]["sentences"] == 8
    assert summary["settings"]["skipped_texts"] == [
        {"index": 8, "reason": "no word in the model's vocabulary"}
    ]
    rows = summary["methods"]
    assert set(rows) >= {"lrp", "gradient", "occlusion_p", "cd", "random"}
    # occlusion P-diff with the metrics' removal is leave-one-out itself
    assert rows["occlusion_p"]["metrics"]["spearman_loo"]["mean"] == pytest.approx(1.0)
    assert "randomization" in rows["lrp"]["metrics"]
    assert "randomization" not in rows["random"]["metrics"]
    assert summary["ranking"]["overall"] in rows and summary["ranking"]["overall"] != "random"
    for name, value in model.state_dict().items():
        assert torch.equal(value, model_before[name])
    assert model.training
    # the winner's paired margins are mean differences over the same texts
    margin = summary["ranking"]["margins"]["deletion_auc"]
    best, other = margin["best"], margin["runner_up"]["method"]
    difference = (
        result.sentences[other].deletion_auc - result.sentences[best].deletion_auc
    )  # lower is better: positive when the best is ahead
    assert margin["runner_up"]["mean"] == pytest.approx(difference.mean())
    assert margin["runner_up"]["mean"] >= 0
    text = render_terminal(summary)
    assert "occlusion_p" in text and "random (mean of 2 seeds)" in text


def test_methods_that_do_not_apply_are_skipped_by_default_only():
    model = random_model(seed=2, cell="gru")
    sentences = random_sentences(3, seed=1)
    result = evaluate_faithfulness(
        model, sentences, ["gradient"], seeds=0, progress=False, dtype="float64"
    )
    assert list(result.summary["methods"]) == ["gradient"]
    result = evaluate_faithfulness(
        model,
        sentences,
        seeds=0,
        progress=False,
        method_options={"integrated_gradients": {"steps": 4}},
        log=lambda message: None,
    )
    assert "cd" in result.summary["settings"]["skipped_methods"]
    with pytest.raises(InputError):
        evaluate_faithfulness(model, sentences, ["cd"], seeds=0, progress=False)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"methods": ["nope"]}, "unknown method 'nope'"),
        ({"k_max": 0}, "k_max"),
        ({"k_max": 101}, "k_max"),
        ({"seeds": -1}, "seeds"),
        ({"mode": "blank"}, "removal mode"),
        ({"target": "label"}, "needs a label"),
        ({"methods": ["lrp"], "method_options": {"lrp": {"steps": 3}}}, "does not take"),
        ({"methods": [], "seeds": 0}, "nothing to evaluate"),
    ],
)
def test_bad_arguments_are_clear_errors(kwargs, message):
    model = random_model(seed=1)
    with pytest.raises(InputError, match=message):
        evaluate_faithfulness(model, random_sentences(2, seed=1), progress=False, **kwargs)


def test_no_usable_text_is_an_error():
    with pytest.raises(InputError, match="none of the 2 texts"):
        evaluate_faithfulness(random_model(), ["", "zzz"], ["gradient"], progress=False)
    with pytest.raises(InputError, match="no texts"):
        evaluate_faithfulness(random_model(), [], ["gradient"], progress=False)


# ------------------------------------------------------------------ command line
@pytest.fixture
def model_file(tmp_path):
    path = tmp_path / "model.pt"
    random_model(seed=31).save(path)
    return path


def test_cli_evaluate_writes_table_report_json_and_plots(model_file, tmp_path, capsys):
    texts = tmp_path / "texts.txt"
    texts.write_text("\n".join(" ".join(s) for s in random_sentences(5, seed=3)) + "\n\n")
    out = tmp_path / "report"
    code = main(
        [
            "evaluate",
            str(texts),
            "--model",
            str(model_file),
            "--methods",
            "lrp,gradient,occlusion_p",
            "--k-max",
            "30",
            "--seeds",
            "2",
            "--randomization",
            "--out",
            str(out),
            "--no-progress",
        ]
    )
    printed = capsys.readouterr().out
    assert code == 0
    assert "lrp" in printed and "Best per metric" in printed
    summary = json.loads((out / "faithfulness.json").read_text())
    assert summary["settings"]["sentences"] == 5 and summary["settings"]["k_max"] == 30
    assert list(summary["methods"]) == ["lrp", "gradient", "occlusion_p", "random"]
    report = (out / "report.md").read_text()
    assert "| lrp |" in report
    for metric in summary["metrics"]:
        assert (out / f"{metric}.png").read_bytes()[:4] == b"\x89PNG"
    # a saved summary re-renders without recomputing (NaN stored as null)
    again = write_report(summary, tmp_path / "again")
    assert again["markdown"].read_text() == report


def test_cli_evaluate_reads_csv_with_labels(model_file, tmp_path, capsys):
    pytest.importorskip("pyarrow")
    path = tmp_path / "texts.csv"
    path.write_text('review,gold\n"the movie was good",class1\n"boring , bad",0\n')
    code = main(
        [
            "evaluate", str(path), "--model", str(model_file), "--text-column", "review",
            "--label-column", "gold", "--target", "label", "--methods", "gradient",
            "--seeds", "1", "--no-progress", "--json", str(tmp_path / "s.json"),
        ]
    )  # fmt: skip
    assert code == 0, capsys.readouterr().err
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["settings"]["sentences"] == 2 and summary["settings"]["target"] == "label"
    code = main(["evaluate", str(path), "--model", str(model_file), "--text-column", "body"])
    assert code == 2
    assert "no column 'body'" in capsys.readouterr().err


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--methods", "lrp,nope"], "unknown method 'nope'"),
        (["--k-max", "0"], "k_max must be a whole percentage"),
        (["--k-max", "150"], "k_max must be a whole percentage"),
        (["--limit", "0"], "--limit must be at least 1"),
        (["--option", "lrp"], "METHOD.NAME=VALUE"),
    ],
)
def test_cli_evaluate_bad_input(model_file, tmp_path, capsys, extra, message):
    texts = tmp_path / "texts.txt"
    texts.write_text("the movie was good\n")
    code = main(["evaluate", str(texts), "--model", str(model_file), "--no-progress", *extra])
    assert code == 2
    assert message in capsys.readouterr().err


def test_cli_evaluate_empty_and_missing_files(model_file, tmp_path, capsys):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n  \n")
    assert main(["evaluate", str(empty), "--model", str(model_file)]) == 2
    assert "holds no text" in capsys.readouterr().err
    assert main(["evaluate", str(tmp_path / "nope.txt"), "--model", str(model_file)]) == 2
    assert "not found" in capsys.readouterr().err
    assert main(["evaluate", "--model", str(model_file)]) == 2
    assert "--dataset sst-test" in capsys.readouterr().err


def test_cli_evaluate_sst_test_with_the_bundled_model(tmp_path, capsys):
    if not (SHARED_DATA / "sst" / "test.txt").is_file():
        pytest.skip("SST is not in ../shared/data")
    code = main(
        [
            "evaluate", "--dataset", "sst-test", "--data-dir", str(SHARED_DATA / "sst"),
            "--limit", "6", "--methods", "lrp,gradient_x_input", "--seeds", "1",
            "--no-progress",
        ]
    )  # fmt: skip
    assert code == 0
    assert "gradient_x_input" in capsys.readouterr().out

