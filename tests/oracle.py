"""A slow reference implementation of the spec, written for the tests only.

One sentence at a time, one time step at a time, in NumPy float64, with the formulas of
docs/spec.md (spec §1–5) written out literally (gate names i, g, f, o; the ε-rule as an explicit
lower×upper message matrix). The engine is checked against it.
"""

from __future__ import annotations

import numpy as np
import torch


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def split_product(gate, signal, relevance, rule, eps):
    """Spec §4: (gate share, signal share) of the relevance of gate * signal."""
    if rule == "all":
        return np.zeros_like(relevance), relevance
    if rule == "half":
        return relevance / 2, relevance / 2
    if rule == "prop":
        total = gate + signal
        denominator = total + eps * np.where(total >= 0, 1.0, -1.0)
        return gate / denominator * relevance, signal / denominator * relevance
    if rule == "abs":
        denominator = np.abs(gate) + np.abs(signal) + eps
        return np.abs(gate) / denominator * relevance, np.abs(signal) / denominator * relevance
    raise ValueError(rule)


def lrp_linear(lower, weight_lu, bias, upper, relevance, n_lower, eps, delta):
    """Spec §2: R_i = Σ_j (z_i w_ij + δ(b_j + ε sign z_j)/N) / (z_j + ε sign z_j) · R_j.

    ``weight_lu`` is lower × upper.
    """
    sign = np.where(upper >= 0, 1.0, -1.0)
    numerator = weight_lu * lower[:, None] + delta * (bias + eps * sign)[None, :] / n_lower
    messages = numerator / (upper + eps * sign)[None, :] * relevance[None, :]
    return messages.sum(axis=1)


class OracleLSTM:
    """One direction of one layer; weights given per gate name as (W_a (d×d), U_a (d×I), b_a)."""

    def __init__(self, W, U, b):
        self.W, self.U, self.b = W, U, b  # dicts keyed by "i", "f", "g", "o"
        self.d = W["i"].shape[0]

    def forward(self, x):
        T = len(x)
        d = self.d
        self.x = x
        self.h = [np.zeros(d)]
        self.c = [np.zeros(d)]
        self.pre, self.act = [], []
        for t in range(T):
            pre = {a: self.W[a] @ self.h[t] + self.U[a] @ x[t] + self.b[a] for a in "ifgo"}
            act = {a: sigmoid(pre[a]) for a in "ifo"}
            act["g"] = np.tanh(pre["g"])
            c = act["f"] * self.c[t] + act["i"] * act["g"]
            self.c.append(c)
            self.h.append(act["o"] * np.tanh(c))
            self.pre.append(pre)
            self.act.append(act)
        return np.array(self.h[1:])

    def lrp(self, r_outputs, eps, delta, rule="all"):
        """Relevance of x_t (T×I) and of h_0 + c_0 from relevance on every output h_t (T×d)."""
        T, d = len(self.x), self.d
        n_in = d + self.x.shape[1]
        r_h = [np.zeros(d) for _ in range(T + 1)]
        r_c = [np.zeros(d) for _ in range(T + 1)]
        r_x = np.zeros_like(self.x)
        for t in range(T):
            r_h[t + 1] += r_outputs[t]
        identity, zero = np.eye(d), np.zeros(d)
        for t in range(T, 0, -1):
            act, pre = self.act[t - 1], self.pre[t - 1]
            r_gate = {}
            # h_t = o ⊙ tanh(c_t): o is the gate, tanh(c_t) the signal (identity to c_t)
            r_gate["o"], r_signal = split_product(act["o"], np.tanh(self.c[t]), r_h[t], rule, eps)
            r_c[t] += r_signal
            r_fc = lrp_linear(
                act["f"] * self.c[t - 1], identity, zero, self.c[t], r_c[t], 2 * d, eps, delta
            )
            r_ig = lrp_linear(
                act["i"] * act["g"], identity, zero, self.c[t], r_c[t], 2 * d, eps, delta
            )
            r_gate["f"], r_c[t - 1] = split_product(act["f"], self.c[t - 1], r_fc, rule, eps)
            r_gate["i"], r_gate["g"] = split_product(act["i"], act["g"], r_ig, rule, eps)
            for a in "ifgo":
                r_x[t - 1] += lrp_linear(
                    self.x[t - 1], self.U[a].T, self.b[a], pre[a], r_gate[a], n_in, eps, delta
                )
                r_h[t - 1] += lrp_linear(
                    self.h[t - 1], self.W[a].T, self.b[a], pre[a], r_gate[a], n_in, eps, delta
                )
        return r_x, r_h[0].sum() + r_c[0].sum()


class OracleGRU:
    """One GRU direction, PyTorch's equations, per-gate matrices keyed "r", "z", "n"."""

    def __init__(self, W, U, b_i, b_h):
        self.W, self.U, self.b_i, self.b_h = W, U, b_i, b_h
        self.d = W["r"].shape[0]

    def forward(self, x):
        self.x = x
        self.h = [np.zeros(self.d)]
        self.steps = []
        for t in range(len(x)):
            h = self.h[t]
            pre_r = self.U["r"] @ x[t] + self.b_i["r"] + self.W["r"] @ h + self.b_h["r"]
            pre_z = self.U["z"] @ x[t] + self.b_i["z"] + self.W["z"] @ h + self.b_h["z"]
            r, z = sigmoid(pre_r), sigmoid(pre_z)
            m = self.W["n"] @ h + self.b_h["n"]
            pre_n = self.U["n"] @ x[t] + self.b_i["n"] + r * m
            n = np.tanh(pre_n)
            self.h.append((1 - z) * n + z * h)
            self.steps.append(dict(pre_r=pre_r, pre_z=pre_z, r=r, z=z, m=m, pre_n=pre_n, n=n))
        return np.array(self.h[1:])

    def lrp(self, r_outputs, eps, delta, rule="all"):
        T, d, e = len(self.x), self.d, self.x.shape[1]
        r_h = [np.zeros(d) for _ in range(T + 1)]
        r_x = np.zeros_like(self.x)
        for t in range(T):
            r_h[t + 1] += r_outputs[t]
        identity = np.eye(d)
        for t in range(T, 0, -1):
            s, h_prev, x_t = self.steps[t - 1], self.h[t - 1], self.x[t - 1]
            zero = np.zeros(d)
            r_new = lrp_linear(
                (1 - s["z"]) * s["n"], identity, zero, self.h[t], r_h[t], 2 * d, eps, delta
            )
            r_keep = lrp_linear(
                s["z"] * h_prev, identity, zero, self.h[t], r_h[t], 2 * d, eps, delta
            )
            r_1mz, r_n = split_product(1 - s["z"], s["n"], r_new, rule, eps)
            r_z, r_hh = split_product(s["z"], h_prev, r_keep, rule, eps)
            r_h[t - 1] += r_hh
            # pre_n = U_n x + b_in + p with p = r ⊙ m: two lower layers, e + d units
            r_x[t - 1] += lrp_linear(
                x_t, self.U["n"].T, self.b_i["n"], s["pre_n"], r_n, e + d, eps, delta
            )
            r_p = lrp_linear(
                s["r"] * s["m"], identity, self.b_i["n"], s["pre_n"], r_n, e + d, eps, delta
            )
            r_r, r_m = split_product(s["r"], s["m"], r_p, rule, eps)
            r_h[t - 1] += lrp_linear(
                h_prev, self.W["n"].T, self.b_h["n"], s["m"], r_m, d, eps, delta
            )
            for gate, relevance in (("r", r_r), ("z", r_1mz + r_z)):
                bias = self.b_i[gate] + self.b_h[gate]
                pre = s["pre_" + gate]
                r_x[t - 1] += lrp_linear(
                    x_t, self.U[gate].T, bias, pre, relevance, e + d, eps, delta
                )
                r_h[t - 1] += lrp_linear(
                    h_prev, self.W[gate].T, bias, pre, relevance, e + d, eps, delta
                )
        return r_x, r_h[0].sum()


def _per_gate(module, name, suffix, names):
    tensor = getattr(module, name + suffix).detach().double().numpy()
    d = module.hidden_size
    return {a: tensor[k * d : (k + 1) * d] for k, a in enumerate(names)}


def oracle_from_torch(rnn, layer: int, reverse: bool):
    """Split PyTorch's stacked gate weights into the spec's per-gate matrices."""
    suffix = f"_l{layer}" + ("_reverse" if reverse else "")
    if isinstance(rnn, torch.nn.GRU):
        names = "rzn"
        return OracleGRU(
            _per_gate(rnn, "weight_hh", suffix, names),
            _per_gate(rnn, "weight_ih", suffix, names),
            _per_gate(rnn, "bias_ih", suffix, names),
            _per_gate(rnn, "bias_hh", suffix, names),
        )
    names = "ifgo"
    b_i = _per_gate(rnn, "bias_ih", suffix, names)
    b_h = _per_gate(rnn, "bias_hh", suffix, names)
    return OracleLSTM(
        _per_gate(rnn, "weight_hh", suffix, names),
        _per_gate(rnn, "weight_ih", suffix, names),
        {a: b_i[a] + b_h[a] for a in names},
    )


def oracle_lrp(model, token_ids, target, eps, delta, rule="all"):
    """Word-dimension relevance (T×e), initial-state relevance and scores of one sentence.

    Also returns the per-direction input relevance of the first layer.
    """
    rnn = model.rnn
    directions = 2 if rnn.bidirectional else 1
    readout = model.config.readout
    x = model.embedding.weight.detach().double().numpy()[token_ids]
    layer_input = x
    cells = []
    for layer in range(rnn.num_layers):
        cells.append([oracle_from_torch(rnn, layer, reverse=k == 1) for k in range(directions)])
        outputs = []
        for k, cell in enumerate(cells[-1]):
            seq = layer_input[::-1] if k == 1 else layer_input
            out = cell.forward(seq)
            outputs.append(out[::-1] if k == 1 else out)
        layer_input = np.concatenate(outputs, axis=1)
    T = len(token_ids)
    top = layer_input  # (T, directions * d), input time order
    if readout == "last":
        pooled = np.concatenate([cell.h[-1] for cell in cells[-1]])
    elif readout == "max":
        pooled = top.max(axis=0)
    else:
        pooled = top.mean(axis=0)
    w_out = model.output.weight.detach().double().numpy()
    b_out = np.zeros(len(w_out))
    if model.output.bias is not None:
        b_out = model.output.bias.detach().double().numpy()
    scores = w_out @ pooled + b_out
    start = np.zeros_like(scores)
    start[target] = scores[target]
    r_pooled = lrp_linear(pooled, w_out.T, b_out, scores, start, len(pooled), eps, delta)
    r_top = np.zeros_like(top)
    d = cells[-1][0].d
    if readout == "last":
        r_top[-1, :d] = r_pooled[:d]
        if directions == 2:
            r_top[0, d:] = r_pooled[d:]
    elif readout == "max":
        winners = top.argmax(axis=0)
        r_top[winners, np.arange(top.shape[1])] = r_pooled
    else:
        # pooled_j = Σ_t top_tj / T as a dense layer from all T·units outputs (spec §2: the
        # stabilizer share of each unit is spread over every lower unit)
        units = top.shape[1]
        weight = np.zeros((T * units, units))
        for t in range(T):
            weight[t * units + np.arange(units), np.arange(units)] = 1.0 / T
        r_top = lrp_linear(
            top.reshape(-1), weight, np.zeros(units), pooled, r_pooled, T * units, eps, delta
        ).reshape(T, units)
    r_out = []
    for k in range(directions):
        part = r_top[:, k * d : (k + 1) * d]
        r_out.append(part[::-1] if k == 1 else part)
    initial = 0.0
    for layer in range(rnn.num_layers - 1, -1, -1):
        r_in_total = 0.0
        per_direction = []
        for k, cell in enumerate(cells[layer]):
            r_x, r0 = cell.lrp(r_out[k], eps, delta, rule)
            initial += r0
            r_x = r_x[::-1] if k == 1 else r_x
            per_direction.append(r_x)
            r_in_total = r_in_total + r_x
        if layer > 0:
            r_out = []
            for k in range(directions):
                part = r_in_total[:, k * d : (k + 1) * d]
                r_out.append(part[::-1] if k == 1 else part)
    return np.array(r_in_total), initial, scores, per_direction
