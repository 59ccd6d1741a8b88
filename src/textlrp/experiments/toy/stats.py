"""The toy task's four statistics per explanation method (spec §7, the paper's Table 2).

For relevances R (N, T) of the single output (each R_t summed over both input dimensions):

- ρ(R_a, n_a) and ρ(R_b, n_b): Pearson correlation over the N test points, in %;
- share: E[(|R_a| + |R_b|) / Σ_t |R_t|], in % (how much relevance lands on the two operands);
- MSE: E[((R_a + R_b) − y_pred)²], how well the operands' relevance reproduces the prediction.
"""

from __future__ import annotations

import math

import numpy as np

STATISTICS = ("rho_a", "rho_b", "share", "mse")


def pearson(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson correlation of two vectors; NaN when either is constant."""
    x = np.asarray(x, dtype=np.float64) - np.mean(x)
    y = np.asarray(y, dtype=np.float64) - np.mean(y)
    denominator = math.sqrt(float(np.dot(x, x)) * float(np.dot(y, y)))
    if denominator == 0.0 or not math.isfinite(denominator):
        return float("nan")
    return float(np.dot(x, y)) / denominator


def relevance_statistics(
    relevance: np.ndarray,
    pos_a: np.ndarray,
    pos_b: np.ndarray,
    n_a: np.ndarray,
    n_b: np.ndarray,
    prediction: np.ndarray,
) -> dict[str, float]:
    """ρ_a, ρ_b and share (in %) and MSE for relevances (N, T), zero on padding.

    A row whose relevance is zero everywhere has no share; it is left out of the share's mean
    (NaN if that holds for every row).
    """
    relevance = np.asarray(relevance, dtype=np.float64)
    rows = np.arange(relevance.shape[0])
    r_a = relevance[rows, np.asarray(pos_a)]
    r_b = relevance[rows, np.asarray(pos_b)]
    total = np.abs(relevance).sum(1)
    ratio = np.divide(
        np.abs(r_a) + np.abs(r_b), total, out=np.full_like(total, np.nan), where=total > 0
    )
    share = float(np.nanmean(ratio)) if np.isfinite(ratio).any() else float("nan")
    residual = r_a + r_b - np.asarray(prediction, dtype=np.float64)
    return {
        "rho_a": 100.0 * pearson(r_a, n_a),
        "rho_b": 100.0 * pearson(r_b, n_b),
        "share": 100.0 * share,
        "mse": float(np.mean(residual * residual)),
    }


def mean_std(values: list[float]) -> tuple[float, float, int]:
    """Mean, sample standard deviation (ddof=1) and count of the finite values."""
    finite = np.array([v for v in values if v is not None and math.isfinite(v)])
    if finite.size == 0:
        return float("nan"), float("nan"), 0
    std = float(finite.std(ddof=1)) if finite.size > 1 else 0.0
    return float(finite.mean()), std, int(finite.size)
