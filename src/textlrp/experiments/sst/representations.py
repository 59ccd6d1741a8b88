"""Stage ``representations``: relevance-weighted sentence vectors (2019 Fig. 1).

Each test sentence becomes d = Σ_t R_t ⊙ x_t, with R_t the relevance of word t for the
predicted class (setting ``representation_target``):

- LRP and Gradient×Input give a relevance per embedding dimension: R_t ⊙ x_t element-wise.
- Occlusion (f-diff, zeroed word) and CD give one relevance per word: R_t · x_t.
- Baselines: the plain average of the word embeddings, and "LRP on h_T": the LRP relevance of
  the final hidden states [h^L_T, h^R_T] themselves (the ε-rule of the output layer,
  R_j = h_j w_cj / (f_c + ε·sign f_c) · f_c), a 2d-dimensional vector.

Each set of vectors is projected on its first two principal components and whitened (each
axis scaled to unit variance), as in the paper's figure; the titles give the share of the
variance the two components explain. As a number to compare the panels (ours, not the
paper's), the report adds the leave-one-out 10-nearest-neighbour accuracy of positive vs
negative sentences in the 2-D projection.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from textlrp.experiments.document import Block, Image, Para, Table
from textlrp.experiments.sst.common import (
    CLASS_COLORS,
    DTYPE,
    Context,
    MethodSpec,
    method_specs,
    new_figure,
    save_figure,
)

NAME = "representations"
TITLE = "Sentence representations Σ_t R_t ⊙ x_t (2019 Fig. 1)"
EPS = 0.001
PANELS = (
    ("lrp", "LRP"),
    ("gradient_x_input", "Gradient×Input"),
    ("occlusion", "Occlusion f-diff"),
    ("cd", "CD"),
    ("average", "average of embeddings"),
    ("lrp_h", "LRP on h_T"),
)


def settings(ctx: Context) -> dict[str, Any]:
    """The settings this stage's cached result depends on."""
    return {"target": ctx.settings.representation_target, "eps": EPS}


def whitened_pca(vectors: np.ndarray, components: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates (N, k) on the top-k principal axes, each scaled to unit variance, and the
    share of the total variance each axis explains. Axis signs: largest loading positive."""
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
    ratio = variance[:components] / total if total > 0 else np.zeros(components)
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
) -> np.ndarray:
    """LRP relevance (B, 2d) of the final hidden states for the target scores (δ = 0)."""
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
    return relevance.cpu().numpy()


def compute(ctx: Context) -> dict[str, Any]:
    """Compute the stage's numbers (a JSON-ready dict, cached by the runner)."""
    specs = method_specs(ctx.settings)
    target = ctx.settings.representation_target
    targets = ctx.targets_of(target)
    bar = ctx.bar(len(PANELS), NAME)
    vectors: dict[str, np.ndarray] = {}
    for key, _ in PANELS:
        if key == "average":
            inputs = ctx.test_inputs()
            vectors[key] = inputs.sum(1) / ctx.test_lengths[:, None]
        elif key == "lrp_h":
            if ctx.model.config.head_hidden or ctx.model.config.readout != "last":
                bar.update()
                continue
            vectors[key] = final_state_relevance(ctx.model, ctx, targets)
        else:
            spec: MethodSpec = specs["occlusion_f"] if key == "occlusion" else specs[key]
            vectors[key] = ctx.relevance(spec, target, mode="zero", per_dim=True)["vector"]
        bar.update()
    bar.close()
    labels = ctx.test_labels
    polar = labels != 2 if len(ctx.class_names) == 5 else np.zeros_like(labels, dtype=bool)
    result: dict[str, Any] = {"target": target, "labels": labels.tolist(), "panels": {}}
    for key, vecs in vectors.items():
        coords, ratio = whitened_pca(vecs)
        result["panels"][key] = {
            "coords": np.round(coords, 4).tolist(),
            "explained": ratio.tolist(),
            "dims": int(vecs.shape[1]),
            "knn_binary": knn_accuracy(coords[polar], (labels[polar] >= 3).astype(int))
            if polar.any()
            else float("nan"),
        }
    return result


def _plot(result: dict[str, Any], names: list[str], path, dpi: int) -> None:
    figure = new_figure(12, 7.5)
    axes = figure.subplots(2, 3)
    labels = np.asarray(result["labels"])
    for ax, (key, title) in zip(axes.ravel(), PANELS, strict=True):
        panel = result["panels"].get(key)
        if panel is None:
            ax.set_axis_off()
            continue
        coords = np.asarray(panel["coords"])
        for c, name in enumerate(names):
            rows = labels == c
            ax.scatter(
                coords[rows, 0],
                coords[rows, 1],
                s=4,
                alpha=0.6,
                color=CLASS_COLORS[c % len(CLASS_COLORS)],
                label=name,
                linewidths=0,
            )
        e1, e2 = (100 * v for v in panel["explained"])
        ax.set_title(f"{title}\nexplained variance {e1:.1f}% + {e2:.1f}%", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0][0].legend(fontsize=7, markerscale=3, title="true class", title_fontsize=7)
    save_figure(figure, path, dpi)


def _knn_text(result: dict[str, Any], key: str) -> str:
    panel = result["panels"].get(key)
    if panel is None or panel["knn_binary"] != panel["knn_binary"]:
        return "–"
    return f"{100 * panel['knn_binary']:.1f}%"


def section(result: dict[str, Any], ctx: Context) -> list[Block]:
    """The report blocks for ``result``; draws the stage's figures into ``ctx.out``."""
    names = ctx.class_names
    png = "representations.png"
    _plot(result, names, ctx.out / png, ctx.settings.dpi)
    rows = []
    for key, title in PANELS:
        panel = result["panels"].get(key)
        if panel is None:
            rows.append([title, "–", "–", "–"])
            continue
        e1, e2 = (100 * v for v in panel["explained"])
        knn = panel["knn_binary"]
        rows.append(
            [
                title,
                str(panel["dims"]),
                f"{e1:.1f}% + {e2:.1f}%",
                "–" if knn != knn else f"{100 * knn:.1f}%",
            ]
        )
    best = max(
        (k for k, _ in PANELS if k in result["panels"]),
        key=lambda k: np.nan_to_num(result["panels"][k]["knn_binary"], nan=-1.0),
    )
    titles = dict(PANELS)
    return [
        Para(
            f"All {len(result['labels'])} test sentences, relevance for the "
            f"**{result['target']}** class; points coloured by the true class. Whitened PCA: "
            "projection on the first two principal components, each scaled to unit variance."
        ),
        Image(png, "sentence representations, whitened PCA"),
        Table(
            [
                "representation",
                "dimensions",
                "variance explained by PC1 + PC2",
                "10-NN positive vs negative in 2-D (ours)",
            ],
            rows,
        ),
        Para(
            "**Paper.** 2019 Fig. 1 shows the same six projections. It compares how well the "
            "relevance-weighted sums and the plain average of the word embeddings separate the "
            "sentiment classes, by eye: the paper gives no numbers for this figure. **Ours**: "
            "the 2-D projection that best separates positive from negative sentences (10-NN) "
            f"is *{titles[best]}* ({100 * result['panels'][best]['knn_binary']:.1f}%); the "
            f"plain average reaches {_knn_text(result, 'average')}. With the predicted class as "
            "target, the vectors carry the model's decision, so it is expected that they "
            "separate the classes better than the average does."
        ),
    ]
