"""LRP through a whole :class:`~textlrp.models.LSTMClassifier` (spec §2–4).

Forward: embedding -> every LSTM layer and direction (recorded) -> linear read-out of the final
states. Backward: target score -> read-out (ε-rule, N = all read-out inputs) -> top layer -> ...
-> embeddings, batched over sentences, one loop over time per layer and direction.
"""

from __future__ import annotations

import dataclasses

import torch

from textlrp.lrp.lstm import LSTMTrace, LSTMWeights, lstm_forward, lstm_relevance
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
    layers: list[list[tuple[LSTMWeights, LSTMTrace]]]  # [layer][direction]
    readout_input: torch.Tensor  # (B, directions * d), sorted
    sorted_scores: torch.Tensor  # (B, C), sorted

    @property
    def scores(self) -> torch.Tensor:
        return unsort(self.sorted_scores, self.order)


def unsort(tensor: torch.Tensor, order: torch.Tensor) -> torch.Tensor:
    """Rows of a length-sorted tensor back in the caller's order."""
    result = torch.empty_like(tensor)
    result[order.to(tensor.device)] = tensor
    return result


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
    model: torch.nn.Module, token_ids: torch.Tensor, lengths: torch.Tensor, dtype: torch.dtype
) -> ClassifierTrace:
    """Forward pass of ``model`` in ``dtype``, recording every activation LRP needs."""
    device = model.embedding.weight.device
    lengths = lengths.cpu()
    order = torch.argsort(lengths, descending=True, stable=True)
    lengths = lengths[order]
    token_ids = token_ids.to(device)[order.to(device)]
    mask = length_mask(lengths, token_ids.shape[1], device)
    embedded = torch.nn.functional.embedding(token_ids, model.embedding.weight.detach().to(dtype))
    embedded = torch.where(mask[..., None], embedded, 0.0)
    lstm = model.lstm
    directions = 2 if lstm.bidirectional else 1
    layer_input = embedded
    layers: list[list[tuple[LSTMWeights, LSTMTrace]]] = []
    for layer in range(lstm.num_layers):
        per_direction = []
        outputs = []
        for direction in range(directions):
            weights = LSTMWeights.from_module(lstm, layer, reverse=direction == 1, dtype=dtype)
            reverse = direction == 1
            x = reverse_padded(layer_input, lengths) if reverse else layer_input
            trace = lstm_forward(weights, x, lengths)
            per_direction.append((weights, trace))
            out = reverse_padded(trace.outputs, lengths) if reverse else trace.outputs
            outputs.append(out)
        layers.append(per_direction)
        layer_input = torch.cat(outputs, dim=-1)
    readout_input = torch.cat([trace.final_hidden for _, trace in layers[-1]], dim=-1)
    scores = readout_input @ model.output.weight.detach().to(dtype).T
    if model.output.bias is not None:
        scores = scores + model.output.bias.detach().to(dtype)
    return ClassifierTrace(order, embedded, lengths, layers, readout_input, scores)


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
    n_readout = trace.readout_input.shape[1]
    r_readout = eps_rule(
        trace.readout_input, weight, bias, scores, start, n_readout, eps, bias_factor
    )
    output_bias = torch.zeros_like(scores[:, 0])
    if model.output.bias is not None:
        # The bias's own share b_c / (z_c + ε sign z_c) · R_c, of which δ was handed down.
        z = scores.gather(1, targets[:, None])[:, 0]
        b = bias.gather(0, targets)
        output_bias = (1.0 - bias_factor) * b / (z + signed_eps(z, eps)) * z

    batch, steps = trace.embedded.shape[:2]
    directions = len(trace.layers[-1])
    d = trace.layers[-1][0][0].hidden_size
    # Relevance on every output h_t of each top-layer direction: only the final state, at each
    # sentence's last step, gets some.
    last = (trace.lengths - 1).to(scores.device)[:, None, None].expand(-1, 1, d)
    incoming = []
    for direction in range(directions):
        r = trace.embedded.new_zeros(batch, steps, d)
        r.scatter_(1, last, r_readout[:, None, direction * d : (direction + 1) * d])
        incoming.append(r)

    initial_state = torch.zeros_like(scores[:, 0])
    for layer in range(len(trace.layers) - 1, -1, -1):
        to_inputs = []
        for direction, (weights, layer_trace) in enumerate(trace.layers[layer]):
            relevance = lstm_relevance(
                weights, layer_trace, incoming[direction], eps, bias_factor, product_rule
            )
            initial_state = initial_state + relevance.initial_hidden.sum(-1)
            initial_state = initial_state + relevance.initial_cell.sum(-1)
            r_in = relevance.inputs
            to_inputs.append(reverse_padded(r_in, trace.lengths) if direction == 1 else r_in)
        if layer == 0:
            by_direction = torch.stack(to_inputs, dim=-1)
            break
        total = torch.stack(to_inputs).sum(0)  # (B, T, directions * d) in input time order
        incoming = []
        for direction in range(directions):
            part = total[..., direction * d : (direction + 1) * d]
            incoming.append(reverse_padded(part, trace.lengths) if direction == 1 else part)
    return LRPResult(
        unsort(by_direction, trace.order),
        unsort(initial_state, trace.order),
        unsort(output_bias, trace.order),
        trace.scores,
    )
