"""``textlrp.explain``: the one entry point from texts to explanations."""

from __future__ import annotations

import dataclasses
import weakref
from collections.abc import Callable, Sequence
from typing import Any

import torch

from textlrp.batching import (
    DEFAULT_BATCH_SIZE,
    EncodedBatch,
    Target,
    encode_batch,
    fill_predicted,
    resolve_targets,
    run_in_chunks,
    score_batch,
)
from textlrp.errors import InputError
from textlrp.explanation import Explanation, ExplanationBatch, Explanations
from textlrp.methods.base import MethodOutput, get_method
from textlrp.models.persistence import check_finite_weights
from textlrp.models.precision import _fingerprint as parameter_fingerprint
from textlrp.models.precision import in_dtype

# Re-exported: callers of the 0.1 API imported these from here.
__all__ = [
    "DEFAULT_BATCH_SIZE",
    "encode_batch",
    "explain",
    "explain_batch",
    "explain_vectors",
    "resolve_targets",
    "score_batch",
]

Text = str | Sequence[str]

DTYPES = {"float32": torch.float32, "float64": torch.float64}


def explain(
    model: torch.nn.Module,
    texts: Text | Sequence[Text],
    method: str = "lrp",
    target: Target | Sequence[Target] = "predicted",
    *,
    dtype: torch.dtype | str = torch.float32,
    batch_size: int = DEFAULT_BATCH_SIZE,
    per_dim: bool = True,
    **options: Any,
) -> Explanations:
    """Explain the model's score for ``target`` on each text, all texts as padded batches.

    ``texts`` is one text or a list; a text is a raw string (tokenized the way SST is) or a list
    of tokens. ``target`` is ``"predicted"``, a class index, a class name, or one such target
    per text. ``options`` go to the method (LRP: ``eps``, ``bias_factor``; ``product_rule`` for
    LSTM/GRU models; ``conv_rule``, ``head_rule``, ``composite`` for CNNs).
    ``per_dim=False`` leaves out ``relevance_per_dim`` (texts × tokens × embedding dims),
    which for long documents costs more than the explanation itself.
    Returns one :class:`Explanation` per text; ``result.batch`` holds the padded tensors.
    """
    tokens = [_tokens_of(text, i) for i, text in enumerate(_as_text_list(texts))]
    _check_call(model, method, batch_size, options)
    batch = encode_batch(model, tokens)
    return explain_batch(
        model,
        batch,
        method,
        target,
        dtype=dtype,
        batch_size=batch_size,
        per_dim=per_dim,
        **options,
    )


def explain_vectors(
    model: torch.nn.Module,
    inputs: torch.Tensor,
    lengths: torch.Tensor | Sequence[int] | None = None,
    method: str = "lrp",
    target: Target | Sequence[Target] = "predicted",
    *,
    dtype: torch.dtype | str = torch.float32,
    batch_size: int = DEFAULT_BATCH_SIZE,
    **options: Any,
) -> Explanations:
    """Explain a model on input vectors (B, T, e) instead of words, e.g. the toy task's.

    ``lengths`` (default: all T) marks how many steps of each row are real; the tokens of the
    explanations are named ``x1``, ``x2``, ... .
    """
    _check_call(model, method, batch_size, options)
    if not isinstance(inputs, torch.Tensor) or inputs.dim() != 3:
        raise InputError("inputs must be a tensor of shape (batch, steps, features)")
    batch, steps, features = inputs.shape
    if features != model.embedding.embedding_dim:
        raise InputError(
            f"inputs have {features} features per step; the model takes "
            f"{model.embedding.embedding_dim}"
        )
    if not torch.isfinite(inputs).all():
        raise InputError("inputs contain NaN or inf values")
    lengths = torch.full((batch,), steps) if lengths is None else torch.as_tensor(lengths)
    lengths = lengths.to(torch.long).cpu()
    if lengths.shape != (batch,) or batch == 0 or lengths.min() < 1 or lengths.max() > steps:
        raise InputError(f"lengths must give one value in 1..{steps} for each of the {batch} rows")
    mask = torch.arange(steps)[None, :] < lengths[:, None]
    tokens = [[f"x{t + 1}" for t in range(n)] for n in lengths.tolist()]
    device = model.embedding.weight.device
    encoded = EncodedBatch(
        tokens,
        torch.zeros((batch, steps), dtype=torch.long, device=device),
        lengths,
        mask.to(device),
        torch.zeros((batch, steps), dtype=torch.bool),
        inputs,
    )
    return explain_batch(
        model, encoded, method, target, dtype=dtype, batch_size=batch_size, **options
    )


def explain_batch(
    model: torch.nn.Module,
    batch: EncodedBatch,
    method: str,
    target: Target | Sequence[Target],
    *,
    dtype: torch.dtype | str,
    batch_size: int,
    per_dim: bool = True,
    **options: Any,
) -> Explanations:
    """Explain an already encoded batch (the shared back half of the ``explain`` functions).

    ``per_dim=False`` drops ``relevance_per_dim`` chunk by chunk: for long documents with wide
    embeddings that (texts × tokens × dims) tensor costs more than the explanation itself.
    """
    dtype = _resolve_dtype(dtype)
    info = get_method(method)
    function = info.function if per_dim else _without_per_dim(info.function)
    _check_weights(model)
    # One eval-mode copy in ``dtype`` per call (none when the model already is one): the
    # caller's model is never switched between train and eval, nor converted.
    prepared = in_dtype(model, dtype)
    class_names = list(model.class_names)
    if info.scores:
        # The method's own forward pass gives the scores and the "predicted" targets.
        targets = resolve_targets(target, None, class_names, batch.size, batch.mask.device)
        output = run_in_chunks(function, prepared, batch, targets, dtype, batch_size, options)
        scores = output.scores
        if not torch.isfinite(scores).all():
            raise InputError("the model produced NaN or inf scores; check the model's weights")
        targets = fill_predicted(targets, scores)
    else:
        scores = score_batch(prepared, batch, dtype, batch_size)
        targets = resolve_targets(target, scores, class_names)
        output = run_in_chunks(function, prepared, batch, targets, dtype, batch_size, options)
    return _assemble(batch, output, scores, targets, model, method, options)


def _without_per_dim(function: Callable[..., MethodOutput]) -> Callable[..., MethodOutput]:
    """``function`` with its outputs' ``relevance_per_dim`` dropped as soon as it returns."""

    def explain_chunk(*args: Any, **kwargs: Any) -> MethodOutput:
        return dataclasses.replace(function(*args, **kwargs), relevance_per_dim=None)

    return explain_chunk


def _check_call(
    model: torch.nn.Module, method: str, batch_size: int, options: dict[str, Any]
) -> None:
    info = get_method(method)
    unknown_options = sorted(set(options) - set(info.options))
    if unknown_options:
        allowed = ", ".join(info.options) or "none"
        raise InputError(
            f"method '{method}' does not take option(s) {', '.join(unknown_options)}; "
            f"it takes: {allowed}"
        )
    if batch_size < 1:
        raise InputError(f"batch_size must be at least 1, got {batch_size}")
    _check_weights(model)


# model -> fingerprint of the parameters last found finite: a loop of one-sentence calls does
# not scan the whole embedding matrix each time (it cost more than explaining the sentence).
_CHECKED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _check_weights(model: torch.nn.Module) -> None:
    """:func:`check_finite_weights`, skipped while the parameters are unchanged since a pass."""
    fingerprint = parameter_fingerprint(model)
    try:
        if _CHECKED.get(model) == fingerprint:
            return
    except TypeError:  # a model that cannot be weakly referenced is checked every time
        check_finite_weights(model)
        return
    check_finite_weights(model)
    _CHECKED[model] = fingerprint


def _resolve_dtype(dtype: torch.dtype | str) -> torch.dtype:
    if isinstance(dtype, str):
        if dtype not in DTYPES:
            raise InputError(f"unknown dtype '{dtype}'; choose float32 or float64")
        return DTYPES[dtype]
    if dtype not in DTYPES.values():
        raise InputError(f"unsupported dtype {dtype}; choose torch.float32 or torch.float64")
    return dtype


def _as_text_list(texts: Text | Sequence[Text]) -> list[Text]:
    """One string is one text; a list holds texts (strings or token lists).

    A flat list of strings is read as several texts: wrap a single token list as ``[tokens]``.
    """
    if isinstance(texts, str):
        return [texts]
    if texts is None or isinstance(texts, bytes) or not hasattr(texts, "__iter__"):
        raise InputError(
            f"texts must be a string or a list of strings/token lists, got {type(texts).__name__}"
        )
    texts = list(texts)
    if not texts:
        raise InputError("no texts given; pass a string or a list of strings/token lists")
    return texts


def _tokens_of(text: Text, index: int) -> list[str]:
    if isinstance(text, str):
        from textlrp.data.tokenizer import tokenize

        tokens = tokenize(text)
    elif isinstance(text, Sequence) and all(isinstance(t, str) for t in text):
        tokens = [t for t in text]
    else:
        raise InputError(
            f"text #{index} must be a string or a list of token strings, got {type(text).__name__}"
        )
    tokens = [t for t in tokens if t.strip()]
    if not tokens:
        raise InputError(f"text #{index} is empty; give at least one word")
    return tokens


def _assemble(batch, output, scores, targets, model, method, options) -> Explanations:
    relevance = output.relevance
    if not torch.isfinite(relevance).all():
        raise InputError(
            f"method '{method}' produced NaN/inf relevance; check the model weights and options"
        )
    count = batch.size
    zeros = relevance.new_zeros(count)
    initial = (
        output.initial_state_relevance if output.initial_state_relevance is not None else zeros
    )
    bias = output.bias_relevance if output.bias_relevance is not None else zeros
    probabilities = torch.softmax(scores, dim=-1)
    predicted = scores.argmax(-1)
    class_names = list(model.class_names)
    # One Explanation per text, built from per-row views that a few batched calls make (a
    # Python loop over tensor indexing would cost more than the explanation itself).
    lengths = batch.lengths.tolist()
    mask = batch.mask.cpu()

    def rows(tensor: torch.Tensor | None) -> list[torch.Tensor | None]:
        if tensor is None:
            return [None] * count
        return list(tensor.detach().cpu()[mask].split(lengths))

    per_word = rows(relevance)
    per_dim = rows(output.relevance_per_dim)
    per_direction = rows(output.relevance_by_direction)
    unknown = [row[:n] for row, n in zip(batch.unknown.tolist(), lengths, strict=True)]
    scores_cpu, probabilities_cpu = scores.cpu(), probabilities.cpu()
    score_rows, probability_rows = scores_cpu.unbind(0), probabilities_cpu.unbind(0)
    initial_list, bias_list = initial.tolist(), bias.tolist()
    target_list, predicted_list = targets.tolist(), predicted.tolist()
    option_copy = dict(options)
    items = [
        Explanation(
            tokens=list(batch.tokens[i]),
            relevance=per_word[i],
            relevance_per_dim=per_dim[i],
            relevance_by_direction=per_direction[i],
            initial_state_relevance=initial_list[i],
            bias_relevance=bias_list[i],
            scores=score_rows[i],
            probabilities=probability_rows[i],
            target=target_list[i],
            predicted=predicted_list[i],
            class_names=class_names,
            method=method,
            options=dict(option_copy),
            unknown=unknown[i],
        )
        for i in range(count)
    ]
    explanation_batch = ExplanationBatch(
        tokens=batch.tokens,
        relevance=relevance,
        relevance_per_dim=output.relevance_per_dim,
        relevance_by_direction=output.relevance_by_direction,
        initial_state_relevance=initial,
        bias_relevance=bias,
        mask=batch.mask,
        lengths=batch.lengths,
        scores=scores,
        targets=targets,
    )
    return Explanations(items, explanation_batch)
