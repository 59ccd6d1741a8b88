"""LRP through one GRU layer in one direction (spec §5), batched like :mod:`textlrp.lrp.lstm`.

PyTorch's GRU: r = σ(W_ir x + b_ir + W_hr h + b_hr), z = σ(W_iz x + b_iz + W_hz h + b_hz),
m = W_hn h + b_hn, n = tanh(W_in x + b_in + r ⊙ m), h_t = (1 − z) ⊙ n + z ⊙ h_{t-1}.

Relevance: h_t is a sum of two products (ε-rule, N = 2d): (1 − z) ⊙ n and z ⊙ h_{t-1}, where
(1 − z) and z are gates and n, h_{t-1} the signals. n's pre-activation sums two layers, x (via
W_in, bias b_in) and the product p = r ⊙ m (identity weights), so N = e + d there; inside p, r is
the gate and m the signal; m passes its relevance to h_{t-1} by the ε-rule (N = d). Gates that
receive relevance (rules other than "all") pass it to their pre-activations and on to x and
h_{t-1} (N = e + d).
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

GATE_R, GATE_Z, GATE_N = 0, 1, 2


@dataclasses.dataclass
class GRUWeights:
    """One direction of one nn.GRU layer (rows r, z, n)."""

    w_ih: torch.Tensor  # (3d, I)
    w_hh: torch.Tensor  # (3d, d)
    b_ih: torch.Tensor  # (3d,)
    b_hh: torch.Tensor  # (3d,)

    @property
    def hidden_size(self) -> int:
        return self.w_hh.shape[1]

    @property
    def input_size(self) -> int:
        return self.w_ih.shape[1]

    def block(self, tensor: torch.Tensor, gate: int) -> torch.Tensor:
        d = self.hidden_size
        return tensor[..., gate * d : (gate + 1) * d]

    @classmethod
    def from_module(
        cls, gru: torch.nn.GRU, layer: int, reverse: bool, dtype: torch.dtype
    ) -> GRUWeights:
        def get(name: str) -> torch.Tensor:
            return layer_parameter(gru, name, layer, reverse, dtype)

        return cls(get("weight_ih"), get("weight_hh"), get("bias_ih"), get("bias_hh"))


@dataclasses.dataclass
class GRUTrace(RecurrentTrace):
    """A recorded GRU pass: gates, candidate, and the pre-activations LRP divides by."""

    r: torch.Tensor  # (B, T, d)
    z: torch.Tensor  # (B, T, d)
    n: torch.Tensor  # (B, T, d)
    m: torch.Tensor  # (B, T, d) W_hn h + b_hn
    pre_r: torch.Tensor  # (B, T, d)
    pre_z: torch.Tensor  # (B, T, d)
    pre_n: torch.Tensor  # (B, T, d)


def gru_forward(weights: GRUWeights, x: torch.Tensor, lengths: torch.Tensor) -> GRUTrace:
    """Run the GRU over a right-padded, length-sorted batch, recording all activations.

    The hidden states come from PyTorch's fused kernel; gates and candidates are then
    recomputed for all steps at once.
    """
    batch, steps, _ = x.shape
    d = weights.hidden_size
    active = active_counts(lengths, steps)
    input_part = torch.addmm(weights.b_ih, x.reshape(-1, x.shape[2]), weights.w_ih.T)
    input_part = input_part.view(batch, steps, 3 * d)
    h = fused_hidden_states(
        torch.gru,
        [weights.w_ih, weights.w_hh, weights.b_ih, weights.b_hh],
        x,
        lengths,
        d,
        cell_state=False,
    )
    w_hh_t = weights.w_hh.T
    # With the hidden states known, everything else is one batched computation.
    hidden_part = torch.addmm(weights.b_hh, h[:, :-1].reshape(-1, d), w_hh_t)
    hidden_part = hidden_part.view(batch, steps, 3 * d)
    pre_r = weights.block(input_part, GATE_R) + weights.block(hidden_part, GATE_R)
    pre_z = weights.block(input_part, GATE_Z) + weights.block(hidden_part, GATE_Z)
    r, z = torch.sigmoid(pre_r), torch.sigmoid(pre_z)
    m = weights.block(hidden_part, GATE_N)
    pre_n = weights.block(input_part, GATE_N) + r * m
    return GRUTrace(x, lengths, active, h, r, z, torch.tanh(pre_n), m, pre_r, pre_z, pre_n)


def gru_relevance(
    weights: GRUWeights,
    trace: GRUTrace,
    hidden_relevance: torch.Tensor,
    eps: float,
    bias_factor: float,
    product_rule: str = "all",
) -> LayerRelevance:
    """Propagate relevance from the hidden states to the inputs and the initial state."""

    batch, steps, _ = trace.x.shape
    d = weights.hidden_size
    n_gate_inputs = d + weights.input_size
    all_rule = product_rule == "all"
    h_prev, h_t = trace.h[:, :-1], trace.h[:, 1:]
    one_minus_z = 1.0 - trace.z
    new_term, keep_term = one_minus_z * trace.n, trace.z * h_prev
    h_stabilizer = signed_eps(h_t, eps)
    h_denominator = h_t + h_stabilizer
    product = trace.r * trace.m
    b_n = weights.block(weights.b_ih, GATE_N)
    n_stabilizer = signed_eps(trace.pre_n, eps)
    n_denominator = trace.pre_n + n_stabilizer
    n_bias_and_stabilizer = b_n + n_stabilizer
    m_stabilizer = signed_eps(trace.m, eps)
    m_denominator = trace.m + m_stabilizer
    m_bias_and_stabilizer = weights.block(weights.b_hh, GATE_N) + m_stabilizer
    w_hn = weights.block(weights.w_hh.T, GATE_N).T  # (d, d)
    # Gates r, z (rules other than "all"): pre-activation = W_i x + W_h h + both biases.
    gate_bias = (weights.b_ih + weights.b_hh)[: 2 * d]
    gate_pre = torch.cat((trace.pre_r, trace.pre_z), dim=-1)
    gate_stabilizer = signed_eps(gate_pre, eps)
    gate_denominator = gate_pre + gate_stabilizer
    gate_bias_and_stabilizer = gate_bias + gate_stabilizer
    w_hh_gates = weights.w_hh[: 2 * d]
    h_share = bias_factor / (2 * d)

    r_h = hidden_relevance.new_zeros(batch, d)
    n_scaled = hidden_relevance.new_zeros(batch, steps, d)
    gate_scaled = hidden_relevance.new_zeros(batch, steps, 2 * d)
    for t in range(steps - 1, -1, -1):
        count = trace.active[t]
        rh = r_h[:count] + hidden_relevance[:count, t]
        scaled = rh / h_denominator[:count, t]
        r_new = new_term[:count, t] * scaled
        r_keep = keep_term[:count, t] * scaled
        if bias_factor != 0.0:
            shared = h_share * (h_stabilizer[:count, t] * scaled).sum(-1, keepdim=True)
            r_new, r_keep = r_new + shared, r_keep + shared
        r_gate_1mz, r_n = product_split(
            one_minus_z[:count, t], trace.n[:count, t], r_new, product_rule, eps
        )
        r_gate_z, r_from_keep = product_split(
            trace.z[:count, t], h_prev[:count, t], r_keep, product_rule, eps
        )
        # n: pre_n = W_in x + b_in + p, the p = r ⊙ m share by identity weights
        s_n = r_n / n_denominator[:count, t]
        n_scaled[:count, t] = s_n
        r_product = eps_messages(
            product[:count, t],
            None,
            s_n,
            n_bias_and_stabilizer[:count, t],
            n_gate_inputs,
            bias_factor,
        )
        r_gate_r, r_m = product_split(
            trace.r[:count, t], trace.m[:count, t], r_product, product_rule, eps
        )
        r_prev = r_from_keep + eps_messages(
            h_prev[:count, t],
            w_hn,
            r_m / m_denominator[:count, t],
            m_bias_and_stabilizer[:count, t],
            d,
            bias_factor,
        )
        if not all_rule:
            s_gates = torch.cat((r_gate_r, r_gate_1mz + r_gate_z), dim=-1)
            s_gates = s_gates / gate_denominator[:count, t]
            gate_scaled[:count, t] = s_gates
            r_prev = r_prev + eps_messages(
                h_prev[:count, t],
                w_hh_gates,
                s_gates,
                gate_bias_and_stabilizer[:count, t],
                n_gate_inputs,
                bias_factor,
            )
        r_h[:count] = r_prev
    # Input shares of all steps at once: through n (W_in) and, for other rules, r and z.
    r_x = eps_messages(
        trace.x,
        weights.block(weights.w_ih.T, GATE_N).T,
        n_scaled,
        n_bias_and_stabilizer,
        n_gate_inputs,
        bias_factor,
    )
    if not all_rule:
        r_x = r_x + eps_messages(
            trace.x,
            weights.w_ih[: 2 * d],
            gate_scaled,
            gate_bias_and_stabilizer,
            n_gate_inputs,
            bias_factor,
        )
    return LayerRelevance(r_x, r_h, torch.zeros_like(r_h))
