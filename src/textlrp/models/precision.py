"""Running a model in another floating-point precision without touching the user's copy."""

from __future__ import annotations

import copy

import torch


def in_dtype(model: torch.nn.Module, dtype: torch.dtype) -> torch.nn.Module:
    """``model`` itself when it already computes in ``dtype``, else an eval-mode copy in it."""
    if model.embedding.weight.dtype == dtype:
        return model
    return copy.deepcopy(model).to(dtype).eval()
