"""Models: the (bi-)LSTM/GRU and CNN classifiers, the vocabulary, the bundled model, importers."""

from __future__ import annotations

from pathlib import Path

from textlrp.errors import ModelError
from textlrp.models.arras2017 import load_arras2017
from textlrp.models.cnn import CNNClassifier, CNNConfig
from textlrp.models.persistence import read_model_file
from textlrp.models.recurrent import (
    ClassifierConfig,
    LSTMClassifier,
    RecurrentClassifier,
    check_finite_weights,
)
from textlrp.models.vocab import Vocabulary
from textlrp.models.wrap import wrap_model

BUNDLED_MODEL = Path(__file__).resolve().parent.parent / "assets" / "sst_bilstm.pt"


def load_model(path: str | Path | None = None) -> RecurrentClassifier | CNNClassifier:
    """Load a saved model (recurrent or CNN); without a path, the bundled SST bi-LSTM.

    The file's ``"family"`` key picks the class; files without it are recurrent models.
    """
    if path is None:
        if not BUNDLED_MODEL.is_file():
            raise ModelError(
                f"the bundled model {BUNDLED_MODEL} is missing; reinstall textlrp or pass a "
                "model path (train one with `textlrp train sst`)"
            )
        path = BUNDLED_MODEL
    payload = read_model_file(path)
    family = payload.get("family", "recurrent")
    if family == "cnn":
        return CNNClassifier.from_payload(payload, str(path))
    if family != "recurrent":
        raise ModelError(
            f"{path} holds a model of family '{family}', which this version of textlrp does "
            "not know (it loads 'recurrent' and 'cnn'); upgrade textlrp"
        )
    return RecurrentClassifier.load(path)


__all__ = [
    "BUNDLED_MODEL",
    "CNNClassifier",
    "CNNConfig",
    "ClassifierConfig",
    "LSTMClassifier",
    "RecurrentClassifier",
    "Vocabulary",
    "check_finite_weights",
    "load_arras2017",
    "load_model",
    "wrap_model",
]
