"""Layer-wise Relevance Propagation (spec §2–4, §9): ``lrp`` (δ = 0) and ``lrp_cons`` (δ = 1).

The pass depends on the model family: recurrent models go through :mod:`textlrp.lrp.classifier`
(option ``product_rule``), CNNs through :mod:`textlrp.lrp.conv` (options ``conv_rule``,
``head_rule``, ``composite``). An option of the other family is refused, not ignored.
"""

from __future__ import annotations

from typing import Any

import torch

from textlrp.errors import InputError
from textlrp.lrp.classifier import classifier_relevance, trace_classifier
from textlrp.lrp.conv import cnn_relevance, resolve_rules, trace_cnn
from textlrp.lrp.rules import PRODUCT_RULES
from textlrp.methods.base import EncodedBatch, MethodOutput, register
from textlrp.models.cnn import CNNClassifier

DEFAULT_EPS = 0.001
DEFAULT_EPS_PROP = 0.2  # the 2019 paper's stabilizer for LRP-prop
CNN_OPTIONS = ("conv_rule", "head_rule", "composite")


def _check_options(eps: float, bias_factor: float, product_rule: str) -> None:
    if product_rule not in PRODUCT_RULES:
        raise InputError(
            f"unknown product_rule '{product_rule}'; choose one of: {', '.join(PRODUCT_RULES)}"
        )
    _check_numbers(eps, bias_factor)


def _check_numbers(eps: float, bias_factor: float) -> None:
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
    product_rule: str | None = None,
    conv_rule: str | None = None,
    head_rule: str | None = None,
    composite: str | None = None,
) -> MethodOutput:
    """Batched LRP of the target scores, with the rules of the model's family."""
    if isinstance(model, CNNClassifier):
        if product_rule is not None:
            raise InputError(
                "product_rule applies to LSTM/GRU models (their gate products); a CNN has none. "
                "For a CNN choose conv_rule/head_rule or a composite instead"
            )
        return run_cnn_lrp(
            model,
            batch,
            targets,
            dtype=dtype,
            eps=DEFAULT_EPS if eps is None else eps,
            bias_factor=bias_factor,
            rules=resolve_rules(composite, conv_rule, head_rule),
        )
    cnn_values = (conv_rule, head_rule, composite)
    given = [name for name, value in zip(CNN_OPTIONS, cnn_values, strict=True) if value is not None]
    if given:
        raise InputError(
            f"option(s) {', '.join(given)} apply to CNN models only; this is a recurrent model "
            "(choose its rule with product_rule)"
        )
    product_rule = product_rule or "all"
    if eps is None:
        eps = DEFAULT_EPS_PROP if product_rule == "prop" else DEFAULT_EPS
    _check_options(float(eps), float(bias_factor), product_rule)
    with torch.no_grad():
        trace = trace_classifier(model, batch.inputs(model, dtype), batch.lengths, dtype)
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
    )


def run_cnn_lrp(
    model: CNNClassifier,
    batch: EncodedBatch,
    targets: torch.Tensor,
    *,
    dtype: torch.dtype,
    eps: float,
    bias_factor: float,
    rules: tuple[str, str],
) -> MethodOutput:
    """LRP of a CNN (spec §9); ``bias_relevance`` is all that biases/stabilizers kept."""
    _check_numbers(float(eps), float(bias_factor))
    conv_rule, head_rule = rules
    with torch.no_grad():
        trace = trace_cnn(model, batch.inputs(model, dtype), batch.lengths, dtype)
        result = cnn_relevance(
            model, trace, targets, float(eps), float(bias_factor), conv_rule, head_rule
        )
    return MethodOutput(
        relevance=result.word_relevance,
        relevance_per_dim=result.input_relevance,
        bias_relevance=result.absorbed,
    )


@register(
    "lrp",
    "LRP, ε-rule with bias factor δ = 0 (LSTM/GRU: signal-take-all product rule; CNN: "
    "winner-take-all max-pooling)",
    options=("eps", "bias_factor", "product_rule", *CNN_OPTIONS),
)
def lrp(model: torch.nn.Module, batch: EncodedBatch, targets: torch.Tensor, **options: Any):
    return run_lrp(model, batch, targets, **options)


@register(
    "lrp_cons",
    "LRP with bias factor δ = 1: relevance is conserved exactly",
    options=("eps", "product_rule", *CNN_OPTIONS),
)
def lrp_cons(model: torch.nn.Module, batch: EncodedBatch, targets: torch.Tensor, **options: Any):
    return run_lrp(model, batch, targets, bias_factor=1.0, **options)
