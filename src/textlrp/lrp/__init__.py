"""The LRP engine: rules (ε, z⁺, product rules), LSTM/GRU layers, CNNs, whole classifiers.

"spec §N" in textlrp's docstrings and tests refers to section §N of docs/spec.md.
"""

from textlrp.lrp.classifier import LRPResult, classifier_relevance, trace_classifier
from textlrp.lrp.conv import CNNRelevance, cnn_relevance, trace_cnn
from textlrp.lrp.rules import PRODUCT_RULES, eps_rule, product_split, zplus_rule

__all__ = [
    "LRPResult",
    "classifier_relevance",
    "trace_classifier",
    "CNNRelevance",
    "cnn_relevance",
    "trace_cnn",
    "PRODUCT_RULES",
    "eps_rule",
    "product_split",
    "zplus_rule",
]
