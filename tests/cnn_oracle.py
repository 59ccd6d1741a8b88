"""A slow reference for CNN LRP, written from docs/cnn-rules.md for the tests only.

One document at a time, in NumPy float64, a Python loop over every filter, every window,
every word of the window and every embedding dimension. Nothing is shared with the engine:
not the winner search, not the rules, not the short-document rule.
"""

from __future__ import annotations

import numpy as np


def _sign(z):
    return 1.0 if z >= 0 else -1.0


def eps_dense(x, weight, bias, relevance, eps, delta):
    """ε-rule of z_j = Σ_i x_i W[j, i] + b_j; returns (R_i, absorbed). N = len(x)."""
    n = len(x)
    r_in = np.zeros(n)
    absorbed = 0.0
    for j in range(weight.shape[0]):
        z = sum(x[i] * weight[j, i] for i in range(n)) + bias[j]
        denominator = z + eps * _sign(z)
        for i in range(n):
            numerator = x[i] * weight[j, i] + delta * (bias[j] + eps * _sign(z)) / n
            r_in[i] += numerator / denominator * relevance[j]
        absorbed += (1 - delta) * (bias[j] + eps * _sign(z)) / denominator * relevance[j]
    return r_in, absorbed


def zplus_dense(x, weight, bias, relevance):
    """R_i = Σ_j (x_i w_ij)⁺ / (Σ_i' (x_i' w_i'j)⁺ + b_j⁺) R_j; returns (R_i, absorbed)."""
    n = len(x)
    r_in = np.zeros(n)
    absorbed = 0.0
    for j in range(weight.shape[0]):
        positive = [max(x[i] * weight[j, i], 0.0) for i in range(n)]
        denominator = sum(positive) + max(bias[j], 0.0)
        if denominator == 0.0:
            absorbed += relevance[j]
            continue
        for i in range(n):
            r_in[i] += positive[i] / denominator * relevance[j]
        absorbed += max(bias[j], 0.0) / denominator * relevance[j]
    return r_in, absorbed


def _numpy(tensor):
    return None if tensor is None else tensor.detach().double().cpu().numpy()


def cnn_oracle(model, x, target, eps, delta, conv_rule="epsilon", head_rule="epsilon"):
    """(R (L×e), absorbed, scores) for one document ``x`` (L×e array, L may be 0)."""
    length, dims = x.shape
    features, winners = [], []
    for conv in model.convs:
        weight = _numpy(conv.weight)  # (F, e, H)
        bias = _numpy(conv.bias)
        filters, _, width = weight.shape
        windows = max(length - width + 1, 1)
        scale = max((np.sqrt((row**2).sum()) for row in x), default=0.0)
        for f in range(filters):
            values = []
            for p in range(windows):
                z = bias[f]
                for k in range(width):
                    if p + k < length:  # past the end: a zero vector
                        for i in range(dims):
                            z += weight[f, i, k] * x[p + k, i]
                values.append(z)
            # ties up to rounding: τ = 2 n u (‖W_f‖ √H max_t ‖x_t‖ + |b_f|), n = H e + 1
            norm = np.sqrt((weight[f] ** 2).sum())
            tau = 2 * (dims * width + 1) * 2.0**-53 * (norm * np.sqrt(width) * scale + abs(bias[f]))
            # spec §9.3: the winner maximises the activation a = max(0, z), first on ties
            active = [max(z, 0.0) for z in values]
            best = next(p for p, a in enumerate(active) if a >= max(active) - tau)
            best_z = values[best]
            features.append(max(best_z, 0.0))
            winners.append((weight[f], bias[f], width, best, best_z))
    activations = [np.array(features)]
    linears = [layer for layer in model.head if hasattr(layer, "weight")] + [model.output]
    for layer in linears:
        w = _numpy(layer.weight)
        b = np.zeros(w.shape[0]) if layer.bias is None else _numpy(layer.bias)
        out = w @ activations[-1] + b
        activations.append(np.maximum(out, 0.0) if layer is not model.output else out)
    scores = activations[-1]
    relevance = np.zeros_like(scores)
    relevance[target] = scores[target]
    absorbed = 0.0
    for index in range(len(linears) - 1, -1, -1):
        layer = linears[index]
        w = _numpy(layer.weight)
        b = np.zeros(w.shape[0]) if layer.bias is None else _numpy(layer.bias)
        lower = activations[index]
        if head_rule == "zplus" and layer is not model.output:
            relevance, kept = zplus_dense(lower, w, b, relevance)
        else:
            relevance, kept = eps_dense(lower, w, b, relevance, eps, delta)
        absorbed += kept
    r_x = np.zeros((length, dims))
    for f, (weight, bias, width, p, z) in enumerate(winners):
        r_f = relevance[f]  # ReLU and max-pool: all of it to the winning window
        inside = [(k, i) for k in range(width) if p + k < length for i in range(dims)]
        if conv_rule == "zplus":
            positive = {(k, i): max(x[p + k, i] * weight[i, k], 0.0) for k, i in inside}
            denominator = sum(positive.values()) + max(bias, 0.0)
            if denominator == 0.0:
                absorbed += r_f
                continue
            for (k, i), value in positive.items():
                r_x[p + k, i] += value / denominator * r_f
            absorbed += max(bias, 0.0) / denominator * r_f
            continue
        denominator = z + eps * _sign(z)
        share = (bias + eps * _sign(z)) / denominator * r_f
        for k, i in inside:
            r_x[p + k, i] += x[p + k, i] * weight[i, k] / denominator * r_f
            r_x[p + k, i] += delta * share / len(inside)
        absorbed += (1 - delta) * share + (delta * share if not inside else 0.0)
    return r_x, absorbed, scores
