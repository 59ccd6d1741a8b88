"""LRP through one LSTM layer in one direction, for a right-padded batch (spec §3–4).

The forward pass records every activation the relevance pass needs; at padded steps (mask
False) the state is carried over unchanged, so the state at the last index is each sentence's
final state, and the relevance pass hands relevance through padded steps untouched.
"""

from __future__ import annotations

import dataclasses

import torch

from textlrp.lrp.rules import eps_rule, product_split

# Row blocks of PyTorch's stacked gate weights (nn.LSTM orders the gates i, f, g, o).
GATE_I, GATE_F, GATE_G, GATE_O = 0, 1, 2, 3


@dataclasses.dataclass
class LSTMWeights:
    """One direction of one nn.LSTM layer; ``bias`` is the sum of PyTorch's two biases."""

    w_ih: torch.Tensor  # (4d, I)
    w_hh: torch.Tensor  # (4d, d)
    bias: torch.Tensor  # (4d,)

    @property
    def hidden_size(self) -> int:
        return self.w_hh.shape[1]

    @property
    def input_size(self) -> int:
        return self.w_ih.shape[1]

    @classmethod
    def from_module(
        cls, lstm: torch.nn.LSTM, layer: int, reverse: bool, dtype: torch.dtype
    ) -> LSTMWeights:
        suffix = f"_l{layer}" + ("_reverse" if reverse else "")
        bias = torch.zeros(4 * lstm.hidden_size, dtype=dtype, device=lstm.weight_ih_l0.device)
        if lstm.bias:
            bias = getattr(lstm, "bias_ih" + suffix).to(dtype) + getattr(
                lstm, "bias_hh" + suffix
            ).to(dtype)
        return cls(
            getattr(lstm, "weight_ih" + suffix).detach().to(dtype),
            getattr(lstm, "weight_hh" + suffix).detach().to(dtype),
            bias.detach(),
        )


@dataclasses.dataclass
class LSTMTrace:
    """Activations of one forward pass; states carry an extra leading step for h_0, c_0."""

    x: torch.Tensor  # (B, T, I)
    mask: torch.Tensor  # (B, T) bool
    pre: torch.Tensor  # (B, T, 4d) gate pre-activations
    gates: torch.Tensor  # (B, T, 4, d) activations i, f, g, o
    h: torch.Tensor  # (B, T+1, d), h[:, 0] = h_0 = 0
    c: torch.Tensor  # (B, T+1, d), c[:, 0] = c_0 = 0

    @property
    def final_hidden(self) -> torch.Tensor:
        return self.h[:, -1]

    @property
    def outputs(self) -> torch.Tensor:
        """Hidden state after each step (B, T, d); carried-over values at padding."""
        return self.h[:, 1:]


def lstm_forward(weights: LSTMWeights, x: torch.Tensor, mask: torch.Tensor) -> LSTMTrace:
    """Run the LSTM over a right-padded batch, recording all activations."""
    batch, steps, _ = x.shape
    d = weights.hidden_size
    input_part = x @ weights.w_ih.T + weights.bias  # one matmul for all time steps
    h = x.new_zeros(batch, steps + 1, d)
    c = x.new_zeros(batch, steps + 1, d)
    pre = x.new_empty(batch, steps, 4 * d)
    gates = x.new_empty(batch, steps, 4, d)
    for t in range(steps):
        z = input_part[:, t] + h[:, t] @ weights.w_hh.T
        pre[:, t] = z
        zi, zf, zg, zo = z.view(batch, 4, d).unbind(1)
        i, f, o = torch.sigmoid(zi), torch.sigmoid(zf), torch.sigmoid(zo)
        g = torch.tanh(zg)
        gates[:, t] = torch.stack((i, f, g, o), dim=1)
        c_new = f * c[:, t] + i * g
        h_new = o * torch.tanh(c_new)
        keep = mask[:, t, None]
        c[:, t + 1] = torch.where(keep, c_new, c[:, t])
        h[:, t + 1] = torch.where(keep, h_new, h[:, t])
    return LSTMTrace(x, mask, pre, gates, h, c)


@dataclasses.dataclass
class LSTMRelevance:
    """Relevance a layer hands down: to its inputs and to its initial state."""

    inputs: torch.Tensor  # (B, T, I)
    initial_hidden: torch.Tensor  # (B, d)
    initial_cell: torch.Tensor  # (B, d)


def lstm_relevance(
    weights: LSTMWeights,
    trace: LSTMTrace,
    hidden_relevance: torch.Tensor,
    eps: float,
    bias_factor: float,
    product_rule: str = "all",
) -> LSTMRelevance:
    """Propagate relevance from the hidden states to inputs and initial state.

    ``hidden_relevance`` (B, T, d) is the relevance arriving on each output h_t (from the
    read-out at the last index, or from the layer above at every step).
    """
    batch, steps, _ = trace.x.shape
    d = weights.hidden_size
    n_gate_inputs = d + weights.input_size
    n_cell_terms = 2 * d
    # LRP-all sends relevance only through g; other rules through all four gates.
    rows = (
        slice(GATE_G * d, (GATE_G + 1) * d) if product_rule == "all" else slice(0, 4 * d)
    )
    w_ih, w_hh, bias = weights.w_ih[rows], weights.w_hh[rows], weights.bias[rows]
    pre = trace.pre[..., rows]

    r_h = hidden_relevance.new_zeros(batch, d)
    r_c = hidden_relevance.new_zeros(batch, d)
    gate_relevance = hidden_relevance.new_zeros(batch, steps, w_ih.shape[0])
    for t in range(steps - 1, -1, -1):
        r_h = r_h + hidden_relevance[:, t]
        i, f, g, o = trace.gates[:, t].unbind(1)
        c_prev, c_t = trace.c[:, t], trace.c[:, t + 1]
        r_o, r_tanh_c = product_split(o, torch.tanh(c_t), r_h, product_rule, eps)
        r_cell = r_c + r_tanh_c
        forget_term, input_term = f * c_prev, i * g
        r_forget_term = eps_rule(forget_term, None, 0.0, c_t, r_cell, n_cell_terms, eps, bias_factor)
        r_input_term = eps_rule(input_term, None, 0.0, c_t, r_cell, n_cell_terms, eps, bias_factor)
        r_f, r_c_prev = product_split(f, c_prev, r_forget_term, product_rule, eps)
        r_i, r_g = product_split(i, g, r_input_term, product_rule, eps)
        r_pre = r_g if product_rule == "all" else torch.cat((r_i, r_f, r_g, r_o), dim=-1)
        r_h_prev = eps_rule(
            trace.h[:, t], w_hh, bias, pre[:, t], r_pre, n_gate_inputs, eps, bias_factor
        )
        keep = trace.mask[:, t, None]
        gate_relevance[:, t] = torch.where(keep, r_pre, 0.0)
        r_h = torch.where(keep, r_h_prev, r_h)
        r_c = torch.where(keep, r_c_prev, r_c)
    # The input share of every step at once: one batched ε-rule over all time steps.
    r_x = eps_rule(trace.x, w_ih, bias, pre, gate_relevance, n_gate_inputs, eps, bias_factor)
    r_x = torch.where(trace.mask[..., None], r_x, 0.0)
    return LSTMRelevance(r_x, r_h, r_c)
