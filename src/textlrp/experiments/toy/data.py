"""The toy arithmetic data of Arras et al. 2019, §3.2 (spec §7), seeded.

Each sequence has T steps of 2 dimensions. Two positions a < b are drawn uniformly; dimension
1 holds n_a at a and n_b at b (0 elsewhere), dimension 2 holds a random distractor n_t at every
other position (0 at a and b). Addition draws every number from U([-1,-0.5] ∪ [0.5,1]) and the
target is n_a + n_b; subtraction draws from U([0.5,1]) and the target is n_a - n_b.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from textlrp.errors import InputError

TASKS = ("add", "sub")
# split name -> (index for seeding, default size, possible lengths)
SPLITS: dict[str, tuple[int, int, tuple[int, ...]]] = {
    "train": (0, 10000, tuple(range(4, 11))),
    "val": (1, 2500, (11, 12)),
    "test": (2, 2500, (13, 14)),
}


@dataclasses.dataclass(frozen=True)
class ToyData:
    """One split: right-padded inputs (N, T_max, 2), lengths, targets and the two positions."""

    task: str
    inputs: torch.Tensor  # (N, T_max, 2) float64, zero on padding
    lengths: torch.Tensor  # (N,) long
    targets: torch.Tensor  # (N,) float64
    pos_a: torch.Tensor  # (N,) long, a < b < length
    pos_b: torch.Tensor  # (N,) long

    def __len__(self) -> int:
        return int(self.lengths.numel())

    @property
    def n_a(self) -> torch.Tensor:
        """The first operand of every sequence."""
        return self.inputs[torch.arange(len(self)), self.pos_a, 0]

    @property
    def n_b(self) -> torch.Tensor:
        """The second operand of every sequence."""
        return self.inputs[torch.arange(len(self)), self.pos_b, 0]


def _numbers(rng: np.random.Generator, task: str, shape: tuple[int, ...]) -> np.ndarray:
    magnitude = rng.uniform(0.5, 1.0, size=shape)
    if task == "sub":
        return magnitude
    sign = np.where(rng.random(size=shape) < 0.5, -1.0, 1.0)
    return sign * magnitude


def make_split(task: str, split: str, seed: int = 0, size: int | None = None) -> ToyData:
    """Generate one split (``train``/``val``/``test``) of ``task`` (``add``/``sub``).

    The generator is seeded by (seed, task, split), so each split is reproducible on its own
    and the splits of one seed are independent draws.
    """
    if task not in TASKS:
        raise InputError(f"unknown toy task '{task}'; choose one of: {', '.join(TASKS)}")
    if split not in SPLITS:
        raise InputError(f"unknown split '{split}'; choose one of: {', '.join(SPLITS)}")
    index, default_size, choices = SPLITS[split]
    n = default_size if size is None else int(size)
    if n < 1:
        raise InputError(f"a split needs at least one sequence, got size={n}")
    rng = np.random.default_rng([int(seed), TASKS.index(task), index])
    lengths = rng.choice(np.array(choices), size=n)
    steps = int(lengths.max())
    # a and b: a uniform pair of distinct positions below the length, ordered a < b.
    first = rng.integers(0, lengths)
    second = rng.integers(0, lengths - 1)
    second = second + (second >= first)
    pos_a, pos_b = np.minimum(first, second), np.maximum(first, second)
    values = _numbers(rng, task, (n, steps))
    rows = np.arange(n)
    real = np.arange(steps)[None, :] < lengths[:, None]
    inputs = np.zeros((n, steps, 2))
    inputs[rows, pos_a, 0] = values[rows, pos_a]
    inputs[rows, pos_b, 0] = values[rows, pos_b]
    distractor = real.copy()
    distractor[rows, pos_a] = False
    distractor[rows, pos_b] = False
    inputs[..., 1] = np.where(distractor, values, 0.0)
    n_a, n_b = values[rows, pos_a], values[rows, pos_b]
    targets = n_a + n_b if task == "add" else n_a - n_b
    return ToyData(
        task,
        torch.from_numpy(inputs),
        torch.from_numpy(lengths).long(),
        torch.from_numpy(targets),
        torch.from_numpy(pos_a).long(),
        torch.from_numpy(pos_b).long(),
    )


def make_task_data(task: str, seed: int = 0) -> dict[str, ToyData]:
    """The three splits of the paper (10000 / 2500 / 2500 sequences) for one task."""
    return {split: make_split(task, split, seed) for split in SPLITS}
