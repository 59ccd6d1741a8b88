"""Faithfulness of explanation methods on a model and a set of texts, all batched.

:func:`prepare` encodes the texts once and scores what every method shares (full and fully
removed inputs, leave-one-out occlusion); :func:`score_relevance` measures one relevance map
per sentence against the model, whatever produced it; :func:`evaluate_faithfulness` runs
every method through :func:`textlrp.api.explain_batch`, adds a random-attribution baseline
(mean of several seeds) and optionally the model-randomisation check, and returns a
JSON-ready summary (one row per method) with per-sentence arrays beside it.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from textlrp.api import DTYPES, explain_batch
from textlrp.batching import (
    DEFAULT_BATCH_SIZE,
    EncodedBatch,
    encode_batch,
    resolve_targets,
    score_batch,
)
from textlrp.errors import InputError
from textlrp.evaluation.metrics import (
    average_ranks,
    check_k_max,
    comprehensiveness_sufficiency,
    curve_auc,
    curve_on_grid,
    leave_one_out,
    perturbation_curves,
    spearman_rows,
)
from textlrp.evaluation.perturb import DEFAULT_CHUNK_COPIES, check_mode, target_probabilities
from textlrp.evaluation.randomization import randomized_copy
from textlrp.methods.base import available_methods, get_method
from textlrp.models.precision import in_dtype

RANDOM = "random"
GRID_POINTS = 101  # points of the mean deletion/insertion curves (fraction 0..1)

# name -> (label, better direction, short description); the table's columns in this order.
SHORT_LABELS = {
    "comprehensiveness": "comp. AOPC",
    "sufficiency": "suff. AOPC",
    "deletion_auc": "del. AUC",
    "insertion_auc": "ins. AUC",
    "spearman_loo": "ρ LOO",
    "randomization": "ρ rand. model",
}
METRICS: dict[str, tuple[str, str, str]] = {
    "comprehensiveness": (
        "Comprehensiveness AOPC",
        "higher",
        "mean over k of p(x) − p(x without its top-k% tokens)",
    ),
    "sufficiency": (
        "Sufficiency AOPC",
        "lower",
        "mean over k of p(x) − p(only its top-k% tokens)",
    ),
    "deletion_auc": (
        "Deletion AUC",
        "lower",
        "area under p while removing tokens, most relevant first",
    ),
    "insertion_auc": (
        "Insertion AUC",
        "higher",
        "area under p while inserting tokens, most relevant first",
    ),
    "spearman_loo": (
        "Spearman ρ vs leave-one-out",
        "higher",
        "rank correlation with the drop of p when each token alone is removed",
    ),
    "randomization": (
        "Spearman ρ vs randomised model",
        "lower",
        "rank correlation of explanations of the model and of a weight-randomised copy",
    ),
}
FAITHFULNESS_METRICS = tuple(m for m in METRICS if m != "randomization")


@dataclasses.dataclass
class Prepared:
    """The encoded texts and what every method's evaluation shares."""

    batch: EncodedBatch
    embedded: torch.Tensor  # (B, T, e) in the evaluation dtype
    targets: torch.Tensor  # (B,) class per sentence
    full: torch.Tensor  # (B,) p_c of the unchanged sentence
    empty: torch.Tensor  # (B,) p_c with every token removed
    loo: np.ndarray  # (B, T) leave-one-out occlusion of p_c, NaN on padding
    dtype: torch.dtype
    mode: str

    @property
    def lengths(self) -> np.ndarray:
        return self.batch.lengths.numpy()


@dataclasses.dataclass
class SentenceScores:
    """Per-sentence results of one relevance map (arrays over the B sentences)."""

    comprehensiveness: np.ndarray  # (B, K), k = 1..K percent
    sufficiency: np.ndarray  # (B, K)
    deletion: np.ndarray  # (B, GRID_POINTS) curve over the removed fraction
    insertion: np.ndarray  # (B, GRID_POINTS) curve over the inserted fraction
    deletion_auc: np.ndarray  # (B,)
    insertion_auc: np.ndarray  # (B,)
    spearman_loo: np.ndarray  # (B,), NaN where undefined (one token, constant values)

    def per_sentence(self) -> dict[str, np.ndarray]:
        """One value per sentence for each metric of the table."""
        return {
            "comprehensiveness": self.comprehensiveness.mean(1),
            "sufficiency": self.sufficiency.mean(1),
            "deletion_auc": self.deletion_auc,
            "insertion_auc": self.insertion_auc,
            "spearman_loo": self.spearman_loo,
        }


def prepare(
    model: torch.nn.Module,
    batch: EncodedBatch,
    targets: torch.Tensor,
    *,
    dtype: torch.dtype = torch.float32,
    mode: str = "zero",
    chunk_copies: int = DEFAULT_CHUNK_COPIES,
) -> Prepared:
    """Embed the batch and score the unchanged, the empty and the leave-one-out copies."""
    check_mode(mode)
    model = in_dtype(model, dtype)
    embedded = batch.inputs(model, dtype)
    lengths = batch.lengths.cpu()
    size = batch.size
    steps = embedded.shape[1]
    real = torch.arange(steps)[None, :] < lengths[:, None]
    rows = torch.cat([torch.arange(size), torch.arange(size)])
    removed = torch.cat([torch.zeros(size, steps, dtype=torch.bool), real])
    both = target_probabilities(
        model, embedded, lengths, targets, rows, removed, mode, chunk_copies
    )
    full, empty = both[:size], both[size:]
    loo = leave_one_out(model, embedded, lengths, targets, full, mode, chunk_copies)
    return Prepared(batch, embedded, targets, full, empty, loo, dtype, mode)


def score_relevance(
    model: torch.nn.Module,
    prepared: Prepared,
    relevance: torch.Tensor,
    *,
    k_max: int = 50,
    chunk_copies: int = DEFAULT_CHUNK_COPIES,
) -> SentenceScores:
    """Every faithfulness metric of ``relevance`` (B, T) against the model, per sentence."""
    check_k_max(k_max)
    steps = prepared.embedded.shape[1]
    relevance = torch.as_tensor(relevance).detach().cpu()
    if relevance.dim() != 2 or relevance.shape[0] != prepared.batch.size:
        raise InputError(
            f"relevance must have shape ({prepared.batch.size}, ≥{steps}), got "
            f"{tuple(relevance.shape)}"
        )
    if relevance.shape[1] < int(prepared.batch.lengths.max()):
        raise InputError("relevance is shorter than the longest sentence")
    relevance = relevance[:, :steps]
    model = in_dtype(model, prepared.dtype)
    lengths = prepared.lengths
    deletion, insertion = perturbation_curves(
        model,
        prepared.embedded,
        prepared.batch.lengths,
        prepared.targets,
        relevance,
        prepared.full,
        prepared.empty,
        prepared.mode,
        chunk_copies,
    )
    comprehensiveness, sufficiency = comprehensiveness_sufficiency(
        deletion, insertion, lengths, k_max
    )
    real = np.arange(steps)[None, :] < lengths[:, None]
    values = np.where(real, relevance.double().numpy(), np.nan)
    return SentenceScores(
        comprehensiveness=comprehensiveness,
        sufficiency=sufficiency,
        deletion=curve_on_grid(deletion, lengths, GRID_POINTS),
        insertion=curve_on_grid(insertion, lengths, GRID_POINTS),
        deletion_auc=curve_auc(deletion, lengths),
        insertion_auc=curve_auc(insertion, lengths),
        spearman_loo=spearman_rows(values, prepared.loo, lengths),
    )


def random_relevance(mask: torch.Tensor, seed: int) -> torch.Tensor:
    """Uniform random relevance (B, T) on real tokens: a random ranking of each sentence."""
    generator = torch.Generator().manual_seed(seed)
    values = torch.rand(mask.shape, generator=generator, dtype=torch.float64)
    return values * mask.cpu()


@dataclasses.dataclass
class FaithfulnessResult:
    """The summary table (``summary``, JSON-ready) and per-sentence scores of every method."""

    summary: dict[str, Any]
    sentences: dict[str, SentenceScores]  # method -> scores; random seeds as "random/<seed>"
    randomization: dict[str, np.ndarray]  # method -> per-sentence ρ (when requested)


def evaluate_faithfulness(
    model: torch.nn.Module,
    texts: Sequence[str | Sequence[str]],
    methods: Sequence[str] | None = None,
    *,
    target: Any = "predicted",
    labels: Sequence[int | None] | None = None,
    k_max: int = 50,
    mode: str = "zero",
    seeds: int = 3,
    randomization: bool = False,
    dtype: torch.dtype | str = "float32",
    batch_size: int = DEFAULT_BATCH_SIZE,
    chunk_copies: int = DEFAULT_CHUNK_COPIES,
    method_options: dict[str, dict[str, Any]] | None = None,
    progress: bool | None = None,
    log: Callable[[str], None] | None = None,
) -> FaithfulnessResult:
    """Measure how faithfully each method's relevance reflects the model on ``texts``.

    ``methods`` defaults to every registered method; a default method that does not apply to
    the model (Contextual Decomposition on a GRU, say) is skipped with a note, a method asked
    for by name is not. ``target`` is ``"predicted"`` (default), ``"label"`` (needs
    ``labels``), a class index or name; all metrics use the softmax probability of that class.
    Tokens are removed by zeroing their embedding (``mode="zero"``) or dropping them
    (``"drop"``). ``seeds`` random rankings give the baseline (0: none); ``randomization``
    adds the model-randomisation sanity check.
    """
    log = log or (lambda message: print(message, file=sys.stderr))
    check_k_max(k_max)
    check_mode(mode)
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 0:
        raise InputError(f"seeds must be a whole number ≥ 0, got {seeds!r}")
    if batch_size < 1 or chunk_copies < 1:
        raise InputError("batch_size and chunk_copies must be at least 1")
    torch_dtype = _dtype(dtype)
    explicit = methods is not None
    names = list(methods) if explicit else available_methods()
    if not names and seeds == 0:
        raise InputError("nothing to evaluate: give at least one method or one random seed")
    method_options = dict(method_options or {})
    for name in names:
        get_method(name)  # unknown names fail here, before any work
    _check_options(names, method_options)

    tokens, kept, skipped = tokenize_texts(model, texts)
    if labels is not None:
        labels = [labels[i] for i in kept]
    batch = encode_batch(model, tokens)
    started = time.perf_counter()
    # An eval-mode copy in the dtype when needed: the caller's model is never switched.
    model = in_dtype(model, torch_dtype)
    scores = score_batch(model, batch, torch_dtype, batch_size)
    targets = _targets(target, labels, scores, list(model.class_names))
    prepared = prepare(
        model, batch, targets, dtype=torch_dtype, mode=mode, chunk_copies=chunk_copies
    )
    shared_seconds = time.perf_counter() - started
    randomized = randomized_copy(model, seed=0) if randomization else None
    sentences: dict[str, SentenceScores] = {}
    randomization_rho: dict[str, np.ndarray] = {}
    seconds: dict[str, dict[str, float]] = {}
    skipped_methods: dict[str, str] = {}
    steps = len(names) + seeds
    bar = tqdm(total=steps, desc="evaluate", unit="method", disable=_no_bar(progress))
    for name in names:
        bar.set_postfix_str(name)
        options = _options_for(name, method_options, mode)
        t0 = time.perf_counter()
        try:
            output = explain_batch(
                model,
                batch,
                name,
                targets,
                dtype=torch_dtype,
                batch_size=batch_size,
                per_dim=False,  # the metrics read word relevance only
                **options,
            )
        except InputError as exc:
            if explicit:
                raise
            skipped_methods[name] = str(exc)
            log(f"textlrp: skipped {name}: {exc}")
            bar.update()
            continue
        t1 = time.perf_counter()
        relevance = output.batch.relevance
        sentences[name] = score_relevance(
            model, prepared, relevance, k_max=k_max, chunk_copies=chunk_copies
        )
        t2 = time.perf_counter()
        seconds[name] = {"explain": t1 - t0, "metrics": t2 - t1}
        if randomized is not None:
            other = explain_batch(
                randomized,
                batch,
                name,
                targets,
                dtype=torch_dtype,
                batch_size=batch_size,
                per_dim=False,  # the metrics read word relevance only
                **options,
            ).batch.relevance
            randomization_rho[name] = _rank_agreement(relevance, other, prepared)
            seconds[name]["randomization"] = time.perf_counter() - t2
        bar.update()
    for seed in range(seeds):
        bar.set_postfix_str(f"random seed {seed}")
        t0 = time.perf_counter()
        sentences[f"{RANDOM}/{seed}"] = score_relevance(
            model,
            prepared,
            random_relevance(batch.mask, seed),
            k_max=k_max,
            chunk_copies=chunk_copies,
        )
        seconds.setdefault(RANDOM, {"metrics": 0.0})["metrics"] += time.perf_counter() - t0
        bar.update()
    bar.close()
    settings = {
        "sentences": batch.size,
        "skipped_texts": skipped,
        "tokens": int(batch.lengths.sum()),
        "target": str(target),
        "removal": mode,
        "k_max": k_max,
        "seeds": seeds,
        "randomization": randomization,
        "dtype": str(torch_dtype).replace("torch.", ""),
        "method_options": {
            n: _options_for(n, method_options, mode) for n in sentences if "/" not in n
        },
        "skipped_methods": skipped_methods,
        "seconds_shared": shared_seconds,
        "seconds_total": time.perf_counter() - started,
        "class_names": list(model.class_names),
    }
    summary = summarize(sentences, randomization_rho, settings, seconds)
    return FaithfulnessResult(summary, sentences, randomization_rho)


def _dtype(dtype: torch.dtype | str) -> torch.dtype:
    if isinstance(dtype, str) and dtype in DTYPES:
        return DTYPES[dtype]
    if isinstance(dtype, torch.dtype) and dtype in DTYPES.values():
        return dtype
    raise InputError(f"unknown dtype {dtype!r}; choose float32 or float64")


def tokenize_texts(
    model: torch.nn.Module, texts: Sequence[str | Sequence[str]]
) -> tuple[list[list[str]], list[int], list[dict[str, Any]]]:
    """Tokens of the texts that can be evaluated, their indices, and the skipped ones (why).

    A text without any word (or without a word the model knows) cannot be perturbed in a
    meaningful way; it is left out and listed rather than stopping a long run.
    """
    from textlrp.data.tokenizer import tokenize

    texts = list(texts)
    if not texts:
        raise InputError("no texts to evaluate; give a file with at least one text")
    vocab = getattr(model, "vocab", None)
    tokens, kept, skipped = [], [], []
    for i, text in enumerate(texts):
        if isinstance(text, str):
            words = tokenize(text)
        elif isinstance(text, Sequence) and all(isinstance(t, str) for t in text):
            words = list(text)
        else:
            raise InputError(f"text #{i} must be a string or a list of token strings")
        words = [w for w in words if w.strip()]
        if not words:
            skipped.append({"index": i, "reason": "empty"})
            continue
        if vocab is not None and not any(vocab.is_known(w) for w in words):
            skipped.append({"index": i, "reason": "no word in the model's vocabulary"})
            continue
        tokens.append(words)
        kept.append(i)
    if not tokens:
        raise InputError(
            f"none of the {len(texts)} texts can be evaluated (empty, or no word in the "
            "model's vocabulary); check the input file and the model"
        )
    return tokens, kept, skipped


def _targets(
    target: Any, labels: Sequence[int | None] | None, scores: torch.Tensor, names: list[str]
) -> torch.Tensor:
    if isinstance(target, str) and target == "label":
        if labels is None or any(label is None for label in labels):
            raise InputError(
                "target 'label' needs a label for every text (give --label-column, or use "
                "--target predicted)"
            )
        return resolve_targets(list(labels), scores, names)
    return resolve_targets(target, scores, names)


def _check_options(names: list[str], method_options: dict[str, dict[str, Any]]) -> None:
    for name, options in method_options.items():
        if name not in names:
            raise InputError(f"options given for method '{name}', which is not evaluated")
        allowed = get_method(name).options
        unknown = sorted(set(options) - set(allowed))
        if unknown:
            raise InputError(
                f"method '{name}' does not take option(s) {', '.join(unknown)}; "
                f"it takes: {', '.join(allowed) or 'none'}"
            )


def _options_for(name: str, method_options: dict[str, dict[str, Any]], mode: str) -> dict:
    """The user's options for ``name``; occlusion removes words the way the metrics do."""
    options = dict(method_options.get(name, {}))
    if "mode" in get_method(name).options:
        options.setdefault("mode", mode)
    return options


def _rank_agreement(relevance: torch.Tensor, other: torch.Tensor, prepared: Prepared) -> np.ndarray:
    steps = prepared.embedded.shape[1]
    lengths = prepared.lengths
    real = np.arange(steps)[None, :] < lengths[:, None]
    a = np.where(real, relevance[:, :steps].detach().cpu().double().numpy(), np.nan)
    b = np.where(real, other[:, :steps].detach().cpu().double().numpy(), np.nan)
    return spearman_rows(a, b, lengths)


def _no_bar(progress: bool | None) -> bool | None:
    return None if progress is None else not progress


# ------------------------------------------------------------------ the summary table
def _stat(values: np.ndarray) -> dict[str, float]:
    values = np.asarray(values, dtype=np.float64)
    valid = values[~np.isnan(values)]
    if valid.size == 0:
        return {"mean": float("nan"), "se": float("nan"), "n": 0}
    se = float(valid.std(ddof=1) / np.sqrt(valid.size)) if valid.size > 1 else float("nan")
    return {"mean": float(valid.mean()), "se": se, "n": int(valid.size)}


def _curves(scores: SentenceScores) -> dict[str, list[float]]:
    return {
        "comprehensiveness": scores.comprehensiveness.mean(0).tolist(),
        "sufficiency": scores.sufficiency.mean(0).tolist(),
        "deletion": scores.deletion.mean(0).tolist(),
        "insertion": scores.insertion.mean(0).tolist(),
    }


def summarize(
    sentences: dict[str, SentenceScores],
    randomization_rho: dict[str, np.ndarray],
    settings: dict[str, Any],
    seconds: dict[str, dict[str, float]],
) -> dict[str, Any]:
    """The JSON-ready table: one row per method, the random baseline as the mean of its seeds."""
    rows: dict[str, dict[str, Any]] = {}
    for name, scores in sentences.items():
        if name.startswith(RANDOM + "/"):
            continue
        metrics = {m: _stat(v) for m, v in scores.per_sentence().items()}
        if name in randomization_rho:
            metrics["randomization"] = _stat(randomization_rho[name])
        rows[name] = {"metrics": metrics, "curves": _curves(scores), "seconds": seconds[name]}
    seeds = [s for n, s in sentences.items() if n.startswith(RANDOM + "/")]
    if seeds:
        per_seed = [{m: _stat(v) for m, v in s.per_sentence().items()} for s in seeds]
        metrics = {}
        for metric in per_seed[0]:
            means = np.array([p[metric]["mean"] for p in per_seed])
            ses = np.array([p[metric]["se"] for p in per_seed])
            metrics[metric] = {
                "mean": float(np.mean(means)),
                "se": float(np.mean(ses)),
                "seed_std": float(np.std(means, ddof=1)) if len(means) > 1 else float("nan"),
                "n": per_seed[0][metric]["n"],
            }
        curves = [_curves(s) for s in seeds]
        rows[RANDOM] = {
            "metrics": metrics,
            "curves": {k: np.mean([c[k] for c in curves], 0).tolist() for k in curves[0]},
            "seconds": seconds.get(RANDOM, {}),
        }
    summary = {
        "settings": settings,
        "metrics": {
            name: {
                "label": label,
                "short": SHORT_LABELS[name],
                "better": better,
                "definition": definition,
            }
            for name, (label, better, definition) in METRICS.items()
            if name != "randomization" or settings.get("randomization")
        },
        "methods": rows,
    }
    summary["ranking"] = rank_methods(rows, FAITHFULNESS_METRICS)
    summary["ranking"]["margins"] = paired_margins(sentences, summary["ranking"]["best"])
    return summary


def paired_margins(
    sentences: dict[str, SentenceScores], best: dict[str, str]
) -> dict[str, dict[str, Any]]:
    """How far each metric's best method is ahead of the runner-up and of random.

    Differences are paired over texts (same texts, same model), oriented so that a positive
    value means the best method is better; ± is the standard error of the mean difference.
    """
    per_text = {n: s.per_sentence() for n, s in sentences.items() if "/" not in n}
    seeds = [s.per_sentence() for n, s in sentences.items() if n.startswith(RANDOM + "/")]
    if seeds:
        per_text[RANDOM] = {m: np.mean([s[m] for s in seeds], 0) for m in seeds[0]}
    margins: dict[str, dict[str, Any]] = {}
    for metric, winner in best.items():
        sign = 1.0 if METRICS[metric][1] == "higher" else -1.0
        others = {
            n: _stat(v[metric])["mean"] for n, v in per_text.items() if n not in (winner, RANDOM)
        }
        entry: dict[str, Any] = {"best": winner}
        runner_up = max(others, key=lambda n: sign * others[n]) if others else None
        for key, other in (("runner_up", runner_up), ("random", RANDOM if seeds else None)):
            if other is None:
                continue
            difference = sign * (per_text[winner][metric] - per_text[other][metric])
            entry[key] = {"method": other, **_stat(difference)}
        margins[metric] = entry
    return margins


def rank_methods(rows: dict[str, dict[str, Any]], metrics: Sequence[str]) -> dict[str, Any]:
    """Best method per metric, each method's mean rank over ``metrics`` and the overall winner.

    The random baseline is ranked too (a method below it on a metric is worse than chance
    there) but cannot win.
    """
    best: dict[str, str] = {}
    ranks: dict[str, list[float]] = {name: [] for name in rows}
    for metric in metrics:
        sign = 1.0 if METRICS[metric][1] == "higher" else -1.0
        values = {
            name: row["metrics"][metric]["mean"]
            for name, row in rows.items()
            if metric in row["metrics"] and not np.isnan(row["metrics"][metric]["mean"])
        }
        ordered = sorted(values, key=lambda n: -sign * values[n])
        candidates = [n for n in ordered if n != RANDOM]
        if candidates:
            best[metric] = candidates[0]
        if ordered:
            # rank 1 = best; equal values share their mean rank
            positions = average_ranks(np.array([-sign * values[n] for n in ordered]))
            for name, position in zip(ordered, positions, strict=True):
                ranks[name].append(float(position))
    mean_rank = {name: float(np.mean(r)) for name, r in ranks.items() if r}
    methods = [n for n in mean_rank if n != RANDOM]
    overall = min(methods, key=lambda n: mean_rank[n]) if methods else None
    return {"best": best, "mean_rank": mean_rank, "overall": overall}
