"""Contextual Decomposition (Murdoch et al. 2018) for single-layer (bi-)LSTM classifiers.

Spec §6a: every cell and hidden state splits into a part β due to a span of words
P = [start, stop) and a part γ due to everything else; the score splits into W_out βh_T
(relevant) and W_out γh_T (irrelevant), plus the output bias, which goes to neither. A bi-LSTM's
backward encoder sees the span at its reversed position; both encoders' parts are summed.

Many decompositions run as one batch: each row pairs a sentence with a span, and the rows walk
through time together (one loop over time). Rows are ordered by decreasing sentence length, so
the rows still running at step t are a prefix, as in :mod:`textlrp.lrp.lstm`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import torch
from torch import nn

from textlrp.batching import encode_batch, length_order, unsort
from textlrp.errors import InputError
from textlrp.lrp.lstm import GATE_F, GATE_G, GATE_I, GATE_O, LSTMWeights
from textlrp.lrp.recurrent import active_counts
from textlrp.lrp.sequence import reverse_padded
from textlrp.methods.base import EncodedBatch, MethodOutput, register


@dataclasses.dataclass
class CDResult:
    """Decomposition of each sentence's logits for its span: relevant + irrelevant + bias."""

    relevant: torch.Tensor  # (B, C) W_out βh_T, both directions summed
    irrelevant: torch.Tensor  # (B, C) W_out γh_T
    bias: torch.Tensor  # (B, C) output-layer bias (zero without one), in neither part
    beta_h: torch.Tensor  # (B, directions, d) final βh of each encoder (forward first)
    gamma_h: torch.Tensor  # (B, directions, d) final γh of each encoder

    @property
    def scores(self) -> torch.Tensor:
        """The logits (B, C) the decomposition adds up to."""
        return self.relevant + self.irrelevant + self.bias


@dataclasses.dataclass
class CDPhrase:
    """CD of one phrase ``tokens[start:stop]`` of one sentence, one value per class."""

    tokens: list[str]
    start: int
    stop: int
    relevant: torch.Tensor  # (C,)
    irrelevant: torch.Tensor  # (C,)
    bias: torch.Tensor  # (C,)
    class_names: list[str]

    @property
    def phrase(self) -> list[str]:
        return self.tokens[self.start : self.stop]

    @property
    def scores(self) -> torch.Tensor:
        return self.relevant + self.irrelevant + self.bias


def check_cd_model(model: torch.nn.Module) -> nn.LSTM:
    """The model's LSTM; an :class:`InputError` unless it is one single-layer nn.LSTM.

    The score must read the final states (the papers' model), not pool over time.
    """
    if getattr(model, "family", None) == "cnn":
        raise InputError(
            "CD decomposes an LSTM's cell states; it does not apply to a CNN "
            "(use lrp, gradient_x_input, occlusion_f or integrated_gradients)"
        )
    lstm = getattr(model, "rnn", None)
    if not isinstance(lstm, nn.LSTM):
        kind = type(lstm).__name__ if lstm is not None else "no recurrent module"
        raise InputError(
            f"CD supports single-layer LSTMs (uni- or bidirectional) only; this model has {kind}"
        )
    if lstm.num_layers != 1:
        raise InputError(
            f"CD supports single-layer LSTMs (uni- or bidirectional) only; this model stacks "
            f"{lstm.num_layers} layers"
        )
    if lstm.proj_size:
        raise InputError(
            "CD supports single-layer LSTMs (uni- or bidirectional) only, without proj_size"
        )
    head = getattr(model, "head", None)
    if head is not None and len(head) > 0:
        layers = ", ".join(type(layer).__name__ for layer in head)
        raise InputError(
            "CD decomposes the final LSTM states through the output layer only; this model has "
            f"a head ({layers}) between them that CD's linear split does not pass; use lrp, "
            "occlusion or a gradient method"
        )
    readout = getattr(getattr(model, "config", None), "readout", "last")
    if readout != "last":
        raise InputError(
            f"CD supports single-layer LSTMs read out at their final states only; this model "
            f"pools its outputs (readout='{readout}')"
        )
    return lstm


def _linearize(
    act: Callable[[torch.Tensor], torch.Tensor],
    a: torch.Tensor,
    b: torch.Tensor,
    c: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Shares of a and b in act(a + b + c), averaged over both orders; c's share is act(c)."""
    act_c = act(c).expand_as(a)
    act_ac = act(a + c)
    act_bc = act(b + c)
    act_abc = act(a + b + c)
    share_a = 0.5 * (act_ac - act_c + act_abc - act_bc)
    share_b = 0.5 * (act_bc - act_c + act_abc - act_ac)
    return share_a, share_b, act_c


def _decompose_direction(
    weights: LSTMWeights,
    projected: torch.Tensor,
    lengths: torch.Tensor,
    rows: torch.Tensor,
    in_span: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Final (βh, γh), each (N, d), of one encoder for N (sentence, span) rows.

    ``projected`` (S, T, 4d) holds U x_t of the S sentences in this encoder's time order,
    ``rows`` (N,) the sentence each row reads (lengths[rows] non-increasing), ``in_span``
    (N, T) whether step t of the row lies in its span.
    """
    d = weights.hidden_size
    count = rows.numel()
    row_lengths = lengths[rows]
    active = active_counts(row_lengths, projected.shape[1])
    device = projected.device
    rows = rows.to(device)
    in_span = in_span.to(device)
    bias = weights.bias.view(4, d)
    w_hh_t = weights.w_hh.T
    beta = projected.new_zeros(count, d)
    gamma = projected.new_zeros(count, d)
    beta_h = projected.new_zeros(count, d)
    gamma_h = projected.new_zeros(count, d)
    for t, n in enumerate(active):
        if n == 0:
            break
        x_part = projected[rows[:n], t]  # (n, 4d)
        member = in_span[:n, t, None]  # (n, 1)
        rel = (beta_h[:n] @ w_hh_t + torch.where(member, x_part, 0.0)).view(n, 4, d)
        irrel = (gamma_h[:n] @ w_hh_t + torch.where(member, 0.0, x_part)).view(n, 4, d)
        r_i, i_i, b_i = _linearize(torch.sigmoid, rel[:, GATE_I], irrel[:, GATE_I], bias[GATE_I])
        r_g, i_g, b_g = _linearize(torch.tanh, rel[:, GATE_G], irrel[:, GATE_G], bias[GATE_G])
        r_f, i_f, b_f = _linearize(torch.sigmoid, rel[:, GATE_F], irrel[:, GATE_F], bias[GATE_F])
        o = torch.sigmoid(rel[:, GATE_O] + irrel[:, GATE_O] + bias[GATE_O])
        bias_bias = b_i * b_g
        inside = member.to(bias_bias.dtype)
        prev_beta, prev_gamma = beta[:n], gamma[:n]
        new_beta = r_i * (r_g + b_g) + b_i * r_g + inside * bias_bias + (r_f + b_f) * prev_beta
        new_gamma = (
            i_i * (r_g + i_g + b_g)
            + (r_i + b_i) * i_g
            + (1.0 - inside) * bias_bias
            + (r_f + i_f + b_f) * prev_gamma
            + i_f * prev_beta
        )
        tanh_beta, tanh_gamma = torch.tanh(new_beta), torch.tanh(new_beta + new_gamma)
        tanh_rest = torch.tanh(new_gamma)
        beta_h[:n] = o * 0.5 * (tanh_beta + tanh_gamma - tanh_rest)
        gamma_h[:n] = o * 0.5 * (tanh_rest + tanh_gamma - tanh_beta)
        beta[:n] = new_beta
        gamma[:n] = new_gamma
    return beta_h, gamma_h


def _decompose(
    model: torch.nn.Module,
    embedded: torch.Tensor,
    lengths: torch.Tensor,
    rows: torch.Tensor,
    in_span: torch.Tensor,
    dtype: torch.dtype,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Final (βh, γh), each (N, directions, d), for rows over length-sorted sentences.

    ``in_span`` (N, T) is in input time order; the backward encoder sees it reversed.
    """
    lstm = check_cd_model(model)
    directions = 2 if lstm.bidirectional else 1
    row_lengths = lengths[rows]
    betas, gammas = [], []
    for direction in range(directions):
        reverse = direction == 1
        weights = LSTMWeights.from_module(lstm, 0, reverse=reverse, dtype=dtype)
        projected = embedded @ weights.w_ih.T  # (S, T, 4d); the bias is added in the gates
        span = in_span
        if reverse:
            projected = reverse_padded(projected, lengths)
            span = reverse_padded(in_span, row_lengths)
        beta_h, gamma_h = _decompose_direction(weights, projected, lengths, rows, span)
        betas.append(beta_h)
        gammas.append(gamma_h)
    return torch.stack(betas, dim=1), torch.stack(gammas, dim=1)


def _embed_sorted(
    model: torch.nn.Module, batch: EncodedBatch, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Sort order (B,), embeddings (B, T, e) and lengths (B,) by decreasing length."""
    lengths = batch.lengths.cpu()
    order = length_order(lengths)
    embedded = batch.inputs(model, dtype)
    return order, embedded[order.to(embedded.device)], lengths[order]


def _output_parts(
    model: torch.nn.Module, dtype: torch.dtype, directions: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Output weights (C, directions, d) and bias (C,) (zeros without a bias), in ``dtype``."""
    weight = model.output.weight.detach().to(dtype)
    bias = weight.new_zeros(weight.shape[0])
    if model.output.bias is not None:
        bias = model.output.bias.detach().to(dtype)
    return weight.view(weight.shape[0], directions, -1), bias


def _as_positions(value: int | Sequence[int] | torch.Tensor, count: int, name: str) -> torch.Tensor:
    positions = torch.as_tensor(value, dtype=torch.long).cpu()
    if positions.dim() == 0:
        positions = positions.expand(count)
    if positions.shape != (count,):
        raise InputError(f"{name} must be one position or one per sentence ({count})")
    return positions


def cd_decompose(
    model: torch.nn.Module,
    batch: EncodedBatch,
    starts: int | Sequence[int] | torch.Tensor,
    stops: int | Sequence[int] | torch.Tensor,
    dtype: torch.dtype = torch.float64,
) -> CDResult:
    """CD of every sentence b's logits for its span [starts[b], stops[b]), all in one batch."""
    lstm = check_cd_model(model)
    count = batch.size
    starts = _as_positions(starts, count, "starts")
    stops = _as_positions(stops, count, "stops")
    lengths = batch.lengths.cpu()
    if bool(((starts < 0) | (starts > stops) | (stops > lengths)).any()):
        raise InputError("each span [start, stop) needs 0 <= start <= stop <= sentence length")
    directions = 2 if lstm.bidirectional else 1
    with torch.no_grad():
        order, embedded, sorted_lengths = _embed_sorted(model, batch, dtype)
        positions = torch.arange(embedded.shape[1])[None, :]
        in_span = (positions >= starts[order, None]) & (positions < stops[order, None])
        rows = torch.arange(count)
        beta_h, gamma_h = _decompose(model, embedded, sorted_lengths, rows, in_span, dtype)
        weight, bias = _output_parts(model, dtype, directions)
        relevant = torch.einsum("ncd,bcd->bn", weight, beta_h)
        irrelevant = torch.einsum("ncd,bcd->bn", weight, gamma_h)
    return CDResult(
        relevant=unsort(relevant, order),
        irrelevant=unsort(irrelevant, order),
        bias=bias.expand(count, -1).clone(),
        beta_h=unsort(beta_h, order),
        gamma_h=unsort(gamma_h, order),
    )


def cd_phrase(
    model: torch.nn.Module,
    tokens: str | Sequence[str],
    start: int,
    stop: int,
    dtype: torch.dtype = torch.float64,
) -> CDPhrase:
    """CD of one text's logits for the phrase ``tokens[start:stop]`` (a raw string is tokenized)."""
    if isinstance(tokens, str):
        from textlrp.data.tokenizer import tokenize

        tokens = tokenize(tokens)
    tokens = [t for t in tokens if t.strip()]
    if not tokens:
        raise InputError("the text is empty; give at least one word")
    if not 0 <= start < stop <= len(tokens):
        raise InputError(
            f"phrase [{start}, {stop}) does not fit a text of {len(tokens)} tokens; "
            "need 0 <= start < stop <= length"
        )
    batch = encode_batch(model, [tokens])
    result = cd_decompose(model, batch, start, stop, dtype)
    return CDPhrase(
        tokens=tokens,
        start=start,
        stop=stop,
        relevant=result.relevant[0],
        irrelevant=result.irrelevant[0],
        bias=result.bias[0],
        class_names=list(model.class_names),
    )


@register(
    "cd",
    "Contextual Decomposition: target score of each word's relevant part βh_T (single-layer LSTMs)",
    (),
)
def cd(
    model: torch.nn.Module, batch: EncodedBatch, targets: torch.Tensor, *, dtype: torch.dtype
) -> MethodOutput:
    lstm = check_cd_model(model)
    directions = 2 if lstm.bidirectional else 1
    with torch.no_grad():
        order, embedded, lengths = _embed_sorted(model, batch, dtype)
        batch_size, steps = embedded.shape[:2]
        # One row per (sentence, word): the span [k, k + 1); rows follow the length order.
        rows = torch.repeat_interleave(torch.arange(batch_size), lengths)
        words = torch.arange(rows.numel()) - torch.repeat_interleave(
            torch.cumsum(lengths, 0) - lengths, lengths
        )
        in_span = nn.functional.one_hot(words, steps).bool()
        beta_h, _ = _decompose(model, embedded, lengths, rows, in_span, dtype)
        weight, bias = _output_parts(model, dtype, directions)
        device = beta_h.device
        sorted_targets = targets.to(device)[order.to(device)]
        target_rows = weight[sorted_targets]  # (B, directions, d)
        per_direction = (target_rows[rows.to(device)] * beta_h).sum(-1)  # (N, directions)
        relevance = beta_h.new_zeros(batch_size, steps, directions)
        relevance[rows.to(device), words.to(device)] = per_direction
        relevance = unsort(relevance, order)
    bias_part = None
    if model.output.bias is not None:
        bias_part = bias.gather(0, targets.to(bias.device))
    return MethodOutput(
        relevance=relevance.sum(-1),
        relevance_by_direction=relevance,
        bias_relevance=bias_part,
    )
