"""``textlrp.explain``: the one entry point from texts to explanations."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from textlrp.errors import InputError
from textlrp.explanation import Explanation, ExplanationBatch, Explanations
from textlrp.methods.base import EncodedBatch, get_method
from textlrp.models.lstm_classifier import check_finite_weights
from textlrp.models.precision import in_dtype

Text = str | Sequence[str]
Target = int | str

DTYPES = {"float32": torch.float32, "float64": torch.float64}
# Sentences per chunk. Chunks hold sentences of similar length (the batch is sorted first),
# so little time goes to padding; measured on the SST test set on 2 CPU cores, 128 was
# fastest of 128..2210 (benchmarks/bench_lrp.py). On a GPU, larger chunks may pay off.
DEFAULT_BATCH_SIZE = 128


def explain(
    model: torch.nn.Module,
    texts: Text | Sequence[Text],
    method: str = "lrp",
    target: Target | Sequence[Target] = "predicted",
    *,
    dtype: torch.dtype | str = torch.float32,
    batch_size: int = DEFAULT_BATCH_SIZE,
    **options: Any,
) -> Explanations:
    """Explain the model's score for ``target`` on each text, all texts as padded batches.

    ``texts`` is one text or a list; a text is a raw string (tokenized the way SST is) or a list
    of tokens. ``target`` is ``"predicted"``, a class index, a class name, or one such target
    per text. ``options`` go to the method (LRP: ``eps``, ``bias_factor``, ``product_rule``).
    Returns one :class:`Explanation` per text; ``result.batch`` holds the padded tensors.
    """
    tokens = [_tokens_of(text, i) for i, text in enumerate(_as_text_list(texts))]
    _check_call(model, method, batch_size, options)
    batch = encode_batch(model, tokens)
    return explain_batch(
        model, batch, method, target, dtype=dtype, batch_size=batch_size, **options
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
    **options: Any,
) -> Explanations:
    """Explain an already encoded batch (the shared back half of the ``explain`` functions)."""
    dtype = _resolve_dtype(dtype)
    info = get_method(method)
    check_finite_weights(model)
    was_training = model.training
    model.eval()
    try:
        scores = score_batch(model, batch, dtype, batch_size)
        targets = resolve_targets(target, scores, list(model.class_names))
        output = _run_in_chunks(info.function, model, batch, targets, dtype, batch_size, options)
    finally:
        model.train(was_training)
    return _assemble(batch, output, scores, targets, model, method, options)


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
    check_finite_weights(model)


def encode_batch(model: torch.nn.Module, tokens: list[list[str]]) -> EncodedBatch:
    """Right-padded token indices; raises :class:`InputError` for a text of unknown words only."""
    vocab = model.vocab
    encoded = [vocab.encode(sentence) for sentence in tokens]
    for i, row in enumerate(encoded):
        if all(index == vocab.unk_index for index in row):
            raise InputError(
                f"text #{i} ({' '.join(tokens[i])[:60]!r}) has no word in the model's "
                "vocabulary; check the language/spelling or use a model trained on similar text"
            )
    lengths = torch.tensor([len(row) for row in encoded], dtype=torch.long)
    steps = int(lengths.max())
    ids = torch.full((len(tokens), steps), vocab.pad_index, dtype=torch.long)
    for i, row in enumerate(encoded):
        ids[i, : len(row)] = torch.tensor(row)
    mask = torch.arange(steps)[None, :] < lengths[:, None]
    unknown = (ids == vocab.unk_index) & mask
    device = model.embedding.weight.device
    return EncodedBatch(tokens, ids.to(device), lengths, mask.to(device), unknown)


def score_batch(
    model: torch.nn.Module, batch: EncodedBatch, dtype: torch.dtype, batch_size: int
) -> torch.Tensor:
    """Class scores (B, C) of every sentence, computed in ``dtype``."""
    model = in_dtype(model, dtype)
    with torch.no_grad():
        parts = []
        for start in range(0, batch.size, batch_size):
            index = torch.arange(start, min(start + batch_size, batch.size))
            chunk = batch.select(index, batch.token_ids.shape[1])
            parts.append(model.forward_embedded(chunk.inputs(model, dtype), chunk.lengths))
    scores = torch.cat(parts)
    if not torch.isfinite(scores).all():
        raise InputError("the model produced NaN or inf scores; check the model's weights")
    return scores


def resolve_targets(
    target: Target | Sequence[Target], scores: torch.Tensor, class_names: list[str]
) -> torch.Tensor:
    """One class index per sentence from "predicted", indices, names or a per-text list."""
    count = scores.shape[0]
    if isinstance(target, str | int) or target is None:
        per_text = [target] * count
    else:
        per_text = list(target)
        if len(per_text) != count:
            raise InputError(f"got {len(per_text)} targets for {count} texts; give one per text")
    indices = [_target_index(t, scores[i], class_names) for i, t in enumerate(per_text)]
    return torch.tensor(indices, dtype=torch.long, device=scores.device)


def _target_index(target: Any, scores: torch.Tensor, class_names: list[str]) -> int:
    if isinstance(target, bool):
        raise InputError(f"target must be 'predicted', a class index or a name, got {target!r}")
    if isinstance(target, int | torch.Tensor) and not isinstance(target, str):
        index = int(target)
        if not 0 <= index < len(class_names):
            raise InputError(
                f"target index {index} is out of range; the model has classes 0.."
                f"{len(class_names) - 1}: {', '.join(class_names)}"
            )
        return index
    if isinstance(target, str):
        if target == "predicted":
            return int(scores.argmax())
        lowered = [name.lower() for name in class_names]
        if target.lower() in lowered:
            return lowered.index(target.lower())
        if target.isdigit():
            return _target_index(int(target), scores, class_names)
        raise InputError(
            f"unknown class name {target!r}; choose 'predicted' or one of: "
            + ", ".join(class_names)
        )
    raise InputError(f"target must be 'predicted', a class index or a name, got {target!r}")


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


def _run_in_chunks(function, model, batch, targets, dtype, batch_size, options):
    """Run the method on length-sorted chunks (less padding) and restore the input order."""
    order = torch.argsort(batch.lengths, descending=True, stable=True)
    outputs = []
    for start in range(0, batch.size, batch_size):
        idx = order[start : start + batch_size]
        steps = int(batch.lengths[idx].max())
        chunk = batch.select(idx, steps)
        outputs.append(
            function(model, chunk, targets[idx.to(targets.device)], dtype=dtype, **options)
        )
    return _merge_chunks(outputs, order, batch.mask.shape[1])


def _merge_chunks(outputs, order, steps):
    from textlrp.methods.base import MethodOutput

    inverse = torch.empty_like(order)
    inverse[order] = torch.arange(order.numel())

    def merge(name: str) -> torch.Tensor | None:
        parts = [getattr(o, name) for o in outputs]
        if any(p is None for p in parts):
            return None
        if parts[0].dim() >= 2:
            parts = [_pad_time(p, steps) for p in parts]
        joined = torch.cat(parts)
        return joined[inverse.to(joined.device)]

    return MethodOutput(
        relevance=merge("relevance"),
        relevance_per_dim=merge("relevance_per_dim"),
        relevance_by_direction=merge("relevance_by_direction"),
        initial_state_relevance=merge("initial_state_relevance"),
        bias_relevance=merge("bias_relevance"),
    )


def _pad_time(tensor: torch.Tensor, steps: int) -> torch.Tensor:
    missing = steps - tensor.shape[1]
    if missing == 0:
        return tensor
    shape = (tensor.shape[0], missing, *tensor.shape[2:])
    return torch.cat([tensor, tensor.new_zeros(shape)], dim=1)


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
    items = []
    for i, tokens in enumerate(batch.tokens):
        n = len(tokens)
        items.append(
            Explanation(
                tokens=list(tokens),
                relevance=relevance[i, :n].cpu(),
                relevance_per_dim=None
                if output.relevance_per_dim is None
                else output.relevance_per_dim[i, :n].cpu(),
                relevance_by_direction=None
                if output.relevance_by_direction is None
                else output.relevance_by_direction[i, :n].cpu(),
                initial_state_relevance=float(initial[i]),
                bias_relevance=float(bias[i]),
                scores=scores[i].cpu(),
                probabilities=probabilities[i].cpu(),
                target=int(targets[i]),
                predicted=int(predicted[i]),
                class_names=class_names,
                method=method,
                options=dict(options),
                unknown=batch.unknown[i, :n].tolist(),
            )
        )
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
