"""Explanation records: what a user gets back from :func:`textlrp.explain`."""

from __future__ import annotations

import dataclasses
from typing import Any

import torch


@dataclasses.dataclass
class Explanation:
    """The explanation of one text's score for one target class.

    ``relevance`` holds one value per token; ``relevance_per_dim`` one per token and embedding
    dimension (``None`` for methods that only score whole words, such as occlusion).
    ``initial_state_relevance`` is what LRP leaves on the zero initial states h_0 and c_0, so
    that with bias factor 1 ``relevance.sum() + initial_state_relevance == scores[target]``.
    For a CNN, LRP's ``bias_relevance`` is everything absorbed on the way down (biases,
    stabilizers, z⁺ denominators), so ``relevance.sum() + bias_relevance == scores[target]``
    for every rule and bias factor (docs/cnn-rules.md §5).
    """

    tokens: list[str]
    relevance: torch.Tensor
    relevance_per_dim: torch.Tensor | None
    relevance_by_direction: torch.Tensor | None
    initial_state_relevance: float
    bias_relevance: float
    scores: torch.Tensor
    probabilities: torch.Tensor
    target: int
    predicted: int
    class_names: list[str]
    method: str
    options: dict[str, Any]
    unknown: list[bool]

    @property
    def target_name(self) -> str:
        return self.class_names[self.target]

    @property
    def predicted_name(self) -> str:
        return self.class_names[self.predicted]

    @property
    def target_score(self) -> float:
        return float(self.scores[self.target])

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready record of tokens, relevances, scores and the settings used."""

        def listed(t: torch.Tensor | None) -> Any:
            return None if t is None else t.detach().cpu().double().tolist()

        return {
            "method": self.method,
            "options": self.options,
            "tokens": self.tokens,
            "unknown": self.unknown,
            "relevance": listed(self.relevance),
            "relevance_by_direction": listed(self.relevance_by_direction),
            "initial_state_relevance": self.initial_state_relevance,
            "bias_relevance": self.bias_relevance,
            "target": self.target,
            "target_name": self.target_name,
            "predicted": self.predicted,
            "predicted_name": self.predicted_name,
            "class_names": self.class_names,
            "scores": listed(self.scores),
            "probabilities": listed(self.probabilities),
        }


@dataclasses.dataclass
class ExplanationBatch:
    """The same explanations as padded tensors, for batched evaluation code."""

    tokens: list[list[str]]
    relevance: torch.Tensor  # (B, T)
    relevance_per_dim: torch.Tensor | None  # (B, T, e)
    relevance_by_direction: torch.Tensor | None  # (B, T, directions)
    initial_state_relevance: torch.Tensor  # (B,)
    bias_relevance: torch.Tensor  # (B,)
    mask: torch.Tensor  # (B, T) bool
    lengths: torch.Tensor  # (B,)
    scores: torch.Tensor  # (B, C)
    targets: torch.Tensor  # (B,)


class Explanations(list):
    """A list of :class:`Explanation`, one per text, with the padded batch as ``.batch``."""

    def __init__(self, items: list[Explanation], batch: ExplanationBatch) -> None:
        super().__init__(items)
        self.batch = batch
