"""Stage ``accuracy``: the CNN's test accuracy beside the classic bag-of-words baselines.

Baselines (scikit-learn, the same stripping): our TF-IDF LinearSVC on the CNN's tokens (the
model explained in the later stages), scikit-learn's default ``TfidfVectorizer`` + LinearSVC
and multinomial naive Bayes on the stripped text, and the SVM on the unstripped posts (headers
kept) to show how much the headers give away.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from textlrp.data.newsgroups import load_newsgroups
from textlrp.experiments.document import Block, Para, Table
from textlrp.experiments.newsgroups.common import Context

NAME = "accuracy"
TITLE = "Test accuracy: the CNN and bag-of-words baselines"


def settings(ctx: Context) -> dict[str, Any]:
    return {"model": ctx.model_settings() if ctx.model_path is None else str(ctx.model_path),
            "svm_c": ctx.settings.svm_c, "per_class": ctx.settings.per_class,
            "remove": ctx.settings.remove}


def compute(ctx: Context) -> dict[str, Any]:
    labels = ctx.test_labels
    cnn_pred = ctx.test_scores.argmax(1)
    svm_pred = ctx.svm_scores.argmax(1)
    _, summary = ctx.trained
    rows = [
        _row("CNN (ours; first 400 tokens)", cnn_pred, labels),
        _row("TF-IDF linear SVM on the CNN's tokens (first 400)", svm_pred, labels),
    ]
    rows += _sklearn_baselines(ctx)
    per_class = [
        [float((cnn_pred[labels == c] == c).mean()) if (labels == c).any() else float("nan"),
         float((svm_pred[labels == c] == c).mean()) if (labels == c).any() else float("nan")]
        for c in range(len(ctx.class_names))
    ]
    return {
        "rows": rows,
        "per_class": per_class,
        "training": summary,
        "test_size": int(len(labels)),
        "train_size": int(len(ctx.train_labels)),
        "empty_test_docs": int((ctx.test_lengths == 0).sum()),
        "truncated_test_docs": int(
            sum(len(d) > ctx.settings.train.max_tokens for d in ctx.test_full_docs)
        ),
    }


def _row(name: str, predicted: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    return {"name": name, "accuracy": float((predicted == labels).mean())}


def _sklearn_baselines(ctx: Context) -> list[dict[str, Any]]:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.naive_bayes import MultinomialNB
    from sklearn.svm import LinearSVC

    def texts(split: str, remove):
        docs = load_newsgroups(split, ctx.source, remove=remove)
        if ctx.settings.per_class is not None:
            keep = set(ctx._splits[split][2])
            docs = [d for d in docs if d.name in keep]
        return [d.text for d in docs], np.array([d.label for d in docs])

    rows = []
    train_text, train_y = texts("train", ctx.settings.remove)
    test_text, test_y = texts("test", ctx.settings.remove)
    vectorizer = TfidfVectorizer()
    train_x = vectorizer.fit_transform(train_text)
    test_x = vectorizer.transform(test_text)
    svm = LinearSVC(C=ctx.settings.svm_c).fit(train_x, train_y)
    rows.append(_row("scikit-learn default TF-IDF + LinearSVC (full posts)",
                     svm.predict(test_x), test_y))
    bayes = MultinomialNB(alpha=0.01).fit(train_x, train_y)
    rows.append(_row("scikit-learn TF-IDF + multinomial naive Bayes (α = 0.01)",
                     bayes.predict(test_x), test_y))
    if ctx.settings.remove:
        raw_train, raw_train_y = texts("train", ())
        raw_test, raw_test_y = texts("test", ())
        vectorizer = TfidfVectorizer()
        svm = LinearSVC(C=ctx.settings.svm_c).fit(vectorizer.fit_transform(raw_train),
                                                 raw_train_y)
        rows.append(_row("same SVM, nothing stripped (headers, signatures and quotes kept)",
                         svm.predict(vectorizer.transform(raw_test)), raw_test_y))
    return rows


def section(result: dict[str, Any], ctx: Context) -> list[Block]:
    training = result["training"]
    blocks: list[Block] = [
        Para(
            f"Test set: {result['test_size']} posts ({result['empty_test_docs']} of them have no "
            f"word left after stripping; {result['truncated_test_docs']} are longer than "
            f"{ctx.settings.train.max_tokens} tokens and are cut there for the CNN and our SVM). "
            "Every row is evaluated on all test posts."
        ),
        Table(
            ["model", "test accuracy"],
            [[r["name"], f"{100 * r['accuracy']:.2f} %"] for r in result["rows"]],
        ),
    ]
    if "epochs" in training:
        stats = training.get("embedding_stats", {})
        blocks.append(
            Para(
                f"CNN training: {training['train_size']} training and {training['dev_size']} dev "
                f"posts, vocabulary {training['vocabulary']} words "
                f"({100 * stats.get('coverage', 0):.1f} % with a vector from "
                f"{training['embeddings']}), best dev accuracy "
                f"{100 * training['dev_accuracy']:.2f} % after epoch {training['best_epoch']} of "
                f"{len(training['epochs'])}; training took {training['train_seconds']:.0f} s. "
                "The stage's time also covers reading the data, word2vec (when not cached) and "
                "the scikit-learn baselines."
            )
        )
        blocks.append(
            Table(
                ["epoch", "mean training loss", "dev accuracy", "elapsed (s)"],
                [
                    [str(e["epoch"]), f"{e['loss']:.4f}", f"{100 * e['dev_accuracy']:.2f} %",
                     f"{e['seconds']:.0f}"]
                    for e in training["epochs"]
                ],
            )
        )
    names = ctx.class_names
    blocks.append(
        Table(
            ["class", "CNN recall", "SVM recall"],
            [
                [names[c], f"{100 * a:.1f} %", f"{100 * b:.1f} %"]
                for c, (a, b) in enumerate(result["per_class"])
            ],
        )
    )
    return blocks
