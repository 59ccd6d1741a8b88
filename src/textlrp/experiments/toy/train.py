"""The paper's training recipe for many toy LSTMs at once (spec §7).

Init U(-1, 1), biases 0; L-BFGS with learning rate 0.002 (PyTorch semantics, no line search,
``max_iter`` = 20 iterations per step: one "step" is one call of ``LBFGS.step``, as in a
training loop that calls ``optimizer.step(closure)`` 1000 times); the learning rate ×0.95 when
the step's loss has not improved for 10 steps (``ReduceLROnPlateau``); the gradient norm
clipped at 5 inside the objective (like ``clip_grad_norm_`` in the closure); full-batch mean
squared error on the 10000 training sequences. A model is accepted when its validation MSE is
below 1e-4 (spec §7) and, with ``accept_test`` (the default), its test MSE too: the 2019 paper
requires every kept model to stay below 1e-4 on the test set as well (see
:func:`textlrp.experiments.toy.report.train_task`, which applies the test criterion).
"""

from __future__ import annotations

import dataclasses
import time

import torch
from tqdm import tqdm

from textlrp.experiments.toy import kernel
from textlrp.experiments.toy.data import ToyData
from textlrp.experiments.toy.lbfgs import BatchedLBFGS, LBFGSConfig, PlateauSchedule, clip_gradients
from textlrp.experiments.toy.model import PackedSequences, init_runs, loss_and_grad, predict


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """The recipe's settings; the defaults are the paper's."""

    steps: int = 1000
    lr: float = 0.002
    max_iter: int = 20  # L-BFGS iterations per step (PyTorch's default)
    lr_factor: float = 0.95
    patience: int = 10
    clip_norm: float = 5.0
    accept_mse: float = 1e-4
    accept_test: bool = True  # also require test MSE < accept_mse (the paper's kept models)
    dtype: str = "float32"  # training precision (PyTorch's default, as the paper)
    native: bool | None = None  # C kernel: None = when available, False = eager PyTorch

    @property
    def torch_dtype(self) -> torch.dtype:
        return {"float32": torch.float32, "float64": torch.float64}[self.dtype]


@dataclasses.dataclass
class TrainResult:
    """Trained parameters (M, 17) in float64 with their final losses and acceptance."""

    params: torch.Tensor
    train_loss: torch.Tensor  # (M,) loss at the start of the last step
    val_mse: torch.Tensor  # (M,) float64 evaluation of the final parameters
    accepted: torch.Tensor  # (M,) bool: val_mse < accept_mse
    seconds: float
    evaluations: int  # objective evaluations summed over models
    native: bool


def make_objective(train: ToyData, config: TrainConfig):
    """Loss-and-gradient function of stacked parameters, native kernel or eager PyTorch."""
    dtype = config.torch_dtype
    use_native = config.native if config.native is not None else kernel.available()
    if use_native:
        data = kernel.GroupedSequences(train.inputs, train.lengths, train.targets, dtype)
        return (lambda params: kernel.loss_and_grad(params, data)), True
    packed = PackedSequences(train.inputs, train.lengths, train.targets, dtype)
    return (lambda params: loss_and_grad(params, packed)), False


def validation_mse(params: torch.Tensor, data: ToyData) -> torch.Tensor:
    """Mean squared error (M,) of each model on ``data``, computed in float64."""
    prediction = predict(params.to(torch.float64), data.inputs, data.lengths)
    return ((prediction - data.targets[None, :]) ** 2).mean(1)


def train_models(
    train: ToyData,
    val: ToyData,
    seeds: int | list[int],
    seed: int = 0,
    config: TrainConfig = TrainConfig(),
    progress: bool = True,
    description: str = "training",
) -> TrainResult:
    """Train one model per run seed as one batched computation.

    ``seeds`` is a list of run seeds, or a count: then the runs get seeds ``seed, seed+1, …``.
    Every model's computation is independent of the others, so a run's result does not depend
    on the batch it was trained in.
    """
    started = time.perf_counter()
    if isinstance(seeds, int):
        seeds = list(range(seed, seed + seeds))
    count = len(seeds)
    params = init_runs(seeds, config.torch_dtype)
    objective, native = make_objective(train, config)
    if config.clip_norm is not None and config.clip_norm > 0:
        objective = clip_gradients(objective, config.clip_norm)
    optimizer = BatchedLBFGS(params, LBFGSConfig(lr=config.lr, max_iter=config.max_iter))
    schedule = PlateauSchedule(count, factor=config.lr_factor, patience=config.patience)
    loss = torch.full((count,), float("inf"), dtype=torch.float64)
    bar = tqdm(total=config.steps, desc=description, disable=not progress, unit="step", leave=False)
    try:
        for _ in range(config.steps):
            loss = optimizer.step(objective)
            optimizer.lr = schedule.update(loss, optimizer.lr)
            bar.update(1)
            finite = loss[torch.isfinite(loss)]
            bar.set_postfix(
                below=int((loss < config.accept_mse).sum()),
                median=f"{float(finite.median()) if finite.numel() else float('nan'):.1e}",
                refresh=False,
            )
    finally:
        bar.close()
    final = params.detach().to(torch.float64)
    val_mse = validation_mse(final, val)
    accepted = torch.isfinite(val_mse) & (val_mse < config.accept_mse)
    return TrainResult(
        params=final,
        train_loss=loss,
        val_mse=val_mse,
        accepted=accepted,
        seconds=time.perf_counter() - started,
        evaluations=int(optimizer.func_evals.sum()),
        native=native,
    )
