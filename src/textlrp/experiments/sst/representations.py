"""Stage ``representations``: relevance-weighted sentence vectors (2019 Fig. 1).

As in the paper, each test sentence becomes d = Σ_t R_t ⊙ x_t, with R_t the relevance of word
t for the sentence's **true** class (the paper's footnote to this figure; setting
``representation_target``):

- LRP and Gradient×Input give a relevance per embedding dimension: R_t ⊙ x_t element-wise.
- Occlusion P-diff (zeroed word, as the paper) and CD give one relevance per word: R_t · x_t.
- Baselines: the plain average of the word embeddings, and the final hidden state reweighted
  by its relevance, R(h_T) ⊙ h_T, where R(h_T) is the LRP relevance of [h^L_T, h^R_T] (the
  ε-rule of the output layer, R_j = h_j w_cj / (f_c + ε·sign f_c) · f_c), 2d dimensions.

Each set of vectors is projected on its first two principal components and whitened (each
axis scaled to unit variance), as in the paper's figure; the report gives the share of the
variance PC1, PC2 and PC3 explain. As a number to compare the panels (ours, not the paper's),
it adds the leave-one-out 10-nearest-neighbour accuracy of positive vs negative sentences in
the 2-D projection. Our earlier setting (predicted class, Occlusion f-diff, R(h_T) without
h_T) is computed too and shown as a variant, to measure what the protocol change does.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from textlrp.experiments.sst.common import (
    DTYPE,
    Context,
    MethodSpec,
    method_specs,
)

NAME = "representations"
TITLE = "Sentence representations Σ_t R_t ⊙ x_t (2019 Fig. 1)"
EPS = 0.001
PANELS = (
    ("lrp", "LRP"),
    ("gradient_x_input", "Gradient×Input"),
    ("occlusion_p", "Occlusion P-diff"),
    ("cd", "CD"),
    ("average", "average of embeddings"),
    ("lrp_h_weighted", "R(h_T) ⊙ h_T"),
)
# Our earlier setting, kept as a variant to measure the effect of the protocol change.
VARIANT_TARGET = "predicted"
VARIANT_PANELS = (
    ("lrp", "LRP"),
    ("gradient_x_input", "Gradient×Input"),
    ("occlusion_f", "Occlusion f-diff"),
    ("cd", "CD"),
    ("lrp_h", "R(h_T) alone"),
)
COMPONENTS = 3  # explained variance reported for PC1..PC3; the plot uses PC1, PC2


def settings(ctx: Context) -> dict[str, Any]:
    """The settings this stage's cached result depends on."""
    return {
        "target": ctx.settings.representation_target,
        "eps": EPS,
        "panels": [k for k, _ in PANELS],
        "variant": [VARIANT_TARGET, [k for k, _ in VARIANT_PANELS]],
        "components": COMPONENTS,
    }


def whitened_pca(
    vectors: np.ndarray, components: int = 2, explained: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates (N, k) on the top-k principal axes, each scaled to unit variance, and the
    share of the total variance each of the top ``explained`` (default k) axes explains.
    Axis signs: largest loading positive."""
    data = np.asarray(vectors, dtype=np.float64)
    centred = data - data.mean(0)
    _, singular, axes = np.linalg.svd(centred, full_matrices=False)
    variance = singular**2 / max(len(data) - 1, 1)
    axes = axes[:components]
    flip = np.sign(axes[np.arange(len(axes)), np.abs(axes).argmax(1)])
    axes = axes * flip[:, None]
    scale = np.sqrt(np.where(variance[:components] > 0, variance[:components], 1.0))
    coords = centred @ axes.T / scale
    total = variance.sum()
    shown = components if explained is None else explained
    ratio = np.zeros(shown)
    if total > 0:
        kept = variance[:shown] / total
        ratio[: len(kept)] = kept
    return coords, ratio


def knn_accuracy(points: np.ndarray, labels: np.ndarray, k: int = 10) -> float:
    """Leave-one-out k-NN accuracy (majority vote; ties to the smaller label)."""
    if len(points) <= k:
        return float("nan")
    squared = (points**2).sum(1)
    distances = squared[:, None] + squared[None, :] - 2 * points @ points.T
    np.fill_diagonal(distances, np.inf)
    neighbours = np.argpartition(distances, k, axis=1)[:, :k]
    votes = labels[neighbours]
    classes = np.unique(labels)
    counts = np.stack([(votes == c).sum(1) for c in classes], axis=1)
    predicted = classes[counts.argmax(1)]
    return float((predicted == labels).mean())


def final_state_relevance(
    model: torch.nn.Module, ctx: Context, targets: np.ndarray, eps: float = EPS
) -> tuple[np.ndarray, np.ndarray]:
    """LRP relevance R(h_T) (B, 2d) of the final hidden states for the target scores (δ = 0),
    and the states h_T themselves."""
    batch = ctx.test_batch
    with torch.no_grad():
        states = model.final_states(batch.inputs(model, DTYPE), batch.lengths)
        weight = model.output.weight.detach().to(states.dtype)
        rows = weight[torch.as_tensor(targets)]
        contributions = states * rows
        score = contributions.sum(1, keepdim=True)
        if model.output.bias is not None:
            score = score + model.output.bias.detach()[torch.as_tensor(targets)][:, None]
        sign = torch.where(score >= 0, 1.0, -1.0)
        relevance = contributions / (score + eps * sign) * score
    return relevance.cpu().numpy(), states.cpu().numpy()


def sentence_vectors(
    ctx: Context, target: str, panels: tuple[tuple[str, str], ...], bar
) -> dict[str, np.ndarray]:
    """Sentence vectors (B, dims) per panel key for ``target`` ("true", "predicted")."""
    specs = method_specs(ctx.settings)
    targets = ctx.targets_of(target)
    vectors: dict[str, np.ndarray] = {}
    state_based = ctx.model.config.head_hidden or ctx.model.config.readout != "last"
    for key, _ in panels:
        if key == "average":
            inputs = ctx.test_inputs()
            vectors[key] = inputs.sum(1) / ctx.test_lengths[:, None]
        elif key in ("lrp_h", "lrp_h_weighted"):
            if not state_based:
                relevance, states = final_state_relevance(ctx.model, ctx, targets)
                vectors[key] = relevance * states if key == "lrp_h_weighted" else relevance
        else:
            spec: MethodSpec = specs[key]
            vectors[key] = ctx.relevance(spec, target, mode="zero", per_dim=True)["vector"]
        bar.update()
    return vectors


def _panel(vecs: np.ndarray, labels: np.ndarray, polar: np.ndarray, coords: bool):
    points, ratio = whitened_pca(vecs, 2, COMPONENTS)
    panel: dict[str, Any] = {
        "explained": ratio.tolist(),
        "dims": int(vecs.shape[1]),
        "knn_binary": knn_accuracy(points[polar], (labels[polar] >= 3).astype(int))
        if polar.any()
        else float("nan"),
    }
    if coords:
        panel["coords"] = np.round(points, 4).tolist()
    return panel


def compute(ctx: Context) -> dict[str, Any]:
    """Compute the stage's numbers (a JSON-ready dict, cached by the runner)."""
    target = ctx.settings.representation_target
    bar = ctx.bar(len(PANELS) + len(VARIANT_PANELS), NAME)
    vectors = sentence_vectors(ctx, target, PANELS, bar)
    variant = sentence_vectors(ctx, VARIANT_TARGET, VARIANT_PANELS, bar)
    bar.close()
    labels = ctx.test_labels
    polar = labels != 2 if len(ctx.class_names) == 5 else np.zeros_like(labels, dtype=bool)
    return {
        "target": target,
        "labels": labels.tolist(),
        "panels": {k: _panel(v, labels, polar, True) for k, v in vectors.items()},
        "variant_target": VARIANT_TARGET,
        "variant": {k: _panel(v, labels, polar, False) for k, v in variant.items()},
    }
