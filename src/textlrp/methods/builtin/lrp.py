"""Layer-wise Relevance Propagation (spec §2–4): ``lrp`` (δ = 0) and ``lrp_cons`` (δ = 1)."""

from __future__ import annotations

from typing import Any

import torch

from textlrp.batching import fill_predicted
from textlrp.errors import InputError
from textlrp.lrp.classifier import classifier_relevance, trace_classifier
from textlrp.lrp.rules import PRODUCT_RULES
from textlrp.methods.base import EncodedBatch, MethodOutput, register

DEFAULT_EPS = 0.001
DEFAULT_EPS_PROP = 0.2  # the 2019 paper's stabilizer for LRP-prop


def _check_options(eps: float, bias_factor: float, product_rule: str) -> None:
    if product_rule not in PRODUCT_RULES:
        raise InputError(
            f"unknown product_rule '{product_rule}'; choose one of: {', '.join(PRODUCT_RULES)}"
        )
    if not (eps >= 0.0 and eps < float("inf")):
        raise InputError(f"eps must be a finite number >= 0, got {eps}")
    if not (0.0 <= bias_factor <= 1.0):
        raise InputError(f"bias_factor must be between 0 and 1, got {bias_factor}")


def run_lrp(
    model: torch.nn.Module,
    batch: EncodedBatch,
    targets: torch.Tensor,
    *,
    dtype: torch.dtype,
    eps: float | None = None,
    bias_factor: float = 0.0,
    product_rule: str = "all",
) -> MethodOutput:
    """Batched LRP of the target scores, with the spec's ε-rule and product rule."""
    if eps is None:
        eps = DEFAULT_EPS_PROP if product_rule == "prop" else DEFAULT_EPS
    _check_options(float(eps), float(bias_factor), product_rule)
    with torch.no_grad():
        trace = trace_classifier(model, batch.inputs(model, dtype), batch.lengths, dtype)
        targets = fill_predicted(targets, trace.scores)
        result = classifier_relevance(
            model, trace, targets, float(eps), float(bias_factor), product_rule
        )
    per_direction = result.input_by_direction.sum(2)  # (B, T, directions)
    return MethodOutput(
        relevance=per_direction.sum(-1),
        relevance_per_dim=result.input_relevance,
        relevance_by_direction=per_direction,
        initial_state_relevance=result.initial_state,
        bias_relevance=result.output_bias,
        scores=result.scores,
    )


@register(
    "lrp",
    "LRP, ε-rule with bias factor δ = 0 and the signal-take-all product rule by default",
    options=("eps", "bias_factor", "product_rule"),
    scores=True,
)
def lrp(model: torch.nn.Module, batch: EncodedBatch, targets: torch.Tensor, **options: Any):
    return run_lrp(model, batch, targets, **options)


@register(
    "lrp_cons",
    "LRP with bias factor δ = 1: relevance is conserved exactly",
    options=("eps", "product_rule"),
    scores=True,
)
def lrp_cons(model: torch.nn.Module, batch: EncodedBatch, targets: torch.Tensor, **options: Any):
    return run_lrp(model, batch, targets, bias_factor=1.0, **options)
