"""Occlusion baselines (spec §6): the change of the target score when one word is removed.

Every sentence of the batch is copied once per word, the word is removed from its copy, and
all copies go through the model as one batched forward pass (in chunks of at most
:func:`~textlrp.batching.rows_per_pass` copies, to bound memory and stay in cache).
"""

from __future__ import annotations

import torch

from textlrp.batching import fill_predicted, rows_per_pass
from textlrp.errors import InputError
from textlrp.methods.base import EncodedBatch, MethodOutput, register
from textlrp.models.precision import in_dtype

CHUNK_COPIES = 8192  # at most this many occluded copies per forward pass
MODES = ("zero", "drop")


def occluded_scores(
    model: torch.nn.Module, batch: EncodedBatch, dtype: torch.dtype, mode: str = "zero"
) -> torch.Tensor:
    """Class scores (B, T, C) of each sentence with word t removed.

    ``mode="zero"`` sets the word's embedding to zero and keeps the length (2017 paper);
    ``mode="drop"`` deletes the word, so the sentence gets one word shorter (2019 paper). A
    one-word sentence with its word dropped is empty: it gets the model's ``empty_scores``
    (for a recurrent model, the read-out input is zero, the initial state h_0 = 0, passed
    through the head and the output layer; for a CNN, its one window of zero vectors).
    Rows at padding positions (t >= length) hold the unoccluded scores, so score differences
    vanish there.
    """
    return _scores_with_occlusion(model, batch, dtype, mode)[1]


def _scores_with_occlusion(
    model: torch.nn.Module, batch: EncodedBatch, dtype: torch.dtype, mode: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """Unoccluded scores (B, C) and occluded scores (B, T, C), see :func:`occluded_scores`."""
    if mode not in MODES:
        raise InputError(f"unknown occlusion mode '{mode}'; choose one of: {', '.join(MODES)}")
    model = in_dtype(model, dtype)
    device = model.embedding.weight.device
    lengths = batch.lengths.cpu()
    with torch.no_grad():
        embedded = batch.inputs(model, dtype)
        full = model.forward_embedded(embedded, lengths)  # (B, C)
        steps = embedded.shape[1]
        result = full[:, None, :].repeat(1, steps, 1)
        # One copy per real word: (sentence, position) pairs in row-major order.
        sentence, position = torch.nonzero(batch.mask.cpu(), as_tuple=True)
        # A forward pass keeps less than forward+backward: twice the copies of the budget.
        copies = min(CHUNK_COPIES, 2 * rows_per_pass(model, steps, dtype))
        for start in range(0, sentence.numel(), copies):
            rows = sentence[start : start + copies]
            where = position[start : start + copies]
            scores = _score_copies(model, embedded, lengths, rows, where, mode)
            result[rows.to(device), where.to(device)] = scores
    return full, result


def _score_copies(
    model: torch.nn.Module,
    embedded: torch.Tensor,
    lengths: torch.Tensor,
    rows: torch.Tensor,
    where: torch.Tensor,
    mode: str,
) -> torch.Tensor:
    """Scores (N, C) of copies of sentences ``rows`` with the word at ``where`` removed."""
    device = embedded.device
    copies = embedded[rows.to(device)]  # (N, T, e)
    count, steps = copies.shape[:2]
    if mode == "zero":
        copies[torch.arange(count, device=device), where.to(device)] = 0.0
        return model.forward_embedded(copies, lengths[rows])
    # "drop": step s of the copy reads step s (before the word) or s + 1 (after it).
    positions = torch.arange(steps)[None, :]
    source = positions + (positions >= where[:, None]).long()
    source = source.clamp(max=steps - 1).to(device)
    copies = copies.gather(1, source[..., None].expand_as(copies))
    short = lengths[rows] - 1
    scores = copies.new_empty(count, len(model.class_names))
    empty = short == 0
    if bool(empty.any()):
        scores[empty.to(device)] = model.empty_scores(copies.dtype, device)
    keep = ~empty
    if bool(keep.any()):
        scores[keep.to(device)] = model.forward_embedded(copies[keep.to(device)], short[keep])
    return scores


def _target_differences(
    full: torch.Tensor, occluded: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor
) -> torch.Tensor:
    """R_t = full_c − occluded_{t,c} for each sentence's target c, zero on padding."""
    targets = targets.to(full.device)
    chosen_full = full.gather(1, targets[:, None])  # (B, 1)
    index = targets[:, None, None].expand(-1, occluded.shape[1], 1)
    chosen = occluded.gather(2, index)[..., 0]  # (B, T)
    return (chosen_full - chosen) * mask.to(full.device)


@register(
    "occlusion_f",
    "Occlusion f-diff: drop of the target score when a word's embedding is zeroed",
    options=("mode",),
    scores=True,
)
def occlusion_f(
    model: torch.nn.Module,
    batch: EncodedBatch,
    targets: torch.Tensor,
    *,
    dtype: torch.dtype,
    mode: str = "zero",
) -> MethodOutput:
    full, occluded = _scores_with_occlusion(model, batch, dtype, mode)
    targets = fill_predicted(targets, full)
    relevance = _target_differences(full, occluded, targets, batch.mask)
    return MethodOutput(relevance=relevance, scores=full)


@register(
    "occlusion_p",
    "Occlusion P-diff: drop of the target's softmax probability when a word is occluded",
    options=("mode",),
    scores=True,
)
def occlusion_p(
    model: torch.nn.Module,
    batch: EncodedBatch,
    targets: torch.Tensor,
    *,
    dtype: torch.dtype,
    mode: str = "zero",
) -> MethodOutput:
    full, occluded = _scores_with_occlusion(model, batch, dtype, mode)
    targets = fill_predicted(targets, full)
    probabilities = torch.softmax(full, dim=-1)
    occluded_probabilities = torch.softmax(occluded, dim=-1)
    relevance = _target_differences(probabilities, occluded_probabilities, targets, batch.mask)
    return MethodOutput(relevance=relevance, scores=full)
