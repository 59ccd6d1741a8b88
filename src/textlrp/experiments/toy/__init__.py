"""The toy arithmetic task of Arras et al. 2019 (§3.2): a benchmark with known ground truth.

- :mod:`.data`: the seeded generator (:func:`make_split`, :func:`make_task_data`);
- :mod:`.model`: many 17-parameter LSTMs as one ``(M, 17)`` tensor, batched forward/backward;
- :mod:`.kernel`: the same loss and gradient as a fused C kernel (optional, ~15× faster);
- :mod:`.lbfgs`: a per-model L-BFGS with ``torch.optim.LBFGS`` semantics, the LR schedule;
- :mod:`.train`: the paper's recipe (:func:`train_models`);
- :mod:`.stats` / :mod:`.evaluate`: the four statistics of Table 2 per explanation method;
- :mod:`.report`: :func:`run_toy`, which writes ``toy.md`` and ``toy.json``.
"""

from textlrp.experiments.toy.data import ToyData, make_split, make_task_data
from textlrp.experiments.toy.evaluate import METHODS, evaluate_params
from textlrp.experiments.toy.lbfgs import BatchedLBFGS, LBFGSConfig, PlateauSchedule
from textlrp.experiments.toy.model import from_classifier, predict, to_classifier
from textlrp.experiments.toy.report import PAPER_TABLE2, run_toy
from textlrp.experiments.toy.stats import relevance_statistics
from textlrp.experiments.toy.train import TrainConfig, TrainResult, train_models

__all__ = [
    "ToyData",
    "make_split",
    "make_task_data",
    "METHODS",
    "evaluate_params",
    "BatchedLBFGS",
    "LBFGSConfig",
    "PlateauSchedule",
    "predict",
    "to_classifier",
    "from_classifier",
    "PAPER_TABLE2",
    "run_toy",
    "relevance_statistics",
    "TrainConfig",
    "TrainResult",
    "train_models",
]
