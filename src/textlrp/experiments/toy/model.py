"""Many 17-parameter LSTMs at once: one tensor computation for forward and backward pass.

The paper's toy model is an LSTM with hidden size 1, one bias per gate and a linear output
without bias: U (4×2 input weights), W (4 recurrent weights), b (4 biases) and w (1 output
weight) = 17 parameters. ``M`` such models are stacked as one ``(M, 17)`` tensor:

    [U_i1 U_i2 U_f1 U_f2 U_g1 U_g2 U_o1 U_o2 | W_i W_f W_g W_o | b_i b_f b_g b_o | w]

(gate rows in PyTorch's order i, f, g, o). The gradient of the mean squared error is computed
by a hand-written back-propagation through time: with hidden size 1 every operation is
element-wise over (models × sequences), so autograd's bookkeeping would only add overhead.
Sequences are sorted by length and packed step by step (like ``PackedSequence``): step t
works on the prefix of sequences longer than t, so no work is spent on padding.
"""

from __future__ import annotations

import torch

from textlrp.models import ClassifierConfig, RecurrentClassifier, Vocabulary

NUM_PARAMS = 17
U_SLICE, W_SLICE, B_SLICE, OUT_INDEX = slice(0, 8), slice(8, 12), slice(12, 16), 16
# Internal gate order (i, f, o, g): the three sigmoid gates first. The swap is its own inverse.
_ORDER = [0, 1, 3, 2]


class PackedSequences:
    """Inputs (N, T, 2) with lengths, sorted by length and packed per time step.

    Step t's rows are ``x[offsets[t] : offsets[t] + counts[t]]``: the ``counts[t]`` longest
    sequences (``order`` maps packed rows back to the input rows).
    """

    def __init__(
        self,
        inputs: torch.Tensor,
        lengths: torch.Tensor,
        targets: torch.Tensor | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        lengths = lengths.to(torch.long).cpu()
        self.order = torch.argsort(lengths, descending=True, stable=True)
        self.size = int(lengths.numel())
        sorted_lengths = lengths[self.order]
        steps = int(sorted_lengths[0])
        self.counts = [int((sorted_lengths > t).sum()) for t in range(steps)]
        self.offsets = [0]
        for n in self.counts[:-1]:
            self.offsets.append(self.offsets[-1] + n)
        ordered = inputs[self.order].to(dtype)
        self.x = torch.cat([ordered[:n, t] for t, n in enumerate(self.counts)]).contiguous()
        offsets = torch.tensor(self.offsets, dtype=torch.long)
        # the packed row of each sequence's last step
        self.final_index = offsets[sorted_lengths - 1] + torch.arange(self.size)
        self.targets = None if targets is None else targets[self.order].to(dtype)

    @property
    def total(self) -> int:
        """Number of packed rows (the sum of the lengths)."""
        return int(self.x.shape[0])


def _split(params: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """U (M,4,2), W (M,4), b (M,4) in the internal gate order, and w (M,)."""
    m = params.shape[0]
    u = params[:, U_SLICE].reshape(m, 4, 2)[:, _ORDER]
    return u, params[:, W_SLICE][:, _ORDER], params[:, B_SLICE][:, _ORDER], params[:, OUT_INDEX]


def _forward(params: torch.Tensor, data: PackedSequences):
    """Run all models over all packed steps; keep what the backward pass needs."""
    u, w_rec, bias, _ = _split(params)
    m, total = params.shape[0], data.total
    gates = torch.matmul(u, data.x.T)  # (M, 4, S) input part of the pre-activations
    gates += bias[:, :, None]
    cells = torch.empty(m, total, dtype=params.dtype)
    tanh_cells = torch.empty_like(cells)
    hidden = torch.empty_like(cells)
    hidden_prev = torch.zeros_like(cells)
    prev = 0
    for t, (start, n) in enumerate(zip(data.offsets, data.counts, strict=True)):
        stop = start + n
        gate = gates[:, :, start:stop]
        if t > 0:
            hidden_prev[:, start:stop] = hidden[:, prev : prev + n]
            gate.addcmul_(w_rec[:, :, None], hidden_prev[:, None, start:stop])
        gate[:, :3].sigmoid_()
        gate[:, 3].tanh_()
        cell = cells[:, start:stop]
        torch.mul(gate[:, 0], gate[:, 3], out=cell)
        if t > 0:
            cell.addcmul_(gate[:, 1], cells[:, prev : prev + n])
        torch.tanh(cell, out=tanh_cells[:, start:stop])
        torch.mul(gate[:, 2], tanh_cells[:, start:stop], out=hidden[:, start:stop])
        prev = start
    return gates, cells, tanh_cells, hidden, hidden_prev


def predict_packed(params: torch.Tensor, data: PackedSequences) -> torch.Tensor:
    """Predictions (M, N) of every model, rows in the packed (length-sorted) order."""
    with torch.no_grad():
        _, _, _, hidden, _ = _forward(params, data)
        return params[:, OUT_INDEX, None] * hidden[:, data.final_index]


def predict(params: torch.Tensor, inputs: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Predictions (M, N) of every model for inputs (N, T, 2), in the input order."""
    data = PackedSequences(inputs, lengths, dtype=params.dtype)
    packed = predict_packed(params, data)
    result = torch.empty_like(packed)
    result[:, data.order] = packed
    return result


def loss_and_grad(params: torch.Tensor, data: PackedSequences) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean squared error (M,) of each model on ``data`` and its gradient (M, 17)."""
    if data.targets is None:
        raise ValueError("the packed data has no targets")
    with torch.no_grad():
        return _loss_and_grad(params, data)


def _loss_and_grad(params: torch.Tensor, data: PackedSequences):
    _, w_rec, _, w_out = _split(params)
    gates, cells, tanh_cells, hidden, hidden_prev = _forward(params, data)
    last = hidden[:, data.final_index]  # (M, N)
    residual = w_out[:, None] * last - data.targets
    loss = (residual * residual).mean(1)
    d_pred = residual * (2.0 / data.size)
    grad_out = (d_pred * last).sum(1)
    d_hidden = d_pred * w_out[:, None]  # gradient reaching h at each sequence's last step
    d_cell = torch.zeros_like(d_hidden)
    steps = len(data.counts)
    for t in range(steps - 1, -1, -1):
        start, n = data.offsets[t], data.counts[t]
        stop = start + n
        gate = gates[:, :, start:stop]  # activations; overwritten below by their gradients
        i, f, o, g = gate[:, 0], gate[:, 1], gate[:, 2], gate[:, 3]
        tanh_c = tanh_cells[:, start:stop]
        dh = d_hidden[:, :n]
        dc = d_cell[:, :n] + dh * o * (1.0 - tanh_c * tanh_c)
        d_o = dh * tanh_c * o * (1.0 - o)
        d_i = dc * g * i * (1.0 - i)
        d_g = dc * i * (1.0 - g * g)
        if t > 0:
            prev = data.offsets[t - 1]
            d_f = dc * cells[:, prev : prev + n] * f * (1.0 - f)
            d_cell[:, :n] = dc * f
        gate[:, 0] = d_i
        gate[:, 2] = d_o
        gate[:, 3] = d_g
        if t > 0:
            gate[:, 1] = d_f
            # dL/dh_{t-1} = sum over gates of W_gate * dL/dz_gate
            d_hidden[:, :n] = torch.bmm(w_rec[:, None, :], gate)[:, 0]
        else:
            gate[:, 1] = 0.0  # c_0 = 0: the forget gate has no effect at the first step
    d_gates = gates  # (M, 4, S): dL/d(pre-activation) per gate, packed row
    grad_u = torch.matmul(d_gates, data.x)  # (M, 4, 2)
    grad_w = torch.bmm(d_gates, hidden_prev[:, :, None])[..., 0]
    grad_b = d_gates.sum(-1)
    grad = torch.empty_like(params)
    grad[:, U_SLICE] = grad_u[:, _ORDER].reshape(-1, 8)
    grad[:, W_SLICE] = grad_w[:, _ORDER]
    grad[:, B_SLICE] = grad_b[:, _ORDER]
    grad[:, OUT_INDEX] = grad_out
    return loss, grad


def init_params(count: int, generator: torch.Generator, dtype=torch.float32) -> torch.Tensor:
    """The paper's initialisation: weights U(-1, 1), biases 0."""
    params = torch.rand(count, NUM_PARAMS, generator=generator, dtype=torch.float64) * 2 - 1
    params[:, B_SLICE] = 0.0
    return params.to(dtype)


def init_runs(seeds: list[int], dtype=torch.float32) -> torch.Tensor:
    """One initialisation per run seed, so a run does not depend on the batch it trains in."""
    rows = [init_params(1, torch.Generator().manual_seed(int(s)), dtype) for s in seeds]
    return torch.cat(rows) if rows else torch.empty(0, NUM_PARAMS, dtype=dtype)


def to_classifier(params: torch.Tensor, dtype: torch.dtype = torch.float64) -> RecurrentClassifier:
    """One model's 17 parameters as a :class:`RecurrentClassifier` (for the explanation methods).

    ``nn.LSTM`` keeps two biases per gate: the gate bias goes to ``bias_ih_l0`` and
    ``bias_hh_l0`` stays zero. The embedding is unused (inputs are given as vectors).
    """
    config = ClassifierConfig(
        embedding_dim=2, hidden_size=1, num_layers=1, bidirectional=False, output_bias=False
    )
    model = RecurrentClassifier(Vocabulary([]), ["y"], config).to(dtype)
    p = params.detach().to(dtype).cpu()
    with torch.no_grad():
        model.rnn.weight_ih_l0.copy_(p[U_SLICE].reshape(4, 2))
        model.rnn.weight_hh_l0.copy_(p[W_SLICE].reshape(4, 1))
        model.rnn.bias_ih_l0.copy_(p[B_SLICE])
        model.rnn.bias_hh_l0.zero_()
        model.output.weight.copy_(p[OUT_INDEX].reshape(1, 1))
    return model.eval()


def from_classifier(model: RecurrentClassifier) -> torch.Tensor:
    """The 17 parameters (float64) of a hidden-size-1 classifier (biases summed)."""
    rnn = model.rnn
    return torch.cat(
        [
            rnn.weight_ih_l0.detach().reshape(-1),
            rnn.weight_hh_l0.detach().reshape(-1),
            (rnn.bias_ih_l0 + rnn.bias_hh_l0).detach(),
            model.output.weight.detach().reshape(-1),
        ]
    ).double()
