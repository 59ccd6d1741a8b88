"""The toy arithmetic experiment: data layout, hand-set solution, statistics, L-BFGS, report."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from textlrp.experiments.toy import kernel
from textlrp.experiments.toy import model as toy_model
from textlrp.experiments.toy.data import make_split
from textlrp.experiments.toy.evaluate import METHODS, evaluate_params
from textlrp.experiments.toy.lbfgs import (
    BatchedLBFGS,
    LBFGSConfig,
    PlateauSchedule,
    clip_gradients,
)
from textlrp.experiments.toy.report import PAPER_TABLE2, run_toy
from textlrp.experiments.toy.stats import pearson, relevance_statistics
from textlrp.experiments.toy.train import TrainConfig, train_models

NO_NATIVE = "native C kernel unavailable (no compiler, or TEXTLRP_NO_NATIVE set)"


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny tensors: one thread avoids OpenMP hand-offs, which dominate on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# ----------------------------------------------------------------------------- data


@pytest.mark.parametrize("task", ["add", "sub"])
def test_generator_layout(task):
    data = make_split(task, "train", seed=3, size=2000)
    x, lengths = data.inputs.numpy(), data.lengths.numpy()
    a, b = data.pos_a.numpy(), data.pos_b.numpy()
    rows = np.arange(len(data))
    assert set(lengths.tolist()) == set(range(4, 11))
    assert np.all((0 <= a) & (a < b) & (b < lengths))
    # both ends of the allowed range occur: a = 0 and b = length - 1
    assert (a == 0).any() and (b == lengths - 1).any() and (b == a + 1).any()
    real = np.arange(x.shape[1])[None, :] < lengths[:, None]
    operand = np.zeros_like(real)
    operand[rows, a] = True
    operand[rows, b] = True
    # dimension 1: the two operands only; dimension 2: a distractor everywhere else
    assert np.all((x[..., 0] != 0) == operand)
    assert np.all((x[..., 1] != 0) == (real & ~operand))
    assert np.all(x[~real] == 0)
    values = np.concatenate([x[operand, 0], x[real & ~operand, 1]])
    magnitude = np.abs(values)
    assert magnitude.min() >= 0.5 and magnitude.max() <= 1.0
    if task == "sub":
        assert values.min() >= 0.5
        expected = x[rows, a, 0] - x[rows, b, 0]
    else:
        assert 0.4 < (values < 0).mean() < 0.6  # both signs, about equally often
        expected = x[rows, a, 0] + x[rows, b, 0]
    np.testing.assert_array_equal(data.targets.numpy(), expected)
    np.testing.assert_array_equal(data.n_a.numpy(), x[rows, a, 0])


def test_split_sizes_lengths_and_seeding():
    val, test = make_split("add", "val", seed=1), make_split("add", "test", seed=1)
    assert len(val) == 2500 and len(test) == 2500
    assert set(val.lengths.tolist()) == {11, 12} and set(test.lengths.tolist()) == {13, 14}
    assert len(make_split("sub", "train", seed=1)) == 10000
    again = make_split("add", "val", seed=1)
    assert torch.equal(val.inputs, again.inputs) and torch.equal(val.pos_a, again.pos_a)
    other = make_split("add", "val", seed=2)
    assert not torch.equal(val.inputs[:, :11], other.inputs[:, :11])
    sub = make_split("sub", "val", seed=1)
    assert not torch.equal(val.lengths, sub.lengths)


# ------------------------------------------------------------------- hand-set model

EPS_G = 1e-3  # input weight of the cell candidate: tanh stays in its linear regime
GATE_BIAS = 30.0  # sigmoid(30) = 1 - 1e-13: input, forget and output gates always open


def handset_addition_params() -> torch.Tensor:
    """17 parameters of an LSTM that computes n_a + n_b (to ~1e-6).

    Gates i, f, o get bias 30 and no weights, so they are 1 to 1e-13. The cell candidate reads
    only dimension 1: g_t = tanh(1e-3 · x_t1) ≈ 1e-3 · x_t1, which is 1e-3 · n_a at a,
    1e-3 · n_b at b and 0 elsewhere (the distractors in dimension 2 have weight 0). The cell
    integrates: c_T = 1e-3 · (n_a + n_b), h_T = tanh(c_T) ≈ c_T, and the output weight 1000
    undoes the scale. Recurrent weights are 0, so nothing but the operands reaches the output.
    The distractors get the tiny weight 1e-12 instead of 0: with ε = 0 the ε-rule divides by
    the cell state, which would be exactly 0 before position a (0/0 = NaN).
    """
    params = torch.zeros(17, dtype=torch.float64)
    params[4] = EPS_G  # U_g, dimension 1 (gate rows i, f, g, o; two inputs each)
    params[5] = 1e-12  # U_g, dimension 2 (the distractors)
    params[12], params[13], params[15] = GATE_BIAS, GATE_BIAS, GATE_BIAS  # b_i, b_f, b_o
    params[16] = 1.0 / EPS_G
    return params


def test_handset_lstm_solves_addition_and_lrp_all_finds_the_operands():
    data = make_split("add", "test", seed=5, size=300)
    params = handset_addition_params()
    prediction = toy_model.predict(params[None], data.inputs, data.lengths)[0]
    assert (prediction - data.targets).abs().max() < 1e-5
    classifier = toy_model.to_classifier(params)
    scores = classifier.forward_embedded(data.inputs, data.lengths)[:, 0].detach()
    assert torch.allclose(scores, prediction, atol=1e-12)
    assert torch.equal(toy_model.from_classifier(classifier), params)
    stats = evaluate_params(params, data)
    lrp_all = stats["LRP-all"]
    assert lrp_all["rho_a"] > 99.999 and lrp_all["rho_b"] > 99.999
    assert lrp_all["share"] > 99.999 and lrp_all["mse"] < 1e-10
    # Methods that are exact for a linear model agree here. LRP-half hands half of each
    # product's relevance to the gate, whose pre-activation is only a bias (absorbed at δ = 0):
    # R_a + R_b keeps about a quarter of the prediction, so its MSE is large.
    for label in ("Gradient×Input", "Occlusion", "CD"):
        assert stats[label]["rho_a"] > 99.99 and stats[label]["rho_b"] > 99.99, label
    half = stats["LRP-half"]
    assert half["mse"] > 0.1 > lrp_all["mse"]


# ----------------------------------------------------------------------- statistics


def test_pearson_on_constructed_vectors():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(1000)
    noise = rng.standard_normal(1000)
    noise -= noise.mean()
    x -= x.mean()
    noise -= x * (noise @ x) / (x @ x)  # orthogonal to x: ρ(x, x + noise) is known exactly
    expected = math.sqrt((x @ x) / ((x @ x) + (noise @ noise)))
    assert pearson(x, x + noise) == pytest.approx(expected, rel=1e-12)
    assert pearson(x, -3 * x + 2) == pytest.approx(-1.0, abs=1e-12)
    assert math.isnan(pearson(x, np.ones(1000)))


def test_relevance_statistics_on_constructed_relevances():
    n_a = np.array([0.5, 0.7, -0.9, 0.6])
    n_b = np.array([1.0, -0.6, 0.8, 0.55])
    pos_a, pos_b = np.array([0, 1, 0, 2]), np.array([2, 3, 1, 3])
    relevance = np.zeros((4, 5))
    rows = np.arange(4)
    relevance[rows, pos_a] = 2 * n_a + 1  # perfectly correlated with n_a
    relevance[rows, pos_b] = -n_b  # perfectly anti-correlated with n_b
    relevance[0, 4] = 1.0  # distractor relevance on row 0 only
    relevance[3, 0] = -2.0  # and on row 3
    prediction = np.array([0.0, 1.0, 2.0, 3.0])
    stats = relevance_statistics(relevance, pos_a, pos_b, n_a, n_b, prediction)
    assert stats["rho_a"] == pytest.approx(100.0)
    assert stats["rho_b"] == pytest.approx(-100.0)
    operand = np.abs(2 * n_a + 1) + np.abs(n_b)
    shares = operand / (operand + np.array([1.0, 0.0, 0.0, 2.0]))
    assert stats["share"] == pytest.approx(100 * shares.mean())
    mse = np.mean((2 * n_a + 1 - n_b - prediction) ** 2)
    assert stats["mse"] == pytest.approx(mse)
    # a row without any relevance has no share and is left out of the mean
    relevance[1] = 0.0
    stats = relevance_statistics(relevance, pos_a, pos_b, n_a, n_b, prediction)
    assert stats["share"] == pytest.approx(100 * shares[[0, 2, 3]].mean())


# --------------------------------------------------- batched model and optimizer


def _data(size=300, task="sub"):
    return make_split(task, "train", seed=0, size=size)


def _random_params(count, seed=3, biases=True):
    params = toy_model.init_params(count, torch.Generator().manual_seed(seed), torch.float64)
    if biases:
        params[:, 12:16] = torch.linspace(-0.5, 0.5, 4, dtype=torch.float64)
    return params


def _autograd_loss_and_grad(params, data):
    model = toy_model.to_classifier(params)
    weights = [
        model.rnn.weight_ih_l0,
        model.rnn.weight_hh_l0,
        model.rnn.bias_ih_l0,
        model.output.weight,
    ]
    loss = ((model.forward_embedded(data.inputs, data.lengths)[:, 0] - data.targets) ** 2).mean()
    grads = torch.autograd.grad(loss, weights)
    return float(loss.detach()), torch.cat([g.reshape(-1) for g in grads])


def test_batched_gradient_matches_autograd_of_nn_lstm():
    data = _data()
    params = _random_params(3)
    packed = toy_model.PackedSequences(data.inputs, data.lengths, data.targets, torch.float64)
    loss, grad = toy_model.loss_and_grad(params, packed)
    for m in range(3):
        ref_loss, ref_grad = _autograd_loss_and_grad(params[m], data)
        assert float(loss[m]) == pytest.approx(ref_loss, rel=1e-12)
        torch.testing.assert_close(grad[m], ref_grad, rtol=1e-9, atol=1e-13)


@pytest.mark.skipif(not kernel.available(), reason=NO_NATIVE)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_native_kernel_matches_eager(dtype):
    data = _data(500, "add")
    params = _random_params(5).to(dtype)
    packed = toy_model.PackedSequences(data.inputs, data.lengths, data.targets, dtype)
    grouped = kernel.GroupedSequences(data.inputs, data.lengths, data.targets, dtype)
    loss, grad = toy_model.loss_and_grad(params, packed)
    native_loss, native_grad = kernel.loss_and_grad(params, grouped, threads=2)
    tol = 1e-12 if dtype == torch.float64 else 1e-5
    torch.testing.assert_close(native_loss, loss, rtol=tol, atol=tol)
    scale = float(grad.abs().max())
    torch.testing.assert_close(native_grad, grad, rtol=tol, atol=tol * scale)


@pytest.mark.skipif(not kernel.available(), reason=NO_NATIVE)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_native_two_loop_matches_torch_two_loop(dtype):
    generator = torch.Generator().manual_seed(0)
    optimizer = BatchedLBFGS(torch.zeros(5, 17, dtype=dtype), native=False)
    size = optimizer.config.history_size
    optimizer.history = torch.tensor([0, 1, 5, size, 37])  # per-model history lengths
    for m, count in enumerate(optimizer.history.tolist()):
        optimizer.steps[m, size - count :] = torch.randn(count, 17, generator=generator)
        optimizer.dirs[m, size - count :] = torch.randn(count, 17, generator=generator)
        optimizer.rho[m, size - count :] = 0.1 * torch.rand(count, generator=generator)
    optimizer.h_diag = torch.rand(5, generator=generator).to(dtype)
    grad = torch.randn(5, 17, generator=generator).to(dtype)
    reference = optimizer._two_loop(grad)
    optimizer.native = True
    native = optimizer._two_loop(grad)
    torch.testing.assert_close(reference[0], -grad[0] * optimizer.h_diag[0])  # no history
    tol = 1e-12 if dtype == torch.float64 else 1e-5
    torch.testing.assert_close(native, reference, rtol=tol, atol=tol * float(reference.abs().max()))


def test_clip_gradients_matches_clip_grad_norm():
    grads = torch.tensor([[3.0, 4.0, 12.0], [0.1, 0.2, 0.2], [30.0, 0.0, -40.0]])
    clipped = clip_gradients(lambda p: (p.sum(1), grads.clone()), 5.0)(torch.zeros(3, 3))[1]
    for m in range(3):
        weight = torch.nn.Parameter(torch.zeros(3))
        weight.grad = grads[m].clone()
        torch.nn.utils.clip_grad_norm_([weight], 5.0)
        torch.testing.assert_close(clipped[m], weight.grad)


def test_plateau_schedule_matches_reduce_lr_on_plateau():
    rng = np.random.default_rng(1)
    losses = np.stack(
        [
            np.maximum.accumulate(rng.random(80))[::-1],  # keeps improving a little
            np.repeat(rng.random(8), 10),  # plateaus of 10 steps
            1.0 - 1e-6 * np.arange(80),  # improves less than the relative threshold
        ],
        axis=1,
    )
    schedule = PlateauSchedule(3, factor=0.95, patience=10)
    lr = torch.full((3,), 0.002, dtype=torch.float64)
    ours = []
    for row in losses:
        lr = schedule.update(torch.tensor(row), lr)
        ours.append(lr.clone())
    for m in range(3):
        optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.002)
        reference = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.95, patience=10)
        for step, row in enumerate(losses):
            reference.step(float(row[m]))
            assert float(ours[step][m]) == optimizer.param_groups[0]["lr"]
    assert float(ours[-1][2]) < 0.002 * 0.95**6  # the schedule did reduce


def _torch_trajectory(params, data, steps, lbfgs, schedule):
    """Parameters after each step of torch.optim.LBFGS on one nn.LSTM-based model."""
    model = toy_model.to_classifier(params)
    model.rnn.bias_hh_l0.requires_grad_(False)  # one bias per gate: 17 parameters
    model.embedding.requires_grad_(False)
    weights = [
        model.rnn.weight_ih_l0,
        model.rnn.weight_hh_l0,
        model.rnn.bias_ih_l0,
        model.output.weight,
    ]
    optimizer = torch.optim.LBFGS(weights, **lbfgs)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, **schedule)

    def closure():
        optimizer.zero_grad()
        prediction = model.forward_embedded(data.inputs, data.lengths)[:, 0]
        loss = ((prediction - data.targets) ** 2).mean()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(weights, 5.0)
        return loss

    trajectory, rates = [], []
    for _ in range(steps):
        loss = optimizer.step(closure)
        scheduler.step(float(loss.detach()))
        trajectory.append(toy_model.from_classifier(model))
        rates.append(optimizer.param_groups[0]["lr"])
    evaluations = optimizer.state[optimizer._params[0]]["func_evals"]
    return trajectory, rates, evaluations


@pytest.mark.parametrize(
    ("lbfgs", "schedule", "steps"),
    [
        # one iteration per step, a large rate and a strict schedule: lr reductions happen
        ({"lr": 0.5, "max_iter": 1}, {"factor": 0.5, "patience": 1, "threshold": 0.05}, 12),
        # PyTorch's default 20 iterations per step, the paper's rate and schedule
        ({"lr": 0.002, "max_iter": 20}, {"factor": 0.95, "patience": 10}, 2),
        # a coarse tolerance: models stop their steps early, each at its own iteration
        ({"lr": 0.05, "max_iter": 20, "tolerance_change": 2e-4}, {"factor": 0.9}, 3),
    ],
)
@pytest.mark.parametrize("native", [False, True] if kernel.available() else [False])
def test_batched_lbfgs_follows_torch_lbfgs(lbfgs, schedule, steps, native):
    data = _data(120)
    start = _random_params(2)
    packed = toy_model.PackedSequences(data.inputs, data.lengths, data.targets, torch.float64)
    objective = clip_gradients(lambda p: toy_model.loss_and_grad(p, packed), 5.0)
    params = start.clone()
    optimizer = BatchedLBFGS(params, LBFGSConfig(**lbfgs), native=native)  # C two-loop or not
    plateau = PlateauSchedule(2, **schedule)
    ours, rates = [], []
    for _ in range(steps):
        loss = optimizer.step(objective)
        optimizer.lr = plateau.update(loss, optimizer.lr)
        ours.append(params.clone())
        rates.append(optimizer.lr.clone())
    evaluations = []
    for m in range(2):
        reference, reference_rates, count = _torch_trajectory(
            start[m], data, steps, lbfgs, schedule
        )
        evaluations.append(count)
        assert int(optimizer.func_evals[m]) == count
        for step in range(steps):
            torch.testing.assert_close(ours[step][m], reference[step], rtol=1e-9, atol=1e-11)
            assert float(rates[step][m]) == reference_rates[step]
    if lbfgs["max_iter"] == 1:
        assert min(float(r.min()) for r in rates) < lbfgs["lr"]  # the schedule acted
    if "tolerance_change" in lbfgs:
        assert len(set(evaluations)) > 1  # the models stopped at different iterations
        assert min(evaluations) < steps * lbfgs["max_iter"]


@pytest.mark.skipif(not kernel.available(), reason=NO_NATIVE)
def test_training_native_and_eager_agree():
    data = _data(400, "add")
    config = TrainConfig(steps=3, max_iter=5, dtype="float64")
    native = train_models(data, data, 4, seed=2, config=config, progress=False)
    eager = train_models(
        data,
        data,
        4,
        seed=2,
        config=TrainConfig(steps=3, max_iter=5, dtype="float64", native=False),
        progress=False,
    )
    assert native.native and not eager.native
    torch.testing.assert_close(native.params, eager.params, rtol=1e-8, atol=1e-10)
    assert native.evaluations == eager.evaluations


def test_a_run_does_not_depend_on_its_batch():
    data = _data(200, "add")
    config = TrainConfig(steps=3, max_iter=4, dtype="float64")
    together = train_models(data, data, [11, 12, 13], config=config, progress=False)
    alone = train_models(data, data, [12], config=config, progress=False)
    torch.testing.assert_close(alone.params[0], together.params[1], rtol=0, atol=0)
    assert not torch.equal(together.params[0], together.params[1])


# --------------------------------------------------------------------------- report


def test_run_toy_writes_table_and_json(tmp_path):
    config = TrainConfig(steps=2, max_iter=3, accept_mse=float("inf"))
    result = run_toy(
        models=2,
        task="both",
        out=tmp_path,
        seed=1,
        config=config,
        data_sizes=(200, 50, 60),
        progress=False,
    )
    page = (tmp_path / "toy.md").read_text()
    stored = json.loads((tmp_path / "toy.json").read_text())
    assert stored["tasks"] == ["add", "sub"] == result["tasks"]
    for task in ("add", "sub"):
        assert stored["training"][task]["runs_to_reach_wanted"] == 2
        assert len(stored["models"][task]) == 2
        assert set(stored["models"][task][0]["methods"]) == {m.label for m in METHODS}
        assert stored["summary"][task]["LRP-all"]["rho_a"]["count"] == 2
    for spec in METHODS:
        assert f"**{spec.label}**" in page
    assert "| method | add ρ(R_a, n_a)" in page
    assert "99.995" in page and "-25.9" in page  # the paper's LRP-all add and CD sub ρ_a
    assert page.count("| *paper* |") == len(PAPER_TABLE2)


def test_run_toy_gives_up_after_max_runs(tmp_path):
    config = TrainConfig(steps=1, max_iter=2, accept_mse=0.0)  # nothing can be accepted
    result = run_toy(
        models=3,
        task="add",
        out=tmp_path,
        config=config,
        max_runs=4,
        data_sizes=(100, 30, 30),
        progress=False,
    )
    training = result["training"]["add"]
    assert training["trained"] == 4 and training["accepted_total"] == 0
    assert training["runs_to_reach_wanted"] is None
    assert "only 0 accepted" in (tmp_path / "toy.md").read_text()


def test_cli_entry_point(tmp_path, capsys):
    from textlrp.cli.main import main as textlrp_main

    def main(argv):
        return textlrp_main(["reproduce", "toy", *argv])

    argv = ["--models", "1", "--task", "sub", "--steps", "1", "--max-iter", "2"]
    argv += ["--accept-mse", "inf", "--out", str(tmp_path), "--quiet"]
    assert main(argv) == 0
    page = (tmp_path / "toy.md").read_text()
    assert "textlrp reproduce toy --models 1 --task sub" in page and "--steps 1" in page
    assert "sub ρ(R_a, n_a)" in page and "add ρ(R_a, n_a)" not in page
    assert "sub: 2 of 2 runs accepted" in capsys.readouterr().out  # first batch: 1 / (1/2)
    assert main(["--models", "0", "--out", str(tmp_path)]) == 2  # a usage error, one line
