"""Explain every accepted toy model on the test set and compute the Table 2 statistics."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import torch

from textlrp.api import explain_vectors
from textlrp.errors import InputError
from textlrp.experiments.toy.data import ToyData
from textlrp.experiments.toy.model import to_classifier
from textlrp.experiments.toy.stats import relevance_statistics


@dataclasses.dataclass(frozen=True)
class MethodSpec:
    """One row of Table 2: a label, the registered method and its options."""

    label: str
    method: str
    options: dict[str, Any]


# The rows of the paper's Table 2. ε = 0 for every LRP rule on the toy task (spec §7);
# occlusion sets x_t = 0 and takes the difference of the (regression) output, f-diff.
METHODS: tuple[MethodSpec, ...] = (
    MethodSpec("Gradient×Input", "gradient_x_input", {}),
    MethodSpec("Occlusion", "occlusion_f", {"mode": "zero"}),
    MethodSpec("LRP-prop", "lrp", {"product_rule": "prop", "eps": 0.0}),
    MethodSpec("LRP-abs", "lrp", {"product_rule": "abs", "eps": 0.0}),
    MethodSpec("LRP-half", "lrp", {"product_rule": "half", "eps": 0.0}),
    MethodSpec("LRP-all", "lrp", {"product_rule": "all", "eps": 0.0}),
    MethodSpec("CD", "cd", {}),
)


def explain_model(
    model: torch.nn.Module, data: ToyData, spec: MethodSpec
) -> tuple[np.ndarray, np.ndarray]:
    """Relevances (N, T) for the single output and the model's predictions (N,), float64."""
    result = explain_vectors(
        model,
        data.inputs.to(torch.float64),
        data.lengths,
        method=spec.method,
        target=0,
        dtype=torch.float64,
        **spec.options,
    )
    relevance = result.batch.relevance.detach().cpu().numpy()
    prediction = result.batch.scores[:, 0].detach().cpu().numpy()
    return relevance, prediction


def evaluate_params(
    params: torch.Tensor, data: ToyData, methods: tuple[MethodSpec, ...] = METHODS
) -> dict[str, dict[str, float] | None]:
    """Statistics per method label for one model's 17 parameters on ``data``.

    A method that fails on this model (LRP with ε = 0 can divide by an exact zero) gets
    ``None``, so one degenerate model does not stop the experiment.
    """
    model = to_classifier(params, torch.float64)
    pos_a, pos_b = data.pos_a.numpy(), data.pos_b.numpy()
    n_a, n_b = data.n_a.numpy(), data.n_b.numpy()
    results: dict[str, dict[str, float] | None] = {}
    for spec in methods:
        try:
            relevance, prediction = explain_model(model, data, spec)
        except InputError:
            results[spec.label] = None
            continue
        results[spec.label] = relevance_statistics(relevance, pos_a, pos_b, n_a, n_b, prediction)
    return results
