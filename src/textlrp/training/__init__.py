"""Training: the 2017 paper's SST bi-LSTM, its evaluation, and the ``train`` command."""

from textlrp.training.sst import (
    TrainConfig,
    accuracy_from_scores,
    build_vocabulary,
    evaluate,
    predict_scores,
    train_classifier,
    train_sst,
)

__all__ = [
    "TrainConfig",
    "accuracy_from_scores",
    "build_vocabulary",
    "evaluate",
    "predict_scores",
    "train_classifier",
    "train_sst",
]
