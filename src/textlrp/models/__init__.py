"""Models: the (bi-)LSTM classifier, its vocabulary, the bundled SST model and importers."""

from __future__ import annotations

from pathlib import Path

from textlrp.errors import ModelError
from textlrp.models.arras2017 import load_arras2017
from textlrp.models.recurrent import (
    ClassifierConfig,
    LSTMClassifier,
    RecurrentClassifier,
    check_finite_weights,
)
from textlrp.models.vocab import Vocabulary
from textlrp.models.wrap import wrap_model

BUNDLED_MODEL = Path(__file__).resolve().parent.parent / "assets" / "sst_bilstm.pt"


def load_model(path: str | Path | None = None) -> RecurrentClassifier:
    """Load a saved model; without a path, the SST bi-LSTM bundled with the package."""
    if path is None:
        if not BUNDLED_MODEL.is_file():
            raise ModelError(
                f"the bundled model {BUNDLED_MODEL} is missing; reinstall textlrp or pass a "
                "model path (train one with `textlrp train sst`)"
            )
        path = BUNDLED_MODEL
    return RecurrentClassifier.load(path)


__all__ = [
    "BUNDLED_MODEL",
    "ClassifierConfig",
    "LSTMClassifier",
    "RecurrentClassifier",
    "Vocabulary",
    "check_finite_weights",
    "load_arras2017",
    "load_model",
    "wrap_model",
]
