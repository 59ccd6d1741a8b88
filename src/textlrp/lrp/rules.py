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


def stabilized(z: torch.Tensor, eps: float) -> torch.Tensor:
    """``z + eps * sign(z)`` (``sign(0) = +1``): the ε-rule's denominator in one pass."""
    return torch.where(z >= 0, z + eps, z - eps)


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
