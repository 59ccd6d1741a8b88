"""LRP through a whole :class:`~textlrp.models.RecurrentClassifier` (spec §2–5).

Forward: embedding -> every LSTM/GRU layer and direction (recorded) -> read-out (final states,
max- or mean-pooling) -> linear layer. Backward: target score -> linear layer (ε-rule,
N = all its inputs) -> read-out -> top layer -> ... -> embeddings, batched over sentences, one
loop over time per layer and direction.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch

from textlrp.batching import length_order, unsort
from textlrp.lrp.gru import GRUWeights, gru_forward, gru_relevance
from textlrp.lrp.lstm import LSTMWeights, lstm_forward, lstm_relevance
from textlrp.lrp.rules import eps_rule, signed_eps
from textlrp.lrp.sequence import length_mask, reverse_padded


@dataclasses.dataclass
class ClassifierTrace:
    """Recorded forward pass of the classifier over a padded batch.

    Internally the batch is sorted by decreasing length (``order``); ``scores`` and every
    result handed out are in the caller's order.
    """

    order: torch.Tensor  # (B,) sorted position -> caller's position
    embedded: torch.Tensor  # (B, T, e), sorted
    lengths: torch.Tensor  # (B,), sorted
    layers: list[list[tuple[Any, Any]]]  # [layer][direction] -> (weights, trace)
    top_outputs: torch.Tensor  # (B, T, directions * d), sorted, input time order
    readout: str  # "last", "max" or "mean"
    readout_input: torch.Tensor  # (B, directions * d), sorted
    head: list[tuple[torch.nn.Linear, torch.Tensor, torch.Tensor]]  # (layer, input, output)
    output_input: torch.Tensor  # (B, features) into the output layer, sorted
    sorted_scores: torch.Tensor  # (B, C), sorted

    @property
    def scores(self) -> torch.Tensor:
        return unsort(self.sorted_scores, self.order)


@dataclasses.dataclass
class LRPResult:
    """Input relevance of a batch, with what stayed elsewhere."""

    input_by_direction: torch.Tensor  # (B, T, e, directions) via each first-layer direction
    initial_state: torch.Tensor  # (B,) on h_0 and c_0, all layers and directions
    output_bias: torch.Tensor  # (B,) absorbed by the read-out bias (0 without bias)
    scores: torch.Tensor  # (B, C)

    @property
    def input_relevance(self) -> torch.Tensor:
        """(B, T, e) relevance of each embedding dimension."""
        return self.input_by_direction.sum(-1)


def trace_classifier(
    model: torch.nn.Module, inputs: torch.Tensor, lengths: torch.Tensor, dtype: torch.dtype
) -> ClassifierTrace:
    """Forward pass of ``model`` in ``dtype``, recording every activation LRP needs.

    ``inputs`` are right-padded token indices (B, T) or input vectors (B, T, e).
    """
    device = model.embedding.weight.device
    lengths = lengths.cpu()
    order = length_order(lengths)
    lengths = lengths[order]
    inputs = inputs.to(device)[order.to(device)]
    mask = length_mask(lengths, inputs.shape[1], device)
    if inputs.dim() == 2:
        inputs = torch.nn.functional.embedding(inputs, model.embedding.weight.detach())
    embedded = torch.where(mask[..., None], inputs.to(dtype), 0.0)
    rnn = model.rnn
    is_gru = isinstance(rnn, torch.nn.GRU)
    weights_of = GRUWeights.from_module if is_gru else LSTMWeights.from_module
    directions = 2 if rnn.bidirectional else 1
    layer_input = embedded
    layers: list[list[tuple[Any, Any]]] = []
    for layer in range(rnn.num_layers):
        per_direction = []
        outputs = []
        for direction in range(directions):
            reverse = direction == 1
            weights = weights_of(rnn, layer, reverse, dtype)
            if is_gru:
                x = reverse_padded(layer_input, lengths) if reverse else layer_input
                trace = gru_forward(weights, x, lengths)
                out = reverse_padded(trace.outputs, lengths) if reverse else trace.outputs
            else:  # the LSTM's packed layout reads a backward encoder's order itself
                trace = lstm_forward(weights, layer_input, lengths, reverse)
                out = trace.outputs
            per_direction.append((weights, trace))
            outputs.append(out)
        layers.append(per_direction)
        layer_input = torch.cat(outputs, dim=-1)
    readout = model.config.readout
    if readout == "last":
        readout_input = torch.cat([trace.final_hidden for _, trace in layers[-1]], dim=-1)
    elif readout == "max":
        readout_input = layer_input.masked_fill(~mask[..., None], float("-inf")).amax(dim=1)
    else:
        readout_input = layer_input.sum(dim=1) / lengths.to(device, dtype)[:, None]
    head, features = head_forward(model.head, readout_input, dtype)
    scores = linear(model.output, features, dtype)
    return ClassifierTrace(
        order,
        embedded,
        lengths,
        layers,
        layer_input,
        readout,
        readout_input,
        head,
        features,
        scores,
    )


def linear(layer: torch.nn.Linear, x: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    # As nn.Linear computes it, so that the trace's scores equal the module's bit for bit.
    bias = None if layer.bias is None else layer.bias.detach().to(dtype)
    return torch.nn.functional.linear(x, layer.weight.detach().to(dtype), bias)


def head_forward(
    head: torch.nn.Sequential, x: torch.Tensor, dtype: torch.dtype
) -> tuple[list[tuple[torch.nn.Linear, torch.Tensor, torch.Tensor]], torch.Tensor]:
    """Run the Linear/ReLU/Dropout layers between read-out and output (dropout off)."""
    recorded = []
    for layer in head:
        if isinstance(layer, torch.nn.Linear):
            out = linear(layer, x, dtype)
            recorded.append((layer, x, out))
            x = out
        elif isinstance(layer, torch.nn.ReLU):
            x = torch.relu(x)
        elif not isinstance(layer, torch.nn.Dropout | torch.nn.Identity):
            raise TypeError(f"unsupported head layer {layer.__class__.__name__}")
    return recorded, x


def classifier_relevance(
    model: torch.nn.Module,
    trace: ClassifierTrace,
    targets: torch.Tensor,
    eps: float = 0.001,
    bias_factor: float = 0.0,
    product_rule: str = "all",
) -> LRPResult:
    """Relevance of every input dimension for the score of ``targets[b]`` in sentence ``b``."""
    scores = trace.sorted_scores
    dtype = scores.dtype
    targets = targets.to(scores.device)[trace.order.to(scores.device)]
    start = torch.zeros_like(scores)
    start.scatter_(1, targets[:, None], scores.gather(1, targets[:, None]))
    weight = model.output.weight.detach().to(dtype)
    bias = 0.0 if model.output.bias is None else model.output.bias.detach().to(dtype)
    r_features = eps_rule(
        trace.output_input,
        weight,
        bias,
        scores,
        start,
        trace.output_input.shape[1],
        eps,
        bias_factor,
    )
    # Through the head: ReLU passes relevance unchanged, each Linear by the ε-rule.
    for layer, x, out in reversed(trace.head):
        layer_bias = 0.0 if layer.bias is None else layer.bias.detach().to(dtype)
        r_features = eps_rule(
            x,
            layer.weight.detach().to(dtype),
            layer_bias,
            out,
            r_features,
            x.shape[1],
            eps,
            bias_factor,
        )
    r_readout = r_features
    output_bias = torch.zeros_like(scores[:, 0])
    if model.output.bias is not None:
        # The bias's own share b_c / (z_c + ε sign z_c) · R_c, of which δ was handed down.
        z = scores.gather(1, targets[:, None])[:, 0]
        b = bias.gather(0, targets)
        output_bias = (1.0 - bias_factor) * b / (z + signed_eps(z, eps)) * z

    directions = len(trace.layers[-1])
    d = trace.layers[-1][0][0].hidden_size
    # Relevance on every output h_t of each top-layer direction, at the input positions.
    on_outputs = readout_relevance(trace, r_readout, eps, bias_factor)
    incoming = split_directions(on_outputs, directions, d)

    initial_state = torch.zeros_like(scores[:, 0])
    for layer in range(len(trace.layers) - 1, -1, -1):
        to_inputs = []
        for direction, (weights, layer_trace) in enumerate(trace.layers[layer]):
            reverse = direction == 1
            if isinstance(weights, GRUWeights):
                arriving = incoming[direction]
                arriving = reverse_padded(arriving, trace.lengths) if reverse else arriving
                relevance = gru_relevance(
                    weights, layer_trace, arriving, eps, bias_factor, product_rule
                )
                r_in = relevance.inputs
                r_in = reverse_padded(r_in, trace.lengths) if reverse else r_in
            else:
                relevance = lstm_relevance(
                    weights, layer_trace, incoming[direction], eps, bias_factor, product_rule
                )
                r_in = relevance.inputs
            initial_state = initial_state + relevance.initial_hidden.sum(-1)
            initial_state = initial_state + relevance.initial_cell.sum(-1)
            to_inputs.append(r_in)
        if layer == 0:
            by_direction = torch.stack(to_inputs, dim=-1)
            break
        total = torch.stack(to_inputs).sum(0)  # (B, T, directions * d) in input time order
        incoming = split_directions(total, directions, d)
    return LRPResult(
        unsort(by_direction, trace.order),
        unsort(initial_state, trace.order),
        unsort(output_bias, trace.order),
        trace.scores,
    )


def split_directions(relevance: torch.Tensor, directions: int, d: int) -> list[torch.Tensor]:
    """Per-direction slices of (B, T, directions * d), at the input positions."""
    return [relevance[..., k * d : (k + 1) * d] for k in range(directions)]


def readout_relevance(
    trace: ClassifierTrace, relevance: torch.Tensor, eps: float, bias_factor: float
) -> torch.Tensor:
    """Relevance of the top layer's outputs (B, T, directions * d) from that of the read-out.

    "last": each direction's final state (the backward encoder's is at the first word);
    "max": all of a unit's relevance to the time step where it was largest;
    "mean": the ε-rule of v = (1/T) Σ_t h_t, N = T · units (no bias, only the stabilizer).
    """
    outputs = trace.top_outputs
    batch, steps, units = outputs.shape
    result = torch.zeros_like(outputs)
    if trace.readout == "last":
        d = trace.layers[-1][0][0].hidden_size
        last = (trace.lengths - 1).to(outputs.device)
        result[torch.arange(batch, device=outputs.device), last, :d] = relevance[:, :d]
        if len(trace.layers[-1]) == 2:
            result[:, 0, d:] = relevance[:, d:]
        return result
    mask = length_mask(trace.lengths, steps, outputs.device)
    if trace.readout == "max":
        winners = outputs.masked_fill(~mask[..., None], float("-inf")).argmax(dim=1)
        return result.scatter_(1, winners[:, None, :], relevance[:, None, :])
    lengths = trace.lengths.to(outputs.device, outputs.dtype)[:, None, None]
    stabilizer = signed_eps(trace.readout_input, eps)
    scaled = (relevance / (trace.readout_input + stabilizer))[:, None, :]
    result = outputs / lengths * scaled
    if bias_factor != 0.0:
        shared = (stabilizer[:, None, :] * scaled).sum(-1, keepdim=True)
        result = result + bias_factor * shared / (lengths * units)
    return torch.where(mask[..., None], result, 0.0)
