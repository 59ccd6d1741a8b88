"""Gradient-based baselines (spec §6): sensitivity analysis and Gradient×Input."""

from __future__ import annotations

import torch

from textlrp.batching import fill_predicted
from textlrp.methods.base import EncodedBatch, MethodOutput, register
from textlrp.models.precision import in_dtype


def target_gradient(
    model: torch.nn.Module, batch: EncodedBatch, targets: torch.Tensor, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor]:
    """Embedded inputs (B, T, e) and ∂f_target/∂x of every sentence, in one backward pass."""
    embedded, gradient, _ = gradient_and_scores(model, batch, targets, dtype)
    return embedded, gradient


def gradient_and_scores(
    model: torch.nn.Module, batch: EncodedBatch, targets: torch.Tensor, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Embedded inputs (B, T, e), ∂f_target/∂x and the scores (B, C), in one forward and one
    backward pass; ``PREDICTED`` targets take the class of the highest score.

    Sentences in a batch do not interact, so the gradient of the summed target scores is each
    sentence's own gradient.
    """
    model = in_dtype(model, dtype)
    device = model.embedding.weight.device
    with torch.enable_grad():
        embedded = batch.inputs(model, dtype).requires_grad_(True)
        scores = model.forward_embedded(embedded, batch.lengths)
        targets = fill_predicted(targets, scores.detach())
        chosen = scores.gather(1, targets[:, None]).sum()
        (gradient,) = torch.autograd.grad(chosen, embedded)
    mask = batch.mask.to(device)[..., None]
    return embedded.detach() * mask, gradient * mask, scores.detach()


@register(
    "gradient", "Sensitivity analysis: squared gradient of the target score", (), scores=True
)
def gradient(
    model: torch.nn.Module, batch: EncodedBatch, targets: torch.Tensor, *, dtype: torch.dtype
) -> MethodOutput:
    _, grad, scores = gradient_and_scores(model, batch, targets, dtype)
    squared = grad**2
    return MethodOutput(relevance=squared.sum(-1), relevance_per_dim=squared, scores=scores)


@register(
    "gradient_x_input",
    "Gradient×Input: embedding times gradient of the target score",
    (),
    scores=True,
)
def gradient_x_input(
    model: torch.nn.Module, batch: EncodedBatch, targets: torch.Tensor, *, dtype: torch.dtype
) -> MethodOutput:
    embedded, grad, scores = gradient_and_scores(model, batch, targets, dtype)
    product = embedded * grad
    return MethodOutput(relevance=product.sum(-1), relevance_per_dim=product, scores=scores)
