"""LRP through one LSTM layer in one direction, for a right-padded batch (spec §3–4).

Batches are sorted by decreasing length, so at step t the sentences still running are the
first ``active[t]`` rows: each step works on that slice only (the packed-sequence idea), and
nothing is computed for padding. Everything that does not depend on the recurrence (input
projections, gate activations, ε-stabilized denominators, the input relevance) is computed
for all time steps at once outside the loops.
"""

from __future__ import annotations

import dataclasses

import torch

from textlrp.lrp.recurrent import (
    LayerRelevance,
    RecurrentTrace,
    active_counts,
    fused_hidden_states,
    layer_parameter,
)
from textlrp.lrp.rules import eps_messages, product_split, signed_eps

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
        def get(name: str) -> torch.Tensor:
            return layer_parameter(lstm, name, layer, reverse, dtype)

        return cls(get("weight_ih"), get("weight_hh"), get("bias_ih") + get("bias_hh"))


@dataclasses.dataclass
class LSTMTrace(RecurrentTrace):
    """A recorded LSTM pass: gate pre-activations and activations, and the cell states."""

    pre: torch.Tensor  # (B, T, 4d) gate pre-activations
    gates: torch.Tensor  # (B, T, 4, d) activations i, f, g, o
    c: torch.Tensor  # (B, T+1, d), c[:, 0] = c_0 = 0


def lstm_forward(weights: LSTMWeights, x: torch.Tensor, lengths: torch.Tensor) -> LSTMTrace:
    """Run the LSTM over a right-padded, length-sorted batch, recording all activations.

    The hidden states come from PyTorch's fused recurrent kernel (:func:`fused_hidden_states`);
    with them known, gate pre-activations and activations are one batched computation, and
    only the cell states' linear recurrence c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t is left to a loop.
    """
    batch, steps, _ = x.shape
    d = weights.hidden_size
    active = active_counts(lengths, steps)
    h = fused_hidden_states(
        torch.lstm,
        [weights.w_ih, weights.w_hh, weights.bias, torch.zeros_like(weights.bias)],
        x,
        lengths,
        d,
        cell_state=True,
    )
    input_part = torch.addmm(weights.bias, x.reshape(-1, x.shape[2]), weights.w_ih.T)
    hidden_part = h[:, :-1].reshape(-1, d) @ weights.w_hh.T
    pre = (input_part + hidden_part).view(batch, steps, 4 * d)
    gates = torch.sigmoid(pre).view(batch, steps, 4, d)
    gates[:, :, GATE_G] = torch.tanh(pre.view(batch, steps, 4, d)[:, :, GATE_G])
    new_input = gates[:, :, GATE_I] * gates[:, :, GATE_G]
    forget = gates[:, :, GATE_F]
    c = x.new_zeros(batch, steps + 1, d)
    for t, n in enumerate(active):
        c[:n, t + 1] = torch.addcmul(new_input[:n, t], forget[:n, t], c[:n, t])
    return LSTMTrace(x, lengths, active, h, pre, gates, c)


def lstm_relevance(
    weights: LSTMWeights,
    trace: LSTMTrace,
    hidden_relevance: torch.Tensor,
    eps: float,
    bias_factor: float,
    product_rule: str = "all",
) -> LayerRelevance:
    """Propagate relevance from the hidden states to the inputs and the initial state.

    ``hidden_relevance`` (B, T, d) is the relevance arriving on each output h_t (from the
    read-out at each sentence's last step, or from the layer above at every step).
    """
    batch, steps, _ = trace.x.shape
    d = weights.hidden_size
    n_gate_inputs = d + weights.input_size
    n_cell_terms = 2 * d
    # LRP-all sends relevance only through g; the other rules through all four gates.
    rows = slice(GATE_G * d, (GATE_G + 1) * d) if product_rule == "all" else slice(0, 4 * d)
    w_ih, w_hh, bias = weights.w_ih[rows], weights.w_hh[rows], weights.bias[rows]

    # Everything but the recurrence, for all steps at once.
    i, f, g, o = trace.gates.unbind(2)
    c_t, c_prev = trace.c[:, 1:], trace.c[:, :-1]
    cell_stabilizer = signed_eps(c_t, eps)
    cell_denominator = c_t + cell_stabilizer
    forget_term, input_term = f * c_prev, i * g
    pre = trace.pre[..., rows]
    pre_stabilizer = signed_eps(pre, eps)
    pre_denominator = pre + pre_stabilizer
    bias_and_stabilizer = bias + pre_stabilizer
    tanh_c = torch.tanh(c_t)
    cell_share = bias_factor / n_cell_terms

    r_h = hidden_relevance.new_zeros(batch, d)
    r_c = hidden_relevance.new_zeros(batch, d)
    gate_scaled = hidden_relevance.new_zeros(batch, steps, w_ih.shape[0])
    for t in range(steps - 1, -1, -1):
        n = trace.active[t]
        rh = r_h[:n] + hidden_relevance[:n, t]
        if product_rule == "all":
            r_cell = r_c[:n] + rh  # o is a gate: all of R(h_t) goes to c_t
        else:
            r_o, r_tanh_c = product_split(o[:n, t], tanh_c[:n, t], rh, product_rule, eps)
            r_cell = r_c[:n] + r_tanh_c
        scaled = r_cell / cell_denominator[:n, t]
        r_forget = forget_term[:n, t] * scaled
        r_input = input_term[:n, t] * scaled
        if bias_factor != 0.0:
            shared = cell_share * (cell_stabilizer[:n, t] * scaled).sum(-1, keepdim=True)
            r_forget = r_forget + shared
            r_input = r_input + shared
        if product_rule == "all":
            r_pre, r_c_prev = r_input, r_forget
        else:
            r_f, r_c_prev = product_split(f[:n, t], c_prev[:n, t], r_forget, product_rule, eps)
            r_i, r_g = product_split(i[:n, t], g[:n, t], r_input, product_rule, eps)
            r_pre = torch.cat((r_i, r_f, r_g, r_o), dim=-1)
        gate = r_pre / pre_denominator[:n, t]
        gate_scaled[:n, t] = gate
        r_h[:n] = eps_messages(
            trace.h[:n, t], w_hh, gate, bias_and_stabilizer[:n, t], n_gate_inputs, bias_factor
        )
        r_c[:n] = r_c_prev
    # The input share of every step at once (zero on padding, where nothing was scaled).
    r_x = eps_messages(trace.x, w_ih, gate_scaled, bias_and_stabilizer, n_gate_inputs, bias_factor)
    return LayerRelevance(r_x, r_h, r_c)
