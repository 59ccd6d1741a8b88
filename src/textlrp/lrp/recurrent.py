"""What the LSTM and GRU passes share: parameter access, active rows, the recorded states."""

from __future__ import annotations

import dataclasses

import torch
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence


def layer_parameter(
    rnn: torch.nn.Module, name: str, layer: int, reverse: bool, dtype: torch.dtype
) -> torch.Tensor:
    """``weight_ih``/``weight_hh``/``bias_ih``/``bias_hh`` of one layer and direction, detached;
    zeros for a bias of a module built with ``bias=False``."""
    suffix = f"_l{layer}" + ("_reverse" if reverse else "")
    if name.startswith("bias") and not rnn.bias:
        weight = getattr(rnn, "weight_ih" + suffix)
        return weight.new_zeros(weight.shape[0], dtype=dtype).detach()
    return getattr(rnn, name + suffix).detach().to(dtype)


def fused_hidden_states(
    kernel,
    params: list[torch.Tensor],
    x: torch.Tensor,
    lengths: torch.Tensor,
    hidden_size: int,
    cell_state: bool,
) -> torch.Tensor:
    """Hidden states (B, T+1, d) of one layer and direction from PyTorch's fused kernel.

    ``kernel`` is ``torch.lstm`` or ``torch.gru`` (what ``nn.LSTM``/``nn.GRU`` call), run on
    the packed, length-sorted batch with one layer's ``[w_ih, w_hh, b_ih, b_hh]``; ``h[:, 0]``
    is h_0 = 0 and rows past a sentence's end are zero.
    """
    batch, steps, _ = x.shape
    packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=True)
    zeros = x.new_zeros(1, batch, hidden_size)
    initial = (zeros, zeros) if cell_state else zeros
    outputs = kernel(packed.data, packed.batch_sizes, initial, params, True, 1, 0.0, False, False)
    padded, _ = pad_packed_sequence(
        PackedSequence(outputs[0], packed.batch_sizes), batch_first=True, total_length=steps
    )
    return torch.cat([x.new_zeros(batch, 1, hidden_size), padded], dim=1)


def active_counts(lengths: torch.Tensor, steps: int) -> list[int]:
    """Rows still running at each step, for lengths sorted in decreasing order."""
    lengths = lengths.cpu()
    if bool((lengths[1:] > lengths[:-1]).any()):
        raise ValueError("the batch must be sorted by decreasing length")
    return (lengths[None, :] > torch.arange(steps)[:, None]).sum(1).tolist()


@dataclasses.dataclass
class RecurrentTrace:
    """Inputs and hidden states of one recorded pass; ``h[:, 0]`` is h_0 = 0 and rows past a
    sentence's end hold zeros."""

    x: torch.Tensor  # (B, T, I)
    lengths: torch.Tensor  # (B,) sorted in decreasing order
    active: list[int]  # rows running at each step
    h: torch.Tensor  # (B, T+1, d)

    @property
    def final_hidden(self) -> torch.Tensor:
        """Each sentence's hidden state after its last token (B, d)."""
        index = self.lengths.to(self.h.device)[:, None, None].expand(-1, 1, self.h.shape[2])
        return self.h.gather(1, index)[:, 0]

    @property
    def outputs(self) -> torch.Tensor:
        """Hidden state after each step (B, T, d), zero on padding."""
        return self.h[:, 1:]


@dataclasses.dataclass
class LayerRelevance:
    """Relevance a layer hands down: to its inputs and to its initial state."""

    inputs: torch.Tensor  # (B, T, I)
    initial_hidden: torch.Tensor  # (B, d)
    initial_cell: torch.Tensor  # (B, d); zero for a GRU, which has no cell state


@dataclasses.dataclass
class PackedLayout:
    """Time-major packed rows of a length-sorted batch, as PyTorch's packed sequences hold them.

    Step t's running sentences are the contiguous rows ``rows(t)`` (the first ``sizes[t]``
    sentences), so a loop over time reads and writes contiguous blocks and computes nothing
    for padding. ``reverse=True`` packs each sentence back to front (a backward encoder's
    time order); :meth:`unpack` puts rows back at their input positions either way.
    """

    batch: int
    steps: int
    sizes: list[int]  # sentences running at each step
    offsets: list[int]  # first packed row of each step
    batch_sizes: torch.Tensor  # sizes as a CPU tensor, for torch.lstm/torch.gru
    index: torch.Tensor  # (N,) flat position b * T + t of each packed row
    previous: torch.Tensor  # (N,) 1 + packed row of the same sentence one step earlier, 0 at t=0
    last: torch.Tensor  # (B,) packed row of each sentence's last step

    @classmethod
    def build(
        cls, lengths: torch.Tensor, steps: int, device: torch.device, reverse: bool = False
    ) -> PackedLayout:
        lengths = lengths.cpu()
        batch = lengths.shape[0]
        sizes = active_counts(lengths, steps)
        offsets = [0]
        for size in sizes[:-1]:
            offsets.append(offsets[-1] + size)
        running = torch.arange(steps)[:, None] < lengths[None, :]  # (T, B), time-major
        step, row = torch.nonzero(running, as_tuple=True)
        position = lengths[row] - 1 - step if reverse else step
        starts = torch.tensor(offsets, dtype=torch.long)
        previous = torch.where(step > 0, starts[(step - 1).clamp(min=0)] + row + 1, 0)
        last = starts[lengths - 1] + torch.arange(batch)
        return cls(
            batch,
            steps,
            sizes,
            offsets,
            torch.tensor(sizes, dtype=torch.long),
            (row * steps + position).to(device),
            previous.to(device),
            last.to(device),
        )

    def rows(self, t: int) -> slice:
        return slice(self.offsets[t], self.offsets[t] + self.sizes[t])

    def pack(self, padded: torch.Tensor) -> torch.Tensor:
        """(B, T, ...) -> (N, ...) in packed order."""
        flat = padded.reshape(self.batch * self.steps, *padded.shape[2:])
        return flat.index_select(0, self.index)

    def unpack(self, packed: torch.Tensor) -> torch.Tensor:
        """(N, ...) -> (B, T, ...), zero on padding, rows at their input positions."""
        flat = packed.new_zeros(self.batch * self.steps, *packed.shape[1:])
        flat.index_copy_(0, self.index, packed)
        return flat.view(self.batch, self.steps, *packed.shape[1:])

    def shifted(self, packed: torch.Tensor) -> torch.Tensor:
        """Each row's value one step earlier in the same sentence (zero at the first step)."""
        padded = torch.cat([packed.new_zeros(1, *packed.shape[1:]), packed])
        return padded.index_select(0, self.previous)
