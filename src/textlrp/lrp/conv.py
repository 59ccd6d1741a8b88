"""LRP through a :class:`~textlrp.models.cnn.CNNClassifier` (spec §9, docs/cnn-rules.md).

Forward (recorded): embedding -> one Conv1d per width -> winner window per filter (the first
of the document's valid windows whose z is the largest, up to rounding) -> ReLU -> head ->
output. Backward: target score -> output layer (ε-rule) -> head (ε or z⁺ per Linear, ReLU
unchanged) -> pooled features -> all of a filter's relevance to its winning window (max-pool,
ReLU unchanged) -> the window's H·e inputs by the convolution rule (ε with bias factor δ, or
z⁺ = αβ with α=1, β=0).

Only the winning window of each filter carries relevance, so the convolution rule runs on
B × F windows, not on all B × F × T': the messages of a window are its H·e products
x·W·(scale), scattered back onto the words with ``scatter_add``, with no loop over time.
Everything is batched over documents, filters and widths, on any device and dtype.
"""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F

from textlrp.errors import InputError
from textlrp.lrp.classifier import head_forward, linear
from textlrp.lrp.rules import (
    eps_absorbed,
    eps_rule,
    signed_eps,
    zplus_rule,
    zplus_scale,
)
from textlrp.models.cnn import padded_input, winning_windows

LAYER_RULES = ("epsilon", "zplus")
# Named rule sets, as Zennit names its composites: (convolution rule, hidden head rule).
# The output layer always takes the ε-rule.
COMPOSITES = {
    "epsilon": ("epsilon", "epsilon"),
    "epsilon_plus": ("zplus", "epsilon"),  # Zennit's EpsilonPlus: z⁺ on convs, ε on Linear
    "epsilon_plus_all": ("zplus", "zplus"),  # ε on the output layer only, z⁺ below
}


@dataclasses.dataclass
class ConvTrace:
    """One filter width's recorded forward pass, at each filter's winning window."""

    width: int
    weight: torch.Tensor  # (F, e, H) in the pass's dtype
    bias: torch.Tensor  # (F,) zeros for a convolution without bias
    winners: torch.Tensor  # (B, F) long: first valid window within τ of the largest ReLU(z)
    winner_z: torch.Tensor  # (B, F) pre-activation z_{f,p*} at the winner


@dataclasses.dataclass
class CNNTrace:
    """Recorded forward pass of a CNN over a padded batch (the caller's order throughout)."""

    embedded: torch.Tensor  # (B, T', e) zero past each length, T' >= the widest filter
    steps: int  # T, the caller's number of steps (T' may be larger)
    lengths: torch.Tensor  # (B,) on the inputs' device
    convs: list[ConvTrace]
    pooled: torch.Tensor  # (B, widths * F) = ReLU(winner_z), widths in model order
    head: list[tuple[torch.nn.Linear, torch.Tensor, torch.Tensor]]  # (layer, input, output)
    output_input: torch.Tensor  # (B, features)
    scores: torch.Tensor  # (B, C)


@dataclasses.dataclass
class CNNRelevance:
    """Input relevance of a batch, and the relevance that did not reach the inputs."""

    input_relevance: torch.Tensor  # (B, T, e)
    absorbed: torch.Tensor  # (B,) kept by biases, stabilizers and zero z⁺ denominators
    scores: torch.Tensor  # (B, C)

    @property
    def word_relevance(self) -> torch.Tensor:
        return self.input_relevance.sum(-1)


def resolve_rules(
    composite: str | None, conv_rule: str | None, head_rule: str | None
) -> tuple[str, str]:
    """(convolution rule, head rule) from a composite name and/or per-layer rules.

    A per-layer rule given beside a composite must agree with it.
    """
    if composite is not None and composite not in COMPOSITES:
        raise InputError(
            f"unknown composite '{composite}'; choose one of: {', '.join(COMPOSITES)}"
        )
    for name, value in (("conv_rule", conv_rule), ("head_rule", head_rule)):
        if value is not None and value not in LAYER_RULES:
            raise InputError(f"unknown {name} '{value}'; choose one of: {', '.join(LAYER_RULES)}")
    base_conv, base_head = COMPOSITES[composite or "epsilon"]
    if composite is not None:
        for name, value, implied in (
            ("conv_rule", conv_rule, base_conv),
            ("head_rule", head_rule, base_head),
        ):
            if value is not None and value != implied:
                raise InputError(
                    f"composite '{composite}' sets {name}='{implied}', but {name}='{value}' "
                    "was given; give one or the other"
                )
    return conv_rule or base_conv, head_rule or base_head


def trace_cnn(
    model: torch.nn.Module, inputs: torch.Tensor, lengths: torch.Tensor, dtype: torch.dtype
) -> CNNTrace:
    """Forward pass of ``model`` in ``dtype``, recording what LRP needs.

    ``inputs`` are right-padded token indices (B, T) or input vectors (B, T, e).
    """
    device = model.embedding.weight.device
    inputs = inputs.to(device)
    if inputs.dim() == 2:
        inputs = F.embedding(inputs, model.embedding.weight.detach())
    steps = inputs.shape[1]
    lengths = torch.as_tensor(lengths).to(device)
    embedded = padded_input(inputs.to(dtype), lengths, max(model.widths))
    x = embedded.transpose(1, 2)  # (B, e, T')
    scale = embedded.norm(dim=-1).amax(dim=-1)  # (B,) for the tie tolerance
    convs, pooled = [], []
    for conv, width in zip(model.convs, model.widths, strict=True):
        weight = conv.weight.detach().to(dtype)
        bias = (
            weight.new_zeros(weight.shape[0]) if conv.bias is None else conv.bias.detach().to(dtype)
        )
        z = F.conv1d(x, weight, bias)  # (B, F, P)
        winners = winning_windows(z, lengths, width, weight, bias, scale)  # (B, F)
        winner_z = z.gather(-1, winners[..., None])[..., 0]
        convs.append(ConvTrace(width, weight, bias, winners, winner_z))
        pooled.append(torch.relu(winner_z))
    pooled_features = torch.cat(pooled, dim=-1)
    head, features = head_forward(model.head, pooled_features, dtype)
    scores = linear(model.output, features, dtype)
    return CNNTrace(embedded, steps, lengths, convs, pooled_features, head, features, scores)


def cnn_relevance(
    model: torch.nn.Module,
    trace: CNNTrace,
    targets: torch.Tensor,
    eps: float = 0.001,
    bias_factor: float = 0.0,
    conv_rule: str = "epsilon",
    head_rule: str = "epsilon",
) -> CNNRelevance:
    """Relevance of every input dimension for the score of ``targets[b]`` in document ``b``."""
    scores = trace.scores
    dtype = scores.dtype
    targets = targets.to(scores.device)
    start = torch.zeros_like(scores)
    start.scatter_(1, targets[:, None], scores.gather(1, targets[:, None]))
    weight = model.output.weight.detach().to(dtype)
    bias = 0.0 if model.output.bias is None else model.output.bias.detach().to(dtype)
    x = trace.output_input
    relevance = eps_rule(x, weight, bias, scores, start, x.shape[1], eps, bias_factor)
    absorbed = eps_absorbed(scores, bias, start, eps, bias_factor)
    # The head: ReLU passes relevance unchanged, each Linear by the chosen rule.
    for layer, x, out in reversed(trace.head):
        layer_weight = layer.weight.detach().to(dtype)
        layer_bias = None if layer.bias is None else layer.bias.detach().to(dtype)
        if head_rule == "zplus":
            relevance, kept = zplus_rule(x, layer_weight, layer_bias, relevance)
        else:
            as_float = 0.0 if layer_bias is None else layer_bias
            kept = eps_absorbed(out, as_float, relevance, eps, bias_factor)
            relevance = eps_rule(
                x, layer_weight, as_float, out, relevance, x.shape[1], eps, bias_factor
            )
        absorbed = absorbed + kept
    # Max-pooling and ReLU: each feature's relevance goes to its filter's winning window.
    result = torch.zeros_like(trace.embedded)
    offset = 0
    for conv in trace.convs:
        filters = conv.weight.shape[0]
        on_winner = relevance[:, offset : offset + filters]  # (B, F)
        offset += filters
        propagate = conv_zplus if conv_rule == "zplus" else conv_epsilon
        kept = propagate(trace, conv, on_winner, result, eps, bias_factor)
        absorbed = absorbed + kept
    return CNNRelevance(result[:, : trace.steps], absorbed, scores)


def _window_positions(conv: ConvTrace) -> torch.Tensor:
    """(B, F, H) input positions p* + k of each filter's winning window."""
    offsets = torch.arange(conv.width, device=conv.winners.device)
    return conv.winners[..., None] + offsets


def _winning_inputs(trace: CNNTrace, positions: torch.Tensor) -> torch.Tensor:
    """The inputs x_{p*+k, i} of every filter's winning window: (B, F, H, e)."""
    batch, filters, width = positions.shape
    flat = positions.reshape(batch, -1, 1).expand(-1, -1, trace.embedded.shape[-1])
    return trace.embedded.gather(1, flat).view(batch, filters, width, -1)


def _scatter_windows(result: torch.Tensor, positions: torch.Tensor, values: torch.Tensor) -> None:
    """Add ``values`` (B, F, H, e) onto ``result`` (B, T', e) at ``positions`` (B, F, H)."""
    batch, _, dims = result.shape
    index = positions.reshape(batch, -1, 1).expand(-1, -1, dims)
    result.scatter_add_(1, index, values.reshape(batch, -1, dims))


def conv_epsilon(
    trace: CNNTrace,
    conv: ConvTrace,
    relevance: torch.Tensor,
    result: torch.Tensor,
    eps: float,
    bias_factor: float,
) -> torch.Tensor:
    """ε-rule of every winning window, added onto ``result``; returns the absorbed part (B,).

    R_{t,i} += x_{t,i} W_{f,i,t-p*} / (z + ε·sign z) · R_f + δ (b_f + ε·sign z) / (z + ε·sign z)
    · R_f / N for t in the window, N = e · (the window's words inside the document). A
    document's zero vectors past its end (short documents) are not neurons: they get nothing.
    """
    z = conv.winner_z
    stabilizer = signed_eps(z, eps)
    scaled = relevance / (z + stabilizer)  # (B, F)
    positions = _window_positions(conv)  # (B, F, H)
    # Σ_f W_{f,i,t-p*_f} · scaled_f at every input position t: the transposed convolution of
    # a map that holds scaled_f at each filter's winning window and 0 elsewhere (one pass the
    # size of the forward convolution, instead of a (B, F, H, e) tensor of window products).
    steps = trace.embedded.shape[1]
    winners_map = scaled.new_zeros(scaled.shape[0], scaled.shape[1], steps - conv.width + 1)
    winners_map.scatter_(2, conv.winners[..., None], scaled[..., None])
    through_weights = torch.nn.functional.conv_transpose1d(winners_map, conv.weight)
    result.add_(trace.embedded * through_weights.transpose(1, 2))
    share = (conv.bias[None, :] + stabilizer) * scaled  # (B, F)
    absorbed = (1.0 - bias_factor) * share.sum(-1)
    if bias_factor == 0.0:
        return absorbed
    inside = positions < trace.lengths[:, None, None]  # (B, F, H)
    dims = result.shape[-1]
    words = inside.sum(-1)  # (B, F) words of the window inside the document
    per_input = torch.where(words > 0, share / (dims * words.clamp(min=1)), 0.0)
    spread = torch.where(inside, per_input[..., None], 0.0)  # (B, F, H)
    spread_on = torch.zeros_like(result[..., 0])  # (B, T') the same for every dimension
    batch = positions.shape[0]
    spread_on.scatter_add_(1, positions.reshape(batch, -1), spread.reshape(batch, -1))
    result.add_(spread_on[..., None])
    # An empty document's window has no input to take its share: it stays absorbed.
    return absorbed + bias_factor * torch.where(words > 0, 0.0, share).sum(-1)


def conv_zplus(
    trace: CNNTrace,
    conv: ConvTrace,
    relevance: torch.Tensor,
    result: torch.Tensor,
    eps: float,
    bias_factor: float,
) -> torch.Tensor:
    """z⁺ / αβ (α=1, β=0) rule of every winning window onto ``result``; returns the absorbed part.

    R_{t,i} += (x_{t,i} W_{f,i,t-p*})⁺ / (Σ_window (x W)⁺ + b_f⁺) · R_f. ``eps`` and
    ``bias_factor`` do not enter (the denominator is never negative; a zero one absorbs R_f).
    """
    del eps, bias_factor
    positions = _window_positions(conv)  # (B, F, H)
    windows = _winning_inputs(trace, positions)  # (B, F, H, e)
    weight = conv.weight.transpose(1, 2)[None]  # (1, F, H, e)
    positive = (windows * weight).clamp(min=0)  # z_ij⁺ = (x_i w_ij)⁺
    positive_sum = positive.sum(dim=(2, 3))
    scaled = zplus_scale(positive_sum, conv.bias.clamp(min=0), relevance)
    _scatter_windows(result, positions, positive * scaled[:, :, None, None])
    return (relevance - scaled * positive_sum).sum(-1)
