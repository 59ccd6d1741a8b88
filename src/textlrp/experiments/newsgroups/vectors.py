"""Stage ``vectors``: document vectors from word relevance, and how well they separate classes.

A post's vector is Σ_t w_t x_t over its tokens, with x_t the word's word2vec vector (the CNN's
*initial* embedding, the same space for every weighting) and w_t:

- CNN LRP / SA / G×I: the word's relevance for the CNN's predicted class;
- SVM exact: the word's exact SVM relevance for the SVM's predicted class;
- TF-IDF: the word's IDF (summed over occurrences this is tf × idf);
- uniform: 1 (the plain average, up to scale).

Vectors are L2-normalised. Separation is the accuracy of a k-nearest-neighbour classifier
(cosine distance, stratified 5-fold cross-validation over the test posts), the idea behind
the "explanatory power index" of the authors' 2017 follow-up (which takes the best k); the
2-D PCA projections show the same visually (2016 paper, Fig. 4). Ours: posts with ≥ 10
tokens, the k grid, cosine distance, and the word2vec space for every weighting.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from textlrp.experiments.document import Block, Image, Para, Table
from textlrp.experiments.figures import new_figure, save_figure
from textlrp.experiments.newsgroups.common import Context, stratified_sample

NAME = "vectors"
TITLE = "Document vectors: relevance-weighted word sums, PCA and k-NN separability"
REPS = ("lrp", "gradient", "gradient_x_input", "svm", "tfidf", "uniform")
LABELS = {"lrp": "CNN LRP", "gradient": "CNN SA", "gradient_x_input": "CNN G×I",
          "svm": "SVM exact", "tfidf": "TF-IDF", "uniform": "uniform average"}
MIN_LENGTH = 10
PLOT_POINTS = 2000


def settings(ctx: Context) -> dict[str, Any]:
    s = ctx.settings
    return {"docs": ctx.docs_key, "k": s.knn_k, "folds": s.knn_folds, "seed": s.seed,
            "n": s.vector_docs,
            "model": ctx.model_settings() if ctx.model_path is None else str(ctx.model_path),
            "w2v": ctx.word2vec_settings(), "svm_c": s.svm_c}


def document_vectors(ctx: Context, index: np.ndarray) -> dict[str, np.ndarray]:
    from textlrp.models.embeddings import embedding_matrix

    matrix, _ = embedding_matrix(ctx.model.vocab, ctx.vectors, seed=ctx.settings.seed)
    weights: dict[str, np.ndarray] = {
        key: ctx.relevance(key, "predicted", rows=index)[index]
        for key in ("lrp", "gradient", "gradient_x_input", "svm")
    }
    steps = weights["lrp"].shape[1]
    idf = np.zeros((len(index), steps), dtype=np.float32)
    uniform = np.zeros((len(index), steps), dtype=np.float32)
    for b, i in enumerate(index):
        doc = ctx.test_docs[i]
        idf[b, : len(doc)] = [ctx.svm.idf(w) for w in doc]
        uniform[b, : len(doc)] = 1.0
    weights["tfidf"], weights["uniform"] = idf, uniform
    vectors = {key: np.zeros((len(index), matrix.shape[1]), dtype=np.float64) for key in REPS}
    for b, i in enumerate(index):
        rows = ctx.test_rows[i]
        x = matrix[rows]  # (T, e)
        for key in REPS:
            vectors[key][b] = weights[key][b, : len(rows)] @ x
    for key in REPS:
        norms = np.linalg.norm(vectors[key], axis=1, keepdims=True)
        vectors[key] = vectors[key] / np.where(norms > 0, norms, 1.0)
    return vectors


def knn_accuracies(vectors: np.ndarray, labels: np.ndarray, ks, splitter) -> dict[str, float]:
    """Cross-validated accuracy of k-NN (cosine, majority vote, ties to the smaller label) for
    every k, from one neighbour search per fold (the same votes as scikit-learn's
    ``KNeighborsClassifier`` with uniform weights)."""
    from sklearn.neighbors import NearestNeighbors

    ks = list(ks)
    hits = {k: [] for k in ks}
    classes = int(labels.max()) + 1
    for train, test in splitter.split(vectors, labels):
        search = NearestNeighbors(n_neighbors=min(max(ks), len(train)), metric="cosine",
                                  algorithm="brute").fit(vectors[train])
        neighbours = labels[train][search.kneighbors(vectors[test], return_distance=False)]
        for k in ks:
            votes = np.zeros((len(test), classes), dtype=np.int64)
            np.add.at(votes, (np.arange(len(test))[:, None], neighbours[:, :k]), 1)
            hits[k].append(float((votes.argmax(1) == labels[test]).mean()))
    return {str(k): float(np.mean(hits[k])) for k in ks}


def compute(ctx: Context) -> dict[str, Any]:
    from sklearn.decomposition import PCA
    from sklearn.model_selection import StratifiedKFold

    s = ctx.settings
    eligible = np.flatnonzero(ctx.test_lengths >= MIN_LENGTH)
    index = stratified_sample(ctx.test_labels, eligible, s.vector_docs, s.seed)
    labels = ctx.test_labels[index]
    vectors = document_vectors(ctx, index)
    folds = min(s.knn_folds, int(np.bincount(labels).min()))
    splitter = StratifiedKFold(n_splits=max(folds, 2), shuffle=True, random_state=s.seed)
    rng = np.random.default_rng(s.seed)
    shown = np.sort(rng.permutation(len(index))[:PLOT_POINTS])
    knn: dict[str, dict[str, float]] = {}
    pca: dict[str, list[list[float]]] = {}
    explained: dict[str, list[float]] = {}
    for key in REPS:
        knn[key] = knn_accuracies(vectors[key], labels, s.knn_k, splitter)
        projection = PCA(n_components=2, random_state=s.seed).fit(vectors[key])
        pca[key] = np.round(projection.transform(vectors[key][shown]), 4).tolist()
        explained[key] = projection.explained_variance_ratio_.round(4).tolist()
    return {"docs": int(len(index)), "knn": knn, "pca": pca, "pca_labels":
            labels[shown].tolist(), "explained": explained, "folds": int(splitter.n_splits)}


def section(result: dict[str, Any], ctx: Context) -> list[Block]:
    ks = list(result["knn"][REPS[0]])
    rows = []
    for key in REPS:
        values = result["knn"][key]
        best = max(values.values())
        rows.append([LABELS[key]] + [f"{100 * values[k]:.1f}" for k in ks] + [f"{100 * best:.1f}"])
    figure = new_figure(12, 8)
    labels = np.array(result["pca_labels"])
    import matplotlib

    colors = matplotlib.colormaps["tab20"]
    for n, key in enumerate(REPS):
        axis = figure.add_subplot(2, 3, n + 1)
        points = np.array(result["pca"][key])
        for c in range(len(ctx.class_names)):
            chosen = labels == c
            axis.scatter(points[chosen, 0], points[chosen, 1], s=3, color=colors(c),
                         label=ctx.class_names[c])
        axis.set_title(f"{LABELS[key]} (kNN best {rows[n][-1]} %)", fontsize=10)
        axis.set_xticks([])
        axis.set_yticks([])
    handles, names = figure.axes[0].get_legend_handles_labels()
    figure.legend(handles, names, loc="lower center", ncol=5, fontsize=7, markerscale=3)
    figure.tight_layout(rect=(0, 0.1, 1, 1))
    path = save_figure(figure, ctx.out / "vectors_pca.png", ctx.settings.dpi)
    return [
        Para(
            "**Paper.** The 2016 paper's summary reports a PCA analysis of document vectors "
            "Σ_t R_t x_t (relevance-weighted word embeddings) in support of LRP; the 2017 "
            "follow-up turns the idea into a number (k-nearest-neighbour accuracy, "
            "\"explanatory power\"). We have no numbers of the paper to put beside ours. "
            "**Ours.** "
            f"{result['docs']} test posts (stratified sample of those with ≥ {MIN_LENGTH} "
            "tokens); "
            f"{result['folds']}-fold cross-validated kNN accuracy (%), cosine distance; PCA "
            f"scatter of {min(PLOT_POINTS, result['docs'])} posts, coloured by true class."
        ),
        Table(["document vector"] + [f"k={k}" for k in ks] + ["best k"], rows),
        Image(path.name, "2-D PCA of document vectors"),
    ]
