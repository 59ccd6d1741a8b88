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
    return [int((lengths > t).sum()) for t in range(steps)]


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
