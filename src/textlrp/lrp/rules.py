"""The LRP rules of the spec (§2, §4) as batched tensor functions.

Every function works on leading batch dimensions ``(..., units)`` so one call explains a whole
padded batch at one time step.
"""

from __future__ import annotations

import torch

PRODUCT_RULES = ("all", "prop", "abs", "half")


def signed_eps(z: torch.Tensor, eps: float) -> torch.Tensor:
    """``eps * sign(z)`` with ``sign(0) = +1``, the stabilizer of the ε-rule."""
    # Build the constant in z's dtype: torch.where on Python floats would round eps to float32.
    positive = torch.full_like(z, eps)
    return torch.where(z >= 0, positive, -positive)


def eps_rule(
    lower: torch.Tensor,
    weight: torch.Tensor | None,
    bias: torch.Tensor | float,
    upper: torch.Tensor,
    relevance: torch.Tensor,
    n_lower: int,
    eps: float,
    bias_factor: float,
) -> torch.Tensor:
    """Relevance of the lower neurons of one weighted connection (spec §2).

    ``upper = lower @ weight.T + bias (+ the other incoming layers)`` is the *total* input z_j of
    the upper neurons; ``weight`` is ``(J, I)`` as in ``nn.Linear`` or ``None`` for identity
    weights (the element-wise sums inside a cell). The bias/stabilizer share
    ``δ·(b_j + ε·sign z_j)/N`` of every upper neuron is spread over all ``n_lower`` lower neurons
    connected to it, in every incoming layer.
    """
    stabilizer = signed_eps(upper, eps)
    scaled = relevance / (upper + stabilizer)
    return eps_messages(lower, weight, scaled, bias + stabilizer, n_lower, bias_factor)


def eps_messages(
    lower: torch.Tensor,
    weight: torch.Tensor | None,
    scaled: torch.Tensor,
    bias_and_stabilizer: torch.Tensor,
    n_lower: int,
    bias_factor: float,
) -> torch.Tensor:
    """The ε-rule from precomputed ``scaled = R_j / (z_j + ε·sign z_j)``.

    Split out of :func:`eps_rule` so a recurrent pass can stabilize all time steps at once and
    keep only the per-step products inside its loop.
    """
    through_weights = scaled if weight is None else scaled @ weight
    result = lower * through_weights
    if bias_factor != 0.0:
        shared = (bias_and_stabilizer * scaled).sum(dim=-1, keepdim=True)
        result = result + (bias_factor / n_lower) * shared
    return result


def product_split(
    gate: torch.Tensor, signal: torch.Tensor, relevance: torch.Tensor, rule: str, eps: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Split the relevance of ``gate * signal`` into (gate share, signal share) (spec §4)."""
    if rule == "all":
        return torch.zeros_like(relevance), relevance
    if rule == "half":
        half = relevance / 2
        return half, half
    if rule == "prop":
        total = gate + signal
        denominator = total + signed_eps(total, eps)
        return gate / denominator * relevance, signal / denominator * relevance
    if rule == "abs":
        denominator = gate.abs() + signal.abs() + eps
        return gate.abs() / denominator * relevance, signal.abs() / denominator * relevance
    raise ValueError(f"unknown product rule '{rule}'; choose one of {', '.join(PRODUCT_RULES)}")


def eps_absorbed(
    upper: torch.Tensor,
    bias: torch.Tensor | float,
    relevance: torch.Tensor,
    eps: float,
    bias_factor: float,
) -> torch.Tensor:
    """What the ε-rule leaves with the bias and stabilizer, summed over upper units (spec §2).

    ``(1 − δ) · Σ_j (b_j + ε·sign z_j) / (z_j + ε·sign z_j) · R_j`` over the last dimension: the
    part of the upper relevance that :func:`eps_rule` does not hand to the lower neurons.
    """
    stabilizer = signed_eps(upper, eps)
    share = (bias + stabilizer) / (upper + stabilizer) * relevance
    return (1.0 - bias_factor) * share.sum(dim=-1)


def zplus_scale(
    positive_sum: torch.Tensor, positive_bias: torch.Tensor | float, relevance: torch.Tensor
) -> torch.Tensor:
    """``R_j / (Σ_i z_ij⁺ + b_j⁺)`` of the z⁺ (α = 1, β = 0) rule; 0 where that sum is 0.

    A zero denominator means every z_ij⁺ is 0: no lower neuron can take R_j, which then stays
    with the layer (reported as absorbed by its caller).
    """
    denominator = positive_sum + positive_bias
    has_share = denominator > 0
    safe = torch.where(has_share, denominator, torch.ones_like(denominator))
    return torch.where(has_share, relevance / safe, torch.zeros_like(relevance))


def zplus_rule(
    lower: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    relevance: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The z⁺ / αβ (α = 1, β = 0) rule of a linear layer ``lower @ weight.T + bias`` (spec §9).

    With z_ij = x_i w_ij:  R_i = Σ_j z_ij⁺ / (Σ_i' z_i'j⁺ + b_j⁺) · R_j. For signed inputs
    z_ij⁺ = x_i⁺ w_ij⁺ + x_i⁻ w_ij⁻ (positive inputs through positive weights, negative through
    negative), so on non-negative inputs (after a ReLU) this is the z⁺ rule of Montavon et al.
    Returns (lower relevance, relevance absorbed per row: the b_j⁺ shares and every R_j whose
    denominator is 0).
    """
    x_pos, x_neg = lower.clamp(min=0), lower.clamp(max=0)
    w_pos, w_neg = weight.clamp(min=0), weight.clamp(max=0)
    positive_sum = x_pos @ w_pos.T + x_neg @ w_neg.T
    bias_pos = 0.0 if bias is None else bias.clamp(min=0)
    scaled = zplus_scale(positive_sum, bias_pos, relevance)
    lower_relevance = x_pos * (scaled @ w_pos) + x_neg * (scaled @ w_neg)
    absorbed = (relevance - scaled * positive_sum).sum(dim=-1)
    return lower_relevance, absorbed
