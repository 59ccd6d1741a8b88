"""A per-model L-BFGS over a stacked parameter tensor, with PyTorch's LBFGS semantics.

:class:`BatchedLBFGS` runs ``M`` independent L-BFGS optimisers at once, one per row of an
``(M, P)`` parameter tensor. Each row behaves exactly like ``torch.optim.LBFGS`` without line
search (``line_search_fn=None``) on that model alone:

- one :meth:`~BatchedLBFGS.step` evaluates the objective, then runs up to ``max_iter``
  iterations; each iteration updates the curvature history (pair kept if yᵀs > 1e-10), finds
  the direction d = -H g by the two-loop recursion (H₀ = yᵀs / yᵀy of the newest pair), moves
  by ``t·d`` and, except after the last iteration, evaluates again;
- the step length t is ``lr``, except on the very first iteration of a run, where it is
  ``min(1, 1/‖g‖₁)·lr``;
- a model stops its step early when gᵀd > -tolerance_change, when max|g| ≤ tolerance_grad,
  when max|t·d| ≤ tolerance_change or when its loss changed by less than tolerance_change;
- history (``history_size`` pairs), direction, step length and the previous gradient persist
  from one step to the next.

Everything per model (history length, H₀, learning rate, early stops) is a tensor over models.
Objective evaluations are made only for the models still iterating in the current step.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import torch

from textlrp.experiments.toy import kernel

Objective = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


@dataclasses.dataclass(frozen=True)
class LBFGSConfig:
    """The settings of ``torch.optim.LBFGS`` (its defaults), with the paper's learning rate."""

    lr: float = 0.002
    max_iter: int = 20
    tolerance_grad: float = 1e-7
    tolerance_change: float = 1e-9
    history_size: int = 100
    max_eval: int | None = None  # default max_iter * 5 // 4, as in PyTorch

    @property
    def eval_limit(self) -> int:
        return self.max_eval if self.max_eval is not None else self.max_iter * 5 // 4


def clip_gradients(objective: Objective, max_norm: float) -> Objective:
    """The objective with each model's gradient clipped like ``clip_grad_norm_(max_norm)``.

    PyTorch scales by ``max_norm / (‖g‖₂ + 1e-6)`` whenever that is below 1.
    """

    def clipped(params: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        loss, grad = objective(params)
        norm = torch.linalg.vector_norm(grad, dim=1)
        coefficient = torch.clamp(max_norm / (norm + 1e-6), max=1.0)
        return loss, grad * coefficient[:, None].to(grad.dtype)

    return clipped


class BatchedLBFGS:
    """L-BFGS for each row of ``params`` (updated in place); see the module docstring."""

    def __init__(
        self,
        params: torch.Tensor,
        config: LBFGSConfig = LBFGSConfig(),
        native: bool | None = None,
    ) -> None:
        self.params = params
        self.config = config
        # The two-loop recursion is ~1000 tiny tensor operations per iteration in PyTorch;
        # the C version (same arithmetic, per model) takes microseconds.
        on_cpu = params.device.type == "cpu"
        self.native = (on_cpu and kernel.available()) if native is None else native
        m, p = params.shape
        dtype = params.dtype
        self.lr = torch.full((m,), config.lr, dtype=torch.float64)
        self.n_iter = torch.zeros(m, dtype=torch.long)  # iterations so far (state["n_iter"])
        self.func_evals = torch.zeros(m, dtype=torch.long)
        self.d = torch.zeros(m, p, dtype=dtype)
        self.t = torch.zeros(m, dtype=dtype)
        self.h_diag = torch.ones(m, dtype=dtype)
        self.prev_grad = torch.zeros(m, p, dtype=dtype)
        # History, newest pair last; models with fewer pairs hold zeros in front (they act as
        # no-ops in the two-loop recursion because their ρ is 0).
        self.dirs = torch.zeros(m, config.history_size, p, dtype=dtype)  # y = Δg
        self.steps = torch.zeros(m, config.history_size, p, dtype=dtype)  # s = t·d
        self.rho = torch.zeros(m, config.history_size, dtype=dtype)
        self.history = torch.zeros(m, dtype=torch.long)

    def _push(self, which: torch.Tensor, y: torch.Tensor, s: torch.Tensor, ys: torch.Tensor):
        """Append (y, s, 1/yᵀs) to the history of the models in ``which``, dropping the oldest."""
        keep = which[:, None, None]
        self.dirs = torch.where(keep, torch.cat([self.dirs[:, 1:], y[:, None]], 1), self.dirs)
        self.steps = torch.where(keep, torch.cat([self.steps[:, 1:], s[:, None]], 1), self.steps)
        rho = torch.cat([self.rho[:, 1:], (1.0 / ys)[:, None]], 1)
        self.rho = torch.where(which[:, None], rho, self.rho)
        self.history = torch.where(
            which, (self.history + 1).clamp(max=self.config.history_size), self.history
        )

    def _two_loop(self, grad: torch.Tensor) -> torch.Tensor:
        """d = -H g for every model, with each model's own history and H₀."""
        if self.native:
            return kernel.two_loop(self.steps, self.dirs, self.rho, self.history, self.h_diag, grad)
        size = self.config.history_size
        depth = int(self.history.max()) if self.history.numel() else 0
        q = grad.neg()
        alpha = torch.zeros_like(self.rho)
        for k in range(size - 1, size - 1 - depth, -1):
            alpha[:, k] = (self.steps[:, k] * q).sum(1) * self.rho[:, k]
            q = q - alpha[:, k, None] * self.dirs[:, k]
        r = q * self.h_diag[:, None]
        for k in range(size - depth, size):
            beta = (self.dirs[:, k] * r).sum(1) * self.rho[:, k]
            r = r + self.steps[:, k] * (alpha[:, k] - beta)[:, None]
        return r

    def _evaluate(
        self, objective: Objective, which: torch.Tensor, loss: torch.Tensor, grad: torch.Tensor
    ) -> None:
        """Evaluate the models in ``which`` and write their loss/gradient in place."""
        index = torch.nonzero(which)[:, 0]
        if index.numel() == 0:
            return
        value, gradient = objective(self.params[index])
        loss[index] = value.to(loss.dtype)
        grad[index] = gradient.to(grad.dtype)
        self.func_evals[index] += 1

    def step(self, objective: Objective) -> torch.Tensor:
        """One ``LBFGS.step`` per model; returns each model's loss before the step (float64).

        ``objective(params_subset)`` returns the loss (k,) and gradient (k, P) of those rows.
        """
        cfg = self.config
        m = self.params.shape[0]
        dtype = self.params.dtype
        loss = torch.empty(m, dtype=torch.float64)
        grad = torch.empty_like(self.params)
        self._evaluate(objective, torch.ones(m, dtype=torch.bool), loss, grad)
        start_loss = loss.clone()
        active = grad.abs().amax(1) > cfg.tolerance_grad
        prev_loss = loss.clone()
        for n_iter in range(1, cfg.max_iter + 1):
            if not bool(active.any()):
                break
            self.n_iter += active.long()
            first = active & (self.n_iter == 1)
            later = active & ~first
            if bool(later.any()):
                y = grad - self.prev_grad
                s = self.d * self.t[:, None]
                ys = (y * s).sum(1)
                store = later & (ys > 1e-10)
                if bool(store.any()):
                    self._push(store, y, s, ys)
                    self.h_diag = torch.where(store, ys / (y * y).sum(1), self.h_diag)
                direction = self._two_loop(grad)
                self.d = torch.where(later[:, None], direction, self.d)
            if bool(first.any()):
                self.d = torch.where(first[:, None], grad.neg(), self.d)
                self.h_diag = torch.where(first, torch.ones_like(self.h_diag), self.h_diag)
            self.prev_grad = torch.where(active[:, None], grad, self.prev_grad)
            prev_loss = torch.where(active, loss, prev_loss)
            lr = self.lr.to(dtype)
            first_t = torch.clamp(1.0 / grad.abs().sum(1), max=1.0) * lr
            self.t = torch.where(first, first_t, torch.where(later, lr, self.t))
            gtd = (grad * self.d).sum(1)
            active = active & ~(gtd > -cfg.tolerance_change)
            self.params += torch.where(active[:, None], self.d * self.t[:, None], 0.0)
            if n_iter == cfg.max_iter:
                break
            self._evaluate(objective, active, loss, grad)
            if 1 + n_iter >= cfg.eval_limit:  # every active model has made 1 + n_iter evaluations
                break
            done = grad.abs().amax(1) <= cfg.tolerance_grad
            done |= (self.d * self.t[:, None]).abs().amax(1) <= cfg.tolerance_change
            done |= (loss - prev_loss).abs() < cfg.tolerance_change
            active = active & ~done
        return start_loss


class PlateauSchedule:
    """``ReduceLROnPlateau(mode="min", factor, patience)`` per model, on the step losses.

    A loss counts as an improvement when it is below best·(1 - threshold) (PyTorch's default
    relative threshold 1e-4); after more than ``patience`` steps without one, the learning
    rate is multiplied by ``factor`` and the count restarts.
    """

    def __init__(
        self,
        models: int,
        factor: float = 0.95,
        patience: int = 10,
        threshold: float = 1e-4,
        min_lr: float = 0.0,
        eps: float = 1e-8,
    ) -> None:
        self.factor, self.patience, self.threshold = factor, patience, threshold
        self.min_lr, self.eps = min_lr, eps
        self.best = torch.full((models,), float("inf"), dtype=torch.float64)
        self.bad = torch.zeros(models, dtype=torch.long)

    def update(self, loss: torch.Tensor, lr: torch.Tensor) -> torch.Tensor:
        """The new learning rates (M,) after observing this step's losses (M,)."""
        loss = loss.to(torch.float64)
        better = loss < self.best * (1.0 - self.threshold)
        self.best = torch.where(better, loss, self.best)
        self.bad = torch.where(better, torch.zeros_like(self.bad), self.bad + 1)
        reduce = self.bad > self.patience
        new_lr = torch.clamp(lr * self.factor, min=self.min_lr)
        reduce &= (lr - new_lr) > self.eps
        self.bad = torch.where(self.bad > self.patience, torch.zeros_like(self.bad), self.bad)
        return torch.where(reduce, new_lr, lr)
