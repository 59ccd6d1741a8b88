"""Removing tokens from embedded sentences, and scoring many perturbed copies in big batches.

A perturbed copy is (source sentence, set of removed positions). Removing a token zeroes its
embedding by default (``mode="zero"``: the sentence keeps its length) or drops it
(``mode="drop"``: the remaining tokens close up). Dropping every token leaves an empty text,
which is fed to the model as one zero-embedded token, so that any model (recurrent or
convolutional) can score it through ``forward_embedded`` alone.

Copies are grouped by their length and scored in chunks of at most ``chunk_copies`` copies of
one length each, so no time goes to padding (for the bundled bi-LSTM on 2 CPU cores this was
as fast as length-sorted chunks of mixed lengths, and 174 times faster than scoring copies one
at a time: benchmarks/bench_evaluate.py). The result does not depend on the chunking (a test
checks it against scoring copies one at a time).
"""

from __future__ import annotations

import torch

from textlrp.errors import InputError

MODES = ("zero", "drop")
DEFAULT_CHUNK_COPIES = 4096  # perturbed copies per forward pass


def check_mode(mode: str) -> None:
    if mode not in MODES:
        raise InputError(f"unknown removal mode {mode!r}; choose one of: {', '.join(MODES)}")


def remove_tokens(
    embedded: torch.Tensor, lengths: torch.Tensor, removed: torch.Tensor, mode: str = "zero"
) -> tuple[torch.Tensor, torch.Tensor]:
    """Embedded inputs (N, T, e) with the ``removed`` (N, T) positions taken out, and lengths.

    ``zero`` sets removed embeddings to zero and keeps the lengths; ``drop`` moves the kept
    tokens to the front in their order and shortens each row (an empty row becomes one zero
    step of length 1). Positions at or beyond a row's length are padding and stay zero.
    """
    check_mode(mode)
    device = embedded.device
    steps = embedded.shape[1]
    lengths = lengths.cpu()
    real = torch.arange(steps, device=device)[None, :] < lengths.to(device)[:, None]
    removed = removed.to(device)
    if mode == "zero":
        keep = real & ~removed
        return embedded * keep[..., None], lengths
    keep = real & ~removed
    # Kept tokens first, in their order: a stable sort on "not kept".
    source = torch.sort((~keep).to(torch.int8), dim=1, stable=True).indices
    moved = embedded.gather(1, source[..., None].expand_as(embedded))
    kept = keep.sum(1).cpu()
    still = torch.arange(steps, device=device)[None, :] < kept.to(device)[:, None]
    return moved * still[..., None], kept.clamp(min=1).to(lengths.dtype)


def target_probabilities(
    model: torch.nn.Module,
    embedded: torch.Tensor,
    lengths: torch.Tensor,
    targets: torch.Tensor,
    rows: torch.Tensor,
    removed: torch.Tensor,
    mode: str = "zero",
    chunk_copies: int = DEFAULT_CHUNK_COPIES,
) -> torch.Tensor:
    """Softmax probability of the target class for each perturbed copy, float64 (N,) on CPU.

    Copy j is sentence ``rows[j]`` of ``embedded`` (B, T, e) with the positions
    ``removed[j]`` (N, T) taken out; ``targets`` (B,) gives each sentence's class.
    """
    check_mode(mode)
    if chunk_copies < 1:
        raise InputError(f"chunk_copies must be at least 1, got {chunk_copies}")
    rows = rows.cpu().long()
    removed = removed.cpu()
    lengths = lengths.cpu().long()
    count = rows.numel()
    result = torch.empty(count, dtype=torch.float64)
    if count == 0:
        return result
    source_lengths = lengths[rows]
    if mode == "zero":
        copy_lengths = source_lengths
    else:
        real = torch.arange(removed.shape[1])[None, :] < source_lengths[:, None]
        copy_lengths = (real & ~removed).sum(1).clamp(min=1)
    device = embedded.device
    with torch.no_grad():
        for index in _chunks(copy_lengths, chunk_copies):
            steps = int(source_lengths[index].max())
            chunk_rows = rows[index]
            copies = embedded[chunk_rows.to(device), :steps]
            copies, new_lengths = remove_tokens(
                copies, source_lengths[index], removed[index, :steps], mode
            )
            copies = copies[:, : int(new_lengths.max())]
            scores = model.forward_embedded(copies, new_lengths)
            probabilities = torch.softmax(scores.double(), dim=-1)
            chosen = probabilities.gather(1, targets[chunk_rows].to(device)[:, None])[:, 0]
            result[index] = chosen.cpu()
    return result


def _chunks(lengths: torch.Tensor, chunk_copies: int) -> list[torch.Tensor]:
    """Indices of the copies in chunks of at most ``chunk_copies``, one length per chunk."""
    order = torch.argsort(lengths, stable=True)
    _, counts = torch.unique_consecutive(lengths[order], return_counts=True)
    chunks = []
    start = 0
    for count in counts.tolist():
        group = order[start : start + count]
        chunks += list(torch.split(group, chunk_copies))
        start += count
    return chunks
