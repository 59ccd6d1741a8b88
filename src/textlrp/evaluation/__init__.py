"""Faithfulness of explanations: metrics that take (model, batch, relevance), whatever method
produced the relevance, and :func:`evaluate_faithfulness`, which compares methods on texts."""

from textlrp.evaluation.faithfulness import (
    METRICS,
    FaithfulnessResult,
    Prepared,
    SentenceScores,
    evaluate_faithfulness,
    prepare,
    random_relevance,
    score_relevance,
)
from textlrp.evaluation.perturb import remove_tokens, target_probabilities
from textlrp.evaluation.randomization import randomized_copy

__all__ = [
    "METRICS",
    "FaithfulnessResult",
    "Prepared",
    "SentenceScores",
    "evaluate_faithfulness",
    "prepare",
    "random_relevance",
    "randomized_copy",
    "remove_tokens",
    "score_relevance",
    "target_probabilities",
]
