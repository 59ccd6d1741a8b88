"""A slow reference implementation of the spec, written for the tests only.

One sentence at a time, one time step at a time, in NumPy float64, with the formulas of
lrp-spec.md §1–3 written out literally (gate names i, g, f, o; the ε-rule as an explicit
lower×upper message matrix). The engine is checked against it.
"""

from __future__ import annotations

import numpy as np


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


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

    def lrp(self, r_outputs, eps, delta):
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
            r_c[t] += r_h[t]  # o is a gate: all to tanh(c_t), then unchanged to c_t
            r_c[t - 1] = lrp_linear(
                act["f"] * self.c[t - 1], identity, zero, self.c[t], r_c[t], 2 * d, eps, delta
            )
            r_g = lrp_linear(
                act["i"] * act["g"], identity, zero, self.c[t], r_c[t], 2 * d, eps, delta
            )
            r_x[t - 1] = lrp_linear(
                self.x[t - 1], self.U["g"].T, self.b["g"], pre["g"], r_g, n_in, eps, delta
            )
            r_h[t - 1] += lrp_linear(
                self.h[t - 1], self.W["g"].T, self.b["g"], pre["g"], r_g, n_in, eps, delta
            )
        return r_x, r_h[0].sum() + r_c[0].sum()


def oracle_from_torch(lstm, layer: int, reverse: bool) -> OracleLSTM:
    """Split PyTorch's stacked (i, f, g, o) weights into the spec's per-gate matrices."""
    suffix = f"_l{layer}" + ("_reverse" if reverse else "")
    w_ih = getattr(lstm, "weight_ih" + suffix).detach().double().numpy()
    w_hh = getattr(lstm, "weight_hh" + suffix).detach().double().numpy()
    bias = (
        getattr(lstm, "bias_ih" + suffix).detach().double().numpy()
        + getattr(lstm, "bias_hh" + suffix).detach().double().numpy()
    )
    d = w_hh.shape[1]
    names = "ifgo"
    U = {a: w_ih[k * d : (k + 1) * d] for k, a in enumerate(names)}
    W = {a: w_hh[k * d : (k + 1) * d] for k, a in enumerate(names)}
    b = {a: bias[k * d : (k + 1) * d] for k, a in enumerate(names)}
    return OracleLSTM(W, U, b)


def oracle_lrp(model, token_ids, target, eps, delta):
    """Word-dimension relevance (T×e), initial-state relevance and scores of one sentence."""
    lstm = model.lstm
    directions = 2 if lstm.bidirectional else 1
    x = model.embedding.weight.detach().double().numpy()[token_ids]
    layer_input = x
    cells = []
    for layer in range(lstm.num_layers):
        cells.append([oracle_from_torch(lstm, layer, reverse=k == 1) for k in range(directions)])
        outputs = []
        for k, cell in enumerate(cells[-1]):
            seq = layer_input[::-1] if k == 1 else layer_input
            out = cell.forward(seq)
            outputs.append(out[::-1] if k == 1 else out)
        layer_input = np.concatenate(outputs, axis=1)
    final = np.concatenate([cell.h[-1] for cell in cells[-1]])
    w_out = model.output.weight.detach().double().numpy()
    scores = w_out @ final
    start = np.zeros_like(scores)
    start[target] = scores[target]
    r_final = lrp_linear(
        final, w_out.T, np.zeros_like(scores), scores, start, len(final), eps, delta
    )
    T = len(token_ids)
    d = cells[-1][0].d
    r_out = []
    for k in range(directions):
        r = np.zeros((T, d))
        r[-1] = r_final[k * d : (k + 1) * d]
        r_out.append(r)
    initial = 0.0
    for layer in range(lstm.num_layers - 1, -1, -1):
        r_in_total = 0.0
        per_direction = []
        for k, cell in enumerate(cells[layer]):
            r_x, r0 = cell.lrp(r_out[k], eps, delta)
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
