"""Stage ``composition``: how the model composes sentiment (2019 Table 4).

The protocol follows the 2019 paper's appendix as the project's issue describes it (the
appendix text itself is not available here; details marked *our reading* are ours):

1. Every vocabulary word is classified alone (a one-word sentence). The model's positive
   (negative) words are the 50 words it classifies as positive or very positive (negative or
   very negative) with the highest *model score*; *our reading* of the score: the summed
   probability of that polarity's classes.
2. Modifiers: our own lists of 39 negations and 69 amplifiers (:mod:`wordlists`; the paper's
   lists are not printed there), restricted to words in the vocabulary that the model
   classifies as neutral alone (*ours*), then the ≥ 40 % filter: a negation is kept when
   "negation + positive word" is classified negative for ≥ 40 % of the 50 positive words; an
   amplifier is kept for a polarity when "amplifier + word" is classified in that polarity's
   extreme class (very positive / very negative) for ≥ 40 % of its 50 words (*our reading* of
   what the filter tests).
3. Patterns: negation + positive word, amplifier + positive word, amplifier + negative word,
   negation + amplifier + positive word. For the last, the bigram check: a trigram is used only
   when its bigram "amplifier + positive word" is itself classified very positive (*our
   reading*). Every combination is built; where there are more than ``max_ngrams``, a uniform
   random sample of that size (fixed seed) is used.
4. Each n-gram is explained with LRP for its predicted class; the report gives, per pattern and
   predicted class, the count, the class shares, and the mean and standard deviation of each
   slot's relevance (an average heatmap).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from textlrp.api import explain_batch
from textlrp.batching import encode_batch, score_batch
from textlrp.experiments.sst.common import DTYPE, Context
from textlrp.experiments.sst.wordlists import AMPLIFIERS, NEGATIONS

NAME = "composition"
TOP_WORDS = 50  # positive and negative words per polarity
MODIFIER_SHARE = 0.4  # a modifier must act as expected on at least this share of the words
TITLE = "Semantic composition: negations and amplifiers (2019 Table 4)"
PATTERNS = {
    "negated positive": ("negation", "positive"),
    "amplified positive": ("amplifier", "positive"),
    "amplified negative": ("amplifier", "negative"),
    "negated amplified positive": ("negation", "amplifier", "positive"),
}


def settings(ctx: Context) -> dict[str, Any]:
    """The settings this stage's cached result depends on."""
    s = ctx.settings
    return {
        "max_ngrams": s.max_ngrams,
        "seed": s.ngram_seed,
        "negations": NEGATIONS,
        "amplifiers": AMPLIFIERS,
        "top_words": TOP_WORDS,
        "modifier_share": MODIFIER_SHARE,
        "protocol": 2,
    }


def polarity_classes(class_names: list[str]) -> dict[str, list[int]]:
    """Class indices that count as positive, negative and neutral, from the class names."""
    lowered = [n.lower() for n in class_names]
    return {
        "positive": [i for i, n in enumerate(lowered) if "positive" in n],
        "negative": [i for i, n in enumerate(lowered) if "negative" in n],
        "neutral": [i for i, n in enumerate(lowered) if n == "neutral"],
    }


def text_probabilities(
    model: torch.nn.Module, token_lists: list[list[str]], batch_size: int = 4096
) -> np.ndarray:
    """Class probabilities (N, C) of short texts (one-word sentences, bigrams, ...)."""
    if not token_lists:
        return np.zeros((0, len(model.class_names)))
    scores = score_batch(model, encode_batch(model, token_lists), DTYPE, batch_size)
    return torch.softmax(scores.double(), -1).cpu().numpy()


def single_word_classes(model: torch.nn.Module, words: list[str]) -> np.ndarray:
    """The predicted class of each word read alone."""
    return text_probabilities(model, [[w] for w in words]).argmax(1)


def top_polar_words(
    words: list[str], probabilities: np.ndarray, classes: list[int], top: int
) -> list[str]:
    """The ``top`` words predicted in one of ``classes`` with the highest summed probability
    of those classes (ties: vocabulary order)."""
    mass = probabilities[:, classes].sum(1)
    predicted = probabilities.argmax(1)
    candidates = np.flatnonzero(np.isin(predicted, classes))
    order = candidates[np.argsort(-mass[candidates], kind="stable")]
    return [words[i] for i in order[:top]]


def modifier_shares(
    model: torch.nn.Module, modifiers: list[str], words: list[str], classes: list[int]
) -> list[float]:
    """Per modifier: the share of "modifier + word" bigrams predicted in one of ``classes``."""
    if not modifiers or not words:
        return [0.0] * len(modifiers)
    predicted = text_probabilities(model, [[m, w] for m in modifiers for w in words]).argmax(1)
    hits = np.isin(predicted, classes).reshape(len(modifiers), len(words))
    return hits.mean(1).tolist()


def combinations(sizes: list[int], limit: int, seed: int) -> np.ndarray:
    """Index tuples (N, len(sizes)) of all combinations, or of a uniform sample of ``limit``."""
    total = int(np.prod(sizes)) if sizes else 0
    if total == 0:
        return np.zeros((0, len(sizes)), dtype=np.int64)
    flat = (
        np.arange(total)
        if total <= limit
        else np.sort(np.random.default_rng(seed).choice(total, size=limit, replace=False))
    )
    return np.stack(np.unravel_index(flat, sizes), axis=1).astype(np.int64)


def group_by_class(
    relevance: np.ndarray, probabilities: np.ndarray, predicted: np.ndarray, classes: int
) -> dict[str, dict[str, Any]]:
    """Per predicted class: count, share, mean and standard deviation (ddof=0) of the relevance
    per slot, mean class probabilities."""
    groups = {}
    total = max(len(predicted), 1)
    for c in range(classes):
        rows = predicted == c
        if rows.any():
            groups[str(c)] = {
                "count": int(rows.sum()),
                "share": float(rows.sum() / total),
                "mean_relevance": relevance[rows].mean(0).tolist(),
                "std_relevance": relevance[rows].std(0).tolist(),
                "mean_probabilities": probabilities[rows].mean(0).tolist(),
            }
    return groups


def compute(ctx: Context) -> dict[str, Any]:
    """Compute the stage's numbers (a JSON-ready dict, cached by the runner)."""
    s = ctx.settings
    model = ctx.model
    polar = polarity_classes(ctx.class_names)
    if not (polar["positive"] and polar["negative"] and polar["neutral"]):
        return {"skipped": "the model's classes are not positive/negative/neutral ones"}
    extreme = {"positive": [max(polar["positive"])], "negative": [min(polar["negative"])]}
    bar = ctx.bar(1 + len(PATTERNS), NAME)
    words = model.vocab.to_list()
    probabilities = text_probabilities(model, [[w] for w in words])
    classes = probabilities.argmax(1)
    n_polar = {k: int(np.isin(classes, polar[k]).sum()) for k in ("positive", "negative")}
    positive = top_polar_words(words, probabilities, polar["positive"], TOP_WORDS)
    negative = top_polar_words(words, probabilities, polar["negative"], TOP_WORDS)
    word_class = dict(zip(words, classes.tolist(), strict=True))

    def neutral_only(candidates: tuple[str, ...]) -> tuple[list[str], list[list[Any]]]:
        kept, dropped = [], []
        for w in candidates:
            if w not in word_class:
                dropped.append([w, "not in vocabulary"])
            elif word_class[w] in polar["neutral"]:
                kept.append(w)
            else:
                dropped.append([w, ctx.class_names[word_class[w]]])
        return kept, dropped

    def share_filter(
        candidates: list[str], targets: list[str], classes_: list[int], what: str
    ) -> tuple[list[str], list[list[Any]], dict[str, float]]:
        shares = dict(
            zip(candidates, modifier_shares(model, candidates, targets, classes_), strict=True)
        )
        kept = [m for m in candidates if shares[m] >= MODIFIER_SHARE]
        dropped = [[m, f"{100 * shares[m]:.0f}% {what}"] for m in candidates if m not in kept]
        return kept, dropped, shares

    neutral_negations, negations_dropped = neutral_only(NEGATIONS)
    neutral_amplifiers, amplifiers_dropped = neutral_only(AMPLIFIERS)
    negative_names = " or ".join(ctx.class_names[c] for c in polar["negative"])
    negations, negations_weak, negation_shares = share_filter(
        neutral_negations, positive, polar["negative"], f"classified {negative_names}"
    )
    amplifiers_pos, amp_pos_weak, amp_pos_shares = share_filter(
        neutral_amplifiers,
        positive,
        extreme["positive"],
        f"classified {ctx.class_names[extreme['positive'][0]]}",
    )
    amplifiers_neg, amp_neg_weak, amp_neg_shares = share_filter(
        neutral_amplifiers,
        negative,
        extreme["negative"],
        f"classified {ctx.class_names[extreme['negative'][0]]}",
    )
    slots = {
        "negation": negations,
        "positive": positive,
        "negative": negative,
    }
    amplifier_slot = {
        "amplified positive": amplifiers_pos,
        "amplified negative": amplifiers_neg,
        "negated amplified positive": amplifiers_pos,
    }
    bar.update()
    result: dict[str, Any] = {
        "n_positive_all": n_polar["positive"],
        "n_negative_all": n_polar["negative"],
        "n_words": len(words),
        "top_words": TOP_WORDS,
        "positive_words": positive,
        "negative_words": negative,
        "negations_neutral": neutral_negations,
        "negations_dropped": negations_dropped,
        "negations": negations,
        "negations_weak": negations_weak,
        "negation_shares": negation_shares,
        "amplifiers_neutral": neutral_amplifiers,
        "amplifiers_dropped": amplifiers_dropped,
        "amplifiers_positive": amplifiers_pos,
        "amplifiers_positive_weak": amp_pos_weak,
        "amplifiers_negative": amplifiers_neg,
        "amplifiers_negative_weak": amp_neg_weak,
        "amplifier_shares": {"positive": amp_pos_shares, "negative": amp_neg_shares},
        "patterns": {},
    }
    for p, (name, pattern) in enumerate(PATTERNS.items()):
        lists = [amplifier_slot[name] if slot == "amplifier" else slots[slot] for slot in pattern]
        picks = combinations([len(x) for x in lists], 10**9, 0)  # every combination
        bigram_rejected = 0
        if name == "negated amplified positive" and len(picks):
            pairs = sorted({(a, w) for a, w in picks[:, 1:].tolist()})
            bigrams = [[lists[1][a], lists[2][w]] for a, w in pairs]
            very = text_probabilities(model, bigrams).argmax(1) == extreme["positive"][0]
            allowed = {pair for pair, ok in zip(pairs, very, strict=True) if ok}
            keep = np.array([(a, w) in allowed for a, w in picks[:, 1:].tolist()], dtype=bool)
            bigram_rejected = int((~keep).sum())
            picks = picks[keep]
        possible = len(picks)
        if possible > s.max_ngrams:
            rng = np.random.default_rng(s.ngram_seed + p)
            picks = picks[np.sort(rng.choice(possible, size=s.max_ngrams, replace=False))]
        entry: dict[str, Any] = {
            "slots": list(pattern),
            "possible": int(possible),
            "bigram_rejected": bigram_rejected,
            "evaluated": int(len(picks)),
            "groups": {},
            "examples": {},
        }
        if len(picks):
            token_lists = [[lists[j][i] for j, i in enumerate(row)] for row in picks.tolist()]
            explanations = explain_batch(
                model,
                encode_batch(model, token_lists),
                "lrp",
                "predicted",
                dtype=DTYPE,
                batch_size=max(s.batch_size, 4096),
            )
            batch = explanations.batch
            relevance = batch.relevance.cpu().numpy()[:, : len(pattern)]
            probabilities_ = torch.softmax(batch.scores, -1).cpu().numpy()
            predicted = batch.scores.argmax(1).cpu().numpy()
            entry["groups"] = group_by_class(
                relevance, probabilities_, predicted, len(ctx.class_names)
            )
            for c in entry["groups"]:
                rows = np.flatnonzero(predicted == int(c))[:3]
                entry["examples"][c] = [" ".join(token_lists[r]) for r in rows]
        result["patterns"][name] = entry
        bar.update()
    bar.close()
    return result
