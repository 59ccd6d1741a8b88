"""Helpers every reproduction's report shares: figures on their own canvas, explanations
rebuilt from stored numbers (for the heatmap renderers), relevance-weighted word sums."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from textlrp.explanation import Explanation


def word_weighted_sum(inputs: np.ndarray, relevance: np.ndarray) -> np.ndarray:
    """Σ_t R_t x_t for word-level relevance R (B, T) and embeddings x (B, T, e)."""
    return np.einsum("bt,bte->be", relevance, inputs).astype(np.float32)


# ---------------------------------------------------------------- plotting helpers
def new_figure(width: float, height: float):
    """A matplotlib Figure on its own Agg canvas (pyplot's global state stays untouched)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height))
    FigureCanvasAgg(figure)
    return figure


def save_figure(figure, path: Path, dpi: int) -> Path:
    figure.savefig(path, dpi=dpi, bbox_inches="tight", facecolor="white")
    return path


def make_explanation(
    tokens: list[str],
    relevance: list[float] | np.ndarray,
    probabilities: list[float] | np.ndarray,
    target: int,
    predicted: int,
    class_names: list[str],
    label: str,
    unknown: list[bool] | None = None,
) -> Explanation:
    """An :class:`Explanation` rebuilt from stored numbers, for the heatmap renderers."""
    probabilities = torch.as_tensor(np.asarray(probabilities, dtype=np.float64))
    return Explanation(
        tokens=list(tokens),
        relevance=torch.as_tensor(np.asarray(relevance, dtype=np.float64)),
        relevance_per_dim=None,
        relevance_by_direction=None,
        initial_state_relevance=0.0,
        bias_relevance=0.0,
        scores=probabilities.clamp_min(1e-12).log(),
        probabilities=probabilities,
        target=int(target),
        predicted=int(predicted),
        class_names=list(class_names),
        method=label,
        options={},
        unknown=list(unknown) if unknown is not None else [False] * len(tokens),
    )
