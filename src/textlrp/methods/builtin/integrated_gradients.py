"""Integrated Gradients (Sundararajan et al. 2017) over the word embeddings, zero baseline.

R_{t,k} = x_{t,k} · ∫₀¹ ∂f_c(αx)/∂x_{t,k} dα, approximated by a quadrature rule
Σ_j w_j ∂f_c(α_j x)/∂x (Gauss–Legendre by default, or a Riemann sum). Every sentence at every
point α_j goes through the model in batched forward and backward passes (of
:func:`~textlrp.batching.rows_per_pass` sentence copies each); the attributions sum to
f_c(x) − f_c(0) (completeness) up to the quadrature error, which shrinks with more steps.

Written here rather than taken from Captum, whose quadrature weights are cast to float32
(an error of ~1e-8 relative even in float64) and whose trapezoid weights sum to 1 − 1/n.
"""

from __future__ import annotations

import numpy as np
import torch

from textlrp.batching import rows_per_pass
from textlrp.errors import InputError
from textlrp.methods.base import EncodedBatch, MethodOutput, register
from textlrp.models.precision import in_dtype

DEFAULT_STEPS = 50
DEFAULT_RULE = "gausslegendre"
CHUNK_ROWS = 8192  # at most this many sentence copies (sentences × points) per pass
INTEGRATION_RULES = (
    "gausslegendre",
    "riemann_right",
    "riemann_left",
    "riemann_middle",
    "riemann_trapezoid",
)


def quadrature(rule: str, steps: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Points α_j in [0, 1] and weights w_j (summing to 1) of a rule, in float64."""
    if rule not in INTEGRATION_RULES:
        raise InputError(
            f"unknown integration rule '{rule}'; choose one of: {', '.join(INTEGRATION_RULES)}"
        )
    minimum = 2 if rule == "riemann_trapezoid" else 1
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < minimum:
        raise InputError(f"steps must be an integer >= {minimum} for {rule}, got {steps!r}")
    index = torch.arange(steps, dtype=torch.float64)
    weights = torch.full((steps,), 1.0 / steps, dtype=torch.float64)
    if rule == "gausslegendre":
        nodes, gauss_weights = np.polynomial.legendre.leggauss(steps)
        return torch.from_numpy(0.5 * (nodes + 1.0)), torch.from_numpy(0.5 * gauss_weights)
    if rule == "riemann_right":
        return (index + 1.0) / steps, weights
    if rule == "riemann_left":
        return index / steps, weights
    if rule == "riemann_middle":
        return (index + 0.5) / steps, weights
    weights = torch.full((steps,), 1.0 / (steps - 1), dtype=torch.float64)
    weights[0] = weights[-1] = 0.5 / (steps - 1)
    return index / (steps - 1), weights


def integrated_gradients_embeddings(
    model: torch.nn.Module,
    batch: EncodedBatch,
    targets: torch.Tensor,
    dtype: torch.dtype,
    steps: int = DEFAULT_STEPS,
    integration: str = DEFAULT_RULE,
) -> torch.Tensor:
    """IG attributions (B, T, e) of each sentence's target score, zero on padding."""
    alphas, weights = quadrature(integration, steps)
    model = in_dtype(model, dtype)
    device = model.embedding.weight.device
    alphas, weights = alphas.to(device, dtype), weights.to(device, dtype)
    lengths = batch.lengths.cpu()
    mask = batch.mask.to(device)[..., None]
    targets = targets.to(device)
    with torch.no_grad():
        embedded = batch.inputs(model, dtype)
    count = batch.size
    rows = min(CHUNK_ROWS, rows_per_pass(model, embedded.shape[1], dtype))
    per_pass = max(1, rows // count)  # integration points per pass
    total = torch.zeros_like(embedded)
    for start in range(0, steps, per_pass):
        chunk_alphas = alphas[start : start + per_pass]
        chunk_weights = weights[start : start + per_pass]
        points = len(chunk_alphas)
        with torch.enable_grad():
            scaled = (chunk_alphas[:, None, None, None] * embedded).reshape(
                points * count, *embedded.shape[1:]
            )
            scaled.requires_grad_(True)
            scores = model.forward_embedded(scaled, lengths.repeat(points))
            chosen = scores.gather(1, targets.repeat(points)[:, None]).sum()
            (gradient,) = torch.autograd.grad(chosen, scaled)
        gradient = gradient.view(points, *embedded.shape)
        total += torch.tensordot(chunk_weights, gradient, dims=1)
    return embedded * total * mask


@register(
    "integrated_gradients",
    "Integrated Gradients over the embeddings from a zero baseline",
    options=("steps", "integration"),
)
def integrated_gradients(
    model: torch.nn.Module,
    batch: EncodedBatch,
    targets: torch.Tensor,
    *,
    dtype: torch.dtype,
    steps: int = DEFAULT_STEPS,
    integration: str = DEFAULT_RULE,
) -> MethodOutput:
    per_dim = integrated_gradients_embeddings(model, batch, targets, dtype, steps, integration)
    return MethodOutput(relevance=per_dim.sum(-1), relevance_per_dim=per_dim)
