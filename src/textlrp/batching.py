"""One home for batching: encode texts, sort by length, chunk, score, and restore the order.

Every entry point (``explain``, the experiments, the corpus pipeline, CD's phrase helper, the
benchmarks) goes through these functions, so "one text alone equals the same text inside a
padded batch" has one implementation to test.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import torch

from textlrp.errors import InputError
from textlrp.models.precision import in_dtype

Target = int | str

# Bytes one batched forward+backward pass may hold in activations. Measured on the SST test
# set (benchmarks/bench_methods.py, Integrated Gradients): passes of ~512 sentence copies
# (~30 MB) ran 2.4× faster than passes of 8192 (~0.5 GB, half of it page-fault system time);
# passes that fit the caches and reuse the allocator's freed blocks are the fast ones.
PASS_BUDGET_BYTES = 32 * 1024 * 1024

# A target meaning "the class the model predicts", left for a method that computes the scores
# in its own forward pass to resolve (``fill_predicted``); see ``MethodInfo.scores``.
PREDICTED = -1

# Sentences per chunk. Chunks hold sentences of similar length (the batch is sorted first),
# so little time goes to padding; measured on the SST test set on 2 CPU cores, 128 was
# fastest of 128..2210 (benchmarks/bench_lrp.py). On a GPU, larger chunks may pay off.
DEFAULT_BATCH_SIZE = 128
# Padded tokens per chunk at most. Long texts (200 documents of 600 tokens, bench_lrp.py
# --long) ran fastest in chunks of ~32 documents (~19k tokens): 3.3× a forward pass against
# 4.8× for chunks of 128 and 5.1× for 8 (per-step overhead); SST sentences stay at 128.
CHUNK_TOKENS = 16384


@dataclasses.dataclass
class EncodedBatch:
    """Right-padded token indices of a batch of sentences.

    ``embedded`` optionally gives the input vectors directly (B, T, e), for models whose
    inputs are not looked up from a vocabulary (the toy arithmetic task); every method reads
    its inputs through :meth:`inputs`.
    """

    tokens: list[list[str]]
    token_ids: torch.Tensor  # (B, T) long, padding index 0
    lengths: torch.Tensor  # (B,) long, on CPU
    mask: torch.Tensor  # (B, T) bool, True on real tokens
    unknown: torch.Tensor  # (B, T) bool, True where the token is not in the vocabulary
    embedded: torch.Tensor | None = None  # (B, T, e) inputs given directly

    @property
    def size(self) -> int:
        return self.token_ids.shape[0]

    def inputs(self, model: torch.nn.Module, dtype: torch.dtype) -> torch.Tensor:
        """The input vectors (B, T, e) in ``dtype``, zero on padding, without gradient."""
        weight = model.embedding.weight
        if self.embedded is not None:
            x = self.embedded.detach().to(weight.device, dtype)
        else:
            x = torch.nn.functional.embedding(
                self.token_ids.to(weight.device), weight.detach().to(dtype)
            )
        return x * self.mask.to(weight.device)[..., None]

    def select(self, index: torch.Tensor, steps: int) -> EncodedBatch:
        """The rows ``index`` (a 1-D CPU tensor), cut to ``steps`` time steps."""
        device_index = index.to(self.token_ids.device)
        return EncodedBatch(
            [self.tokens[i] for i in index.tolist()],
            self.token_ids[device_index, :steps],
            self.lengths[index],
            self.mask[index.to(self.mask.device), :steps],
            self.unknown[index, :steps],
            None if self.embedded is None else self.embedded[device_index, :steps],
        )


def encode_batch(model: torch.nn.Module, tokens: list[list[str]]) -> EncodedBatch:
    """Right-padded token indices; raises :class:`InputError` for a text of unknown words only.

    One vocabulary look-up per token (cached per distinct token) and one tensor for the batch.
    """
    vocab = model.vocab
    lengths = torch.tensor([len(sentence) for sentence in tokens], dtype=torch.long)
    flat = vocab.indices(token for sentence in tokens for token in sentence)
    steps = int(lengths.max())
    mask = torch.arange(steps)[None, :] < lengths[:, None]
    ids = torch.full((len(tokens), steps), vocab.pad_index, dtype=torch.long)
    ids[mask] = torch.tensor(flat, dtype=torch.long)
    unknown = (ids == vocab.unk_index) & mask
    all_unknown = torch.nonzero(unknown.sum(1) == lengths)
    if all_unknown.numel():
        i = int(all_unknown[0])
        raise InputError(
            f"text #{i} ({' '.join(tokens[i])[:60]!r}) has no word in the model's "
            "vocabulary; check the language/spelling or use a model trained on similar text"
        )
    device = model.embedding.weight.device
    return EncodedBatch(tokens, ids.to(device), lengths, mask.to(device), unknown)


def rows_per_pass(model: torch.nn.Module, steps: int, dtype: torch.dtype) -> int:
    """How many sentence copies of ``steps`` tokens one forward+backward pass should hold.

    Estimated from what a recurrent pass keeps per token (input, four gates, cell and hidden
    state per direction, and as much again for the gradient) against :data:`PASS_BUDGET_BYTES`.
    """
    config = getattr(model, "config", None)
    units = getattr(config, "hidden_size", 64) * getattr(model, "num_directions", 1)
    features = getattr(config, "embedding_dim", 64)
    layers = getattr(config, "num_layers", 1)
    per_token = 2 * (features + 6 * units * layers) * torch.finfo(dtype).bits // 8
    return max(1, PASS_BUDGET_BYTES // (per_token * max(1, steps)))


def length_order(lengths: torch.Tensor) -> torch.Tensor:
    """Positions sorted by decreasing length (stable: equal lengths keep the input order)."""
    return torch.argsort(lengths.cpu(), descending=True, stable=True)


def unsort(tensor: torch.Tensor, order: torch.Tensor) -> torch.Tensor:
    """Rows of a tensor sorted by ``order`` back in the caller's order."""
    result = torch.empty_like(tensor)
    result[order.to(tensor.device)] = tensor
    return result


def length_sorted_chunks(batch: EncodedBatch, batch_size: int, max_tokens: int | None = None):
    """Yield ``(index, chunk)``: rows of similar length, cut to the chunk's longest row.

    A chunk holds at most ``batch_size`` texts and, unless one text alone is longer, at most
    ``max_tokens`` (default :data:`CHUNK_TOKENS`) padded tokens.
    """
    max_tokens = CHUNK_TOKENS if max_tokens is None else max_tokens
    order = length_order(batch.lengths)
    sorted_lengths = batch.lengths[order].tolist()
    start = 0
    while start < batch.size:
        longest = sorted_lengths[start]
        size = max(1, min(batch_size, max_tokens // max(1, longest)))
        index = order[start : start + size]
        yield index, batch.select(index, longest)
        start += size


def score_batch(
    model: torch.nn.Module, batch: EncodedBatch, dtype: torch.dtype, batch_size: int
) -> torch.Tensor:
    """Class scores (B, C) of every sentence, computed in ``dtype`` on length-sorted chunks."""
    model = in_dtype(model, dtype)
    scores = None
    with torch.no_grad():
        for index, chunk in length_sorted_chunks(batch, batch_size):
            part = model.forward_embedded(chunk.inputs(model, dtype), chunk.lengths)
            if scores is None:
                scores = part.new_empty((batch.size, part.shape[1]))
            scores[index.to(part.device)] = part
    if not torch.isfinite(scores).all():
        raise InputError("the model produced NaN or inf scores; check the model's weights")
    return scores


def resolve_targets(
    target: Target | Sequence[Target],
    scores: torch.Tensor | None,
    class_names: list[str],
    count: int | None = None,
    device: torch.device | None = None,
) -> torch.Tensor:
    """One class index per sentence from "predicted", indices, names or a per-text list.

    Indices may be Python ints, NumPy integers or 0-d tensors. Without ``scores`` (give
    ``count``), "predicted" becomes :data:`PREDICTED`, for the method to resolve.
    """
    if scores is not None:
        count, device = scores.shape[0], scores.device
    if _is_single_target(target):
        index = _target_index(target, class_names)
        if index == PREDICTED and scores is not None:
            return scores.argmax(-1)
        return torch.full((count,), index, dtype=torch.long, device=device)
    per_text = list(target)
    if len(per_text) != count:
        raise InputError(f"got {len(per_text)} targets for {count} texts; give one per text")
    indices = torch.tensor(
        [_target_index(t, class_names) for t in per_text], dtype=torch.long, device=device
    )
    return indices if scores is None else fill_predicted(indices, scores)


def fill_predicted(targets: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
    """``targets`` with every :data:`PREDICTED` entry replaced by the argmax of its scores."""
    targets = targets.to(scores.device)
    return torch.where(targets == PREDICTED, scores.argmax(-1), targets)


def _is_single_target(target: Any) -> bool:
    if target is None or isinstance(target, str | int | float) or not hasattr(target, "__iter__"):
        return True
    if isinstance(target, torch.Tensor):
        return target.dim() == 0
    return hasattr(target, "__index__") or getattr(target, "shape", None) == ()


def _target_index(target: Any, class_names: list[str]) -> int:
    """A class index, or PREDICTED for "predicted"."""
    if isinstance(target, bool) or target is None:
        raise InputError(f"target must be 'predicted', a class index or a name, got {target!r}")
    if isinstance(target, str):
        if target == "predicted":
            return PREDICTED
        lowered = [name.lower() for name in class_names]
        if target.lower() in lowered:
            return lowered.index(target.lower())
        if target.isdigit():
            return _target_index(int(target), class_names)
        raise InputError(
            f"unknown class name {target!r}; choose 'predicted' or one of: "
            + ", ".join(class_names)
        )
    if isinstance(target, torch.Tensor) and (
        target.dim() != 0 or target.dtype.is_floating_point or target.dtype == torch.bool
    ):
        raise InputError(f"a tensor target must be a 0-d integer tensor, got {target!r}")
    if not hasattr(target, "__index__"):
        raise InputError(f"target must be 'predicted', a class index or a name, got {target!r}")
    index = int(target.__index__())
    if not 0 <= index < len(class_names):
        raise InputError(
            f"target index {index} is out of range; the model has classes 0.."
            f"{len(class_names) - 1}: {', '.join(class_names)}"
        )
    return index


def run_in_chunks(
    function: Callable[..., Any],
    model: torch.nn.Module,
    batch: EncodedBatch,
    targets: torch.Tensor,
    dtype: torch.dtype,
    batch_size: int,
    options: dict[str, Any],
):
    """Run a method on length-sorted chunks (less padding) and restore the input order.

    ``function`` returns a dataclass of tensors (a ``MethodOutput``); the chunks' fields are
    joined, padded in time where needed, and put back in the caller's order.
    """
    outputs, indices = [], []
    for index, chunk in length_sorted_chunks(batch, batch_size):
        chunk_targets = targets[index.to(targets.device)]
        outputs.append(function(model, chunk, chunk_targets, dtype=dtype, **options))
        indices.append(index)
    steps = batch.mask.shape[1]

    def merge(name: str, time_axis: bool) -> torch.Tensor | None:
        """One tensor in the caller's order, each chunk written once into its rows."""
        parts = [getattr(output, name) for output in outputs]
        if any(part is None for part in parts):
            return None
        first = parts[0]
        padded = time_axis and first.dim() >= 2
        shape = (batch.size, steps, *first.shape[2:]) if padded else (batch.size, *first.shape[1:])
        merged = first.new_zeros(shape)
        for index, part in zip(indices, parts, strict=True):
            rows = index.to(merged.device)
            if padded:
                merged[rows, : part.shape[1]] = part
            else:
                merged[rows] = part
        return merged

    fields = dataclasses.fields(outputs[0])
    return type(outputs[0])(
        **{field.name: merge(field.name, field.metadata.get("time_axis", True)) for field in fields}
    )


def pad_time(tensor: torch.Tensor, steps: int) -> torch.Tensor:
    """Zero-pad the time axis (dim 1) of a (B, T, ...) tensor to ``steps``."""
    missing = steps - tensor.shape[1]
    if missing == 0:
        return tensor
    shape = (tensor.shape[0], missing, *tensor.shape[2:])
    return torch.cat([tensor, tensor.new_zeros(shape)], dim=1)
