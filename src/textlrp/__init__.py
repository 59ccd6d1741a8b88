"""textlrp: Layer-wise Relevance Propagation for recurrent text classifiers.

Quick start::

    import textlrp
    model = textlrp.load_model()            # the bundled SST bi-LSTM
    [e] = textlrp.explain(model, "it never fails to engage us .")
    print(e.tokens, e.relevance)
"""

from textlrp.api import explain, explain_vectors
from textlrp.errors import DataError, InputError, ModelError, TextLRPError
from textlrp.explanation import Explanation, ExplanationBatch, Explanations
from textlrp.methods.base import available_methods
from textlrp.models import (
    CNNClassifier,
    CNNConfig,
    LSTMClassifier,
    load_arras2017,
    load_model,
    wrap_model,
)

__version__ = "0.1.0"

__all__ = [
    "explain",
    "explain_vectors",
    "available_methods",
    "load_model",
    "load_arras2017",
    "LSTMClassifier",
    "CNNClassifier",
    "CNNConfig",
    "wrap_model",
    "Explanation",
    "ExplanationBatch",
    "Explanations",
    "TextLRPError",
    "InputError",
    "ModelError",
    "DataError",
]
