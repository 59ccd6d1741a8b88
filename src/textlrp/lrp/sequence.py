"""Helpers for right-padded sequence batches."""

from __future__ import annotations

import torch


def reverse_padded(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Reverse each sequence of (B, T, ...) within its own length; padding stays at the end.

    Applying it twice gives back ``x``, so it also maps a backward encoder's time axis back.
    """
    batch, steps = x.shape[:2]
    positions = torch.arange(steps, device=x.device).expand(batch, steps)
    lengths = lengths.to(x.device)[:, None]
    index = torch.where(positions < lengths, lengths - 1 - positions, positions)
    index = index.view(batch, steps, *([1] * (x.dim() - 2))).expand_as(x)
    return x.gather(1, index)


def length_mask(
    lengths: torch.Tensor, steps: int, device: torch.device | None = None
) -> torch.Tensor:
    """(B, T) bool mask, True on the first ``lengths[b]`` steps."""
    positions = torch.arange(steps, device=device)
    return positions[None, :] < lengths.to(device)[:, None]
