"""The LRP engine: rules (ε-rule, product rules), LSTM layers, whole classifiers.

"spec §N" in textlrp's docstrings and tests refers to section §N of docs/spec.md.
"""

from textlrp.lrp.classifier import LRPResult, classifier_relevance, trace_classifier
from textlrp.lrp.rules import PRODUCT_RULES, eps_rule, product_split

__all__ = [
    "LRPResult",
    "classifier_relevance",
    "trace_classifier",
    "PRODUCT_RULES",
    "eps_rule",
    "product_split",
]
