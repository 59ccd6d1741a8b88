"""LRP through one LSTM layer in one direction, for a right-padded batch (spec §3–4).

Batches are sorted by decreasing length and held time-major and packed
(:class:`~textlrp.lrp.recurrent.PackedLayout`, the layout of PyTorch's packed sequences): at
step t the sentences still running are one contiguous block of rows, each step works on that
block only, and nothing is computed for padding. Everything that does not depend on the
recurrence (input projections, gate activations, ε-stabilized denominators, the input
relevance) is computed for all time steps at once outside the loops; the loops keep a handful
of in-place operations per step.
"""

from __future__ import annotations

import dataclasses
import functools

import torch

from textlrp.lrp import native
from textlrp.lrp.recurrent import LayerRelevance, PackedLayout, layer_parameter
from textlrp.lrp.rules import eps_messages, product_split, signed_eps, stabilized

# Row blocks of PyTorch's stacked gate weights (nn.LSTM orders the gates i, f, g, o).
GATE_I, GATE_F, GATE_G, GATE_O = 0, 1, 2, 3


@dataclasses.dataclass
class LSTMWeights:
    """One direction of one nn.LSTM layer; ``bias`` is the sum of PyTorch's two biases."""

    w_ih: torch.Tensor  # (4d, I)
    w_hh: torch.Tensor  # (4d, d)
    bias: torch.Tensor  # (4d,)
    b_ih: torch.Tensor | None = None  # PyTorch's two biases, for its fused kernel
    b_hh: torch.Tensor | None = None

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

        b_ih, b_hh = get("bias_ih"), get("bias_hh")
        return cls(get("weight_ih"), get("weight_hh"), b_ih + b_hh, b_ih, b_hh)


@dataclasses.dataclass
class LSTMTrace:
    """A recorded LSTM pass, every tensor packed (N = Σ lengths rows, see ``layout``)."""

    layout: PackedLayout
    x: torch.Tensor  # (N, I) inputs
    h: torch.Tensor  # (N, d) hidden states h_t
    pre: torch.Tensor  # (N, 4d) gate pre-activations
    i: torch.Tensor  # (N, d) input gate
    f: torch.Tensor  # (N, d) forget gate
    g: torch.Tensor  # (N, d) cell candidate
    c: torch.Tensor  # (N, d) cell states c_t
    final_hidden: torch.Tensor  # (B, d) each sentence's state after its last step

    @property
    def outputs(self) -> torch.Tensor:
        """Hidden state after each step (B, T, d) at the input positions, zero on padding."""
        return self.layout.unpack(self.h)

    @functools.cached_property
    def h_prev(self) -> torch.Tensor:
        """(N, d) h_{t-1}, zero at the first step (made when a product rule needs it)."""
        return self.layout.shifted(self.h)

    @functools.cached_property
    def c_prev(self) -> torch.Tensor:
        """(N, d) c_{t-1}, c_0 = 0."""
        return self.layout.shifted(self.c)

    o: torch.Tensor | None = None  # (N, d) output gate




def lstm_forward(
    weights: LSTMWeights, x: torch.Tensor, lengths: torch.Tensor, reverse: bool = False
) -> LSTMTrace:
    """Run the LSTM over a right-padded, length-sorted batch (B, T, I), recording activations.

    ``reverse=True`` reads each sentence back to front (a backward encoder). The input
    projection of all steps is one matrix product; each step then adds its hidden projection
    and computes gates, cell and hidden state in place in the packed buffers, so every
    activation is computed once and recorded as it is made.
    """
    batch, steps, _ = x.shape
    d = weights.hidden_size
    layout = PackedLayout.build(lengths, steps, x.device, reverse)
    packed = layout.pack(x)
    pre = torch.addmm(weights.bias, packed, weights.w_ih.T)  # (N, 4d), the input part so far
    gates = torch.empty_like(pre)
    c = pre.new_empty(pre.shape[0], d)
    h = torch.empty_like(c)
    compiled = native.kernels()
    if compiled is not None:
        compiled.forward_steps(pre, gates, c, h, weights.w_hh.T, layout.sizes, layout.offsets)
    else:
        _forward_steps(layout, weights.w_hh.T, pre, gates, c, h)
    i, f, g = gates[:, :d], gates[:, d : 2 * d], gates[:, 2 * d : 3 * d]
    o = gates[:, 3 * d :]
    return LSTMTrace(layout, packed, h, pre, i, f, g, c, h[layout.last], o)


def _forward_steps(
    layout: PackedLayout,
    w_hh_t: torch.Tensor,
    pre: torch.Tensor,
    gates: torch.Tensor,
    c: torch.Tensor,
    h: torch.Tensor,
) -> None:
    """The recurrence, step by step, writing into the packed buffers (pre gets W_hh h_{t-1})."""
    d = c.shape[1]
    for t in range(layout.steps):
        rows, n = layout.rows(t), layout.sizes[t]
        if n == 0:
            break
        pre_t, gates_t, c_t, h_t = pre[rows], gates[rows], c[rows], h[rows]
        if t > 0:
            previous = layout.rows(t - 1)
            pre_t.addmm_(h[previous][:n], w_hh_t)
        torch.sigmoid(pre_t, out=gates_t)
        torch.tanh(pre_t[:, 2 * d : 3 * d], out=gates_t[:, 2 * d : 3 * d])
        torch.mul(gates_t[:, :d], gates_t[:, 2 * d : 3 * d], out=c_t)
        if t > 0:
            c_t.addcmul_(gates_t[:, d : 2 * d], c[previous][:n])
        torch.tanh(c_t, out=h_t)
        h_t.mul_(gates_t[:, 3 * d :])


def lstm_relevance(
    weights: LSTMWeights,
    trace: LSTMTrace,
    hidden_relevance: torch.Tensor,
    eps: float,
    bias_factor: float,
    product_rule: str = "all",
) -> LayerRelevance:
    """Propagate relevance from the hidden states to the inputs and the initial state.

    ``hidden_relevance`` (B, T, d), at the input positions, is the relevance arriving on each
    output h_t (from the read-out at each sentence's last step, or from the layer above at
    every step). The input relevance comes back (B, T, I) at the input positions.
    """
    layout = trace.layout
    incoming = layout.pack(hidden_relevance)
    if product_rule == "all":
        inputs, r_h, r_c = _relevance_all(weights, trace, incoming, eps, bias_factor)
    else:
        inputs, r_h, r_c = _relevance_split(
            weights, trace, incoming, eps, bias_factor, product_rule
        )
    return LayerRelevance(layout.unpack(inputs), r_h, r_c)


def _relevance_all(
    weights: LSTMWeights, trace: LSTMTrace, incoming: torch.Tensor, eps: float, delta: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """LRP-all: o, f, i are gates, so R(h_t) goes to c_t, and c_t's input share to g_t only.

    Per step, with R the relevance of c_t (all of R(h_t) plus what c_{t+1} handed back):
    g's scaled relevance s = R · i g / ((c_t + ε) (pre_g + ε)) (stored for the input share),
    R(c_{t-1}) = R · f c_{t-1} / (c_t + ε), R(h_{t-1}) = h_{t-1} ⊙ (s W_hg).
    """
    layout = trace.layout
    d = weights.hidden_size
    rows_g = slice(GATE_G * d, (GATE_G + 1) * d)
    n_gate_inputs = d + weights.input_size
    pre_g = trace.pre[:, rows_g]
    w_hg = weights.w_hh[rows_g]
    compiled = native.kernels()
    extra = (None, None, None)
    if delta == 0.0 and compiled is not None and trace.c.device.type == "cpu":
        # One pass over the trace instead of a dozen (the same operations, element by element).
        input_share, forget_share = compiled.all_shares(
            trace.c, trace.i, trace.f, trace.g, pre_g, layout.previous, eps
        )
    else:
        cell_denominator = stabilized(trace.c, eps)
        gate_denominator = stabilized(pre_g, eps)
        input_share = trace.i * trace.g / cell_denominator / gate_denominator
        forget_share = trace.f * trace.c_prev / cell_denominator
        if delta != 0.0:
            # δ shares the stabilizer/bias parts: of c_t over its 2d terms, of pre_g over N.
            cell_shared = (delta / (2 * d)) * signed_eps(trace.c, eps) / cell_denominator
            gate_bias = weights.bias[rows_g] + signed_eps(pre_g, eps)
            gate_shared = (delta / n_gate_inputs) * gate_bias
            extra = (cell_shared, gate_denominator, gate_shared)
    relevance = incoming.new_zeros(layout.batch, d)  # R of c_t for the running rows
    scaled = torch.empty_like(incoming)  # s of every packed row
    steps = compiled.relevance_all_steps if compiled is not None else _relevance_all_steps
    r_h0, r_c0 = steps(
        relevance,
        scaled,
        incoming,
        input_share,
        forget_share,
        trace.h,
        w_hg,
        layout.sizes,
        layout.offsets,
        *extra,
    )
    inputs = trace.x * (scaled @ weights.w_ih[rows_g])
    if delta != 0.0:
        inputs += (gate_shared * scaled).sum(-1, keepdim=True)
    return inputs, r_h0, r_c0


def _relevance_all_steps(
    relevance: torch.Tensor,
    scaled: torch.Tensor,
    incoming: torch.Tensor,
    input_share: torch.Tensor,
    forget_share: torch.Tensor,
    h: torch.Tensor,
    w_hg: torch.Tensor,
    sizes: list[int],
    offsets: list[int],
    cell_shared: torch.Tensor | None,
    gate_denominator: torch.Tensor | None,
    gate_shared: torch.Tensor | None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """LRP-all's loop over time, backwards (the compiled kernel runs the same operations)."""
    delta = cell_shared is not None
    r_h0 = r_c0 = None
    for t in range(len(sizes) - 1, -1, -1):
        n = sizes[t]
        if n == 0:
            continue
        rows = slice(offsets[t], offsets[t] + n)
        r = relevance[:n]
        r.add_(incoming[rows])
        s = torch.mul(input_share[rows], r, out=scaled[rows])
        if delta:
            shared = (cell_shared[rows] * r).sum(-1, keepdim=True)
            s.addcdiv_(shared.expand_as(s), gate_denominator[rows])
        back = s @ w_hg
        # h_{t-1} of the running rows: the first rows of the previous step's block
        h_prev = h[offsets[t - 1] : offsets[t - 1] + n] if t > 0 else torch.zeros_like(s)
        if delta:
            r_hidden = torch.addcmul(
                (gate_shared[rows] * s).sum(-1, keepdim=True).expand_as(s), h_prev, back
            )
            r.mul_(forget_share[rows]).add_(shared)
        else:
            r_hidden = h_prev * back
            r.mul_(forget_share[rows])
        if t == 0:
            r_h0, r_c0 = r_hidden, r.clone()
        r.add_(r_hidden)
    return r_h0, r_c0


def _relevance_split(
    weights: LSTMWeights,
    trace: LSTMTrace,
    incoming: torch.Tensor,
    eps: float,
    delta: float,
    product_rule: str,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The product rules that give gates a share ("prop", "abs", "half"): all four gates."""
    layout = trace.layout
    d = weights.hidden_size
    n_gate_inputs = d + weights.input_size
    i, f, g, o = trace.i, trace.f, trace.g, trace.o
    c_t, c_prev = trace.c, trace.c_prev
    cell_stabilizer = signed_eps(c_t, eps)
    cell_denominator = c_t + cell_stabilizer
    forget_term, input_term = f * c_prev, i * g
    pre_stabilizer = signed_eps(trace.pre, eps)
    pre_denominator = trace.pre + pre_stabilizer
    bias_and_stabilizer = weights.bias + pre_stabilizer
    tanh_c = torch.tanh(c_t)
    cell_share = delta / (2 * d)

    r_h = incoming.new_zeros(layout.batch, d)
    r_c = incoming.new_zeros(layout.batch, d)
    gate_scaled = incoming.new_zeros(incoming.shape[0], 4 * d)
    for t in range(layout.steps - 1, -1, -1):
        rows, n = layout.rows(t), layout.sizes[t]
        rh = r_h[:n] + incoming[rows]
        r_o, r_tanh_c = product_split(o[rows], tanh_c[rows], rh, product_rule, eps)
        r_cell = r_c[:n] + r_tanh_c
        scaled = r_cell / cell_denominator[rows]
        r_forget = forget_term[rows] * scaled
        r_input = input_term[rows] * scaled
        if delta != 0.0:
            shared = cell_share * (cell_stabilizer[rows] * scaled).sum(-1, keepdim=True)
            r_forget = r_forget + shared
            r_input = r_input + shared
        r_f, r_c_prev = product_split(f[rows], c_prev[rows], r_forget, product_rule, eps)
        r_i, r_g = product_split(i[rows], g[rows], r_input, product_rule, eps)
        gate = torch.cat((r_i, r_f, r_g, r_o), dim=-1) / pre_denominator[rows]
        gate_scaled[rows] = gate
        r_h[:n] = eps_messages(
            trace.h_prev[rows], weights.w_hh, gate, bias_and_stabilizer[rows], n_gate_inputs, delta
        )
        r_c[:n] = r_c_prev
    r_x = eps_messages(
        trace.x, weights.w_ih, gate_scaled, bias_and_stabilizer, n_gate_inputs, delta
    )
    return r_x, r_h, r_c
