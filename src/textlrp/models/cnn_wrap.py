"""Explain a user's own CNN: ``nn.Embedding`` -> ``nn.Conv1d`` (+ ReLU, max-pool) -> head.

Called by :func:`textlrp.wrap_model` when its second argument is convolutional. The user's
weights are copied, unchanged, into a :class:`CNNClassifier`; anything that the CNN's rules
do not cover (strided, dilated, padded or grouped convolutions, other activations or pools)
is refused with an error naming it.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from textlrp.errors import ModelError
from textlrp.models.cnn import CNNClassifier, CNNConfig
from textlrp.models.persistence import check_finite_weights
from textlrp.models.vocab import Vocabulary

# What may follow a Conv1d inside a user's per-width nn.Sequential (in this order).
POOLS = (nn.AdaptiveMaxPool1d,)
AFTER_POOL = (nn.Flatten, nn.Dropout, nn.Identity)


def is_convolutional(module: object) -> bool:
    """Whether ``wrap_model``'s encoder argument is a CNN part (one or several Conv1d)."""
    if isinstance(module, nn.Conv1d):
        return True
    if isinstance(module, nn.Sequential):
        return any(isinstance(layer, nn.Conv1d) for layer in module)
    if isinstance(module, nn.ModuleList | list | tuple):
        return any(is_convolutional(part) for part in module)
    return False


def wrap_cnn(
    embedding: nn.Embedding,
    convs: nn.Module | Sequence[nn.Module],
    output: nn.Module,
    vocab: Vocabulary | Sequence[str],
    class_names: Sequence[str],
    readout: str | None = None,
) -> CNNClassifier:
    """An explainable copy of a user's embedding -> Conv1d widths -> max-pool -> head model.

    ``convs`` is one ``nn.Conv1d``, or a list/``nn.ModuleList`` of them (one per filter width;
    pooled features are concatenated in that order), each optionally given as an
    ``nn.Sequential(nn.Conv1d, nn.ReLU(), nn.AdaptiveMaxPool1d(1)[, nn.Flatten()])``. The
    model is taken to apply ReLU and max-pooling over time after every convolution.
    """
    from textlrp.models.wrap import _head_layers, _vocabulary

    if not isinstance(embedding, nn.Embedding):
        raise ModelError(
            f"unsupported embedding module {type(embedding).__name__}; "
            "textlrp needs an nn.Embedding"
        )
    if readout not in (None, "max"):
        raise ModelError(
            f"a CNN is read out by max-pooling over time; readout='{readout}' does not apply"
        )
    parts = list(convs) if isinstance(convs, nn.ModuleList | list | tuple) else [convs]
    layers = [_conv_of(part) for part in parts]
    dims = embedding.embedding_dim
    for layer in layers:
        _check_conv(layer, dims)
    filters = {layer.out_channels for layer in layers}
    if len(filters) != 1:
        raise ModelError(
            "every filter width must have the same number of filters (out_channels); got "
            + ", ".join(str(layer.out_channels) for layer in layers)
        )
    head = _head_layers(output)
    linears = [layer for layer in head if isinstance(layer, nn.Linear)]
    final = linears[-1]
    if final.out_features != len(class_names):
        raise ModelError(
            f"the output layer has {final.out_features} units but "
            f"{len(class_names)} class names were given"
        )
    vocab, rows = _vocabulary(vocab, embedding)
    config = CNNConfig(
        embedding_dim=dims,
        num_filters=filters.pop(),
        widths=tuple(layer.kernel_size[0] for layer in layers),
        head_hidden=tuple(layer.out_features for layer in linears[:-1]),
        output_bias=final.bias is not None,
    )
    model = CNNClassifier(vocab, list(class_names), config).to(embedding.weight.dtype)
    with torch.no_grad():
        model.embedding.weight.copy_(rows)
        for target, source in zip(model.convs, layers, strict=True):
            target.weight.copy_(source.weight)
            if source.bias is None:
                target.bias.zero_()
            else:
                target.bias.copy_(source.bias)
        mine = [layer for layer in model.head if isinstance(layer, nn.Linear)] + [model.output]
        for target, source in zip(mine, linears, strict=True):
            if target.weight.shape != source.weight.shape:
                raise ModelError(
                    f"layer {source} does not fit the pooled features' size {target.in_features}"
                )
            target.weight.copy_(source.weight)
            if source.bias is not None:
                target.bias.copy_(source.bias)
            elif target.bias is not None:
                target.bias.zero_()
    check_finite_weights(model, source="wrapped model")
    return model.eval()


def _conv_of(part: nn.Module) -> nn.Conv1d:
    """The Conv1d of one width: the module itself, or a Conv1d -> ReLU -> max-pool Sequential."""
    if isinstance(part, nn.Conv1d):
        return part
    if not isinstance(part, nn.Sequential):
        raise ModelError(
            f"unsupported module {type(part).__name__} where a convolution was expected; "
            "textlrp's CNN takes nn.Conv1d (optionally in nn.Sequential(Conv1d, ReLU, "
            "AdaptiveMaxPool1d(1)))"
        )
    layers = list(part)
    if not layers or not isinstance(layers[0], nn.Conv1d):
        raise ModelError("each convolution nn.Sequential must start with its nn.Conv1d")
    expected = [nn.ReLU, POOLS]
    rest = layers[1:]
    for index, layer in enumerate(rest):
        if index < len(expected) and isinstance(layer, expected[index]):
            if isinstance(layer, nn.AdaptiveMaxPool1d) and layer.output_size not in (1, (1,)):
                raise ModelError(
                    f"nn.AdaptiveMaxPool1d({layer.output_size}) keeps several positions; "
                    "textlrp's CNN max-pools over all of time (output_size=1)"
                )
            continue
        if index >= len(expected) and isinstance(layer, AFTER_POOL):
            continue
        raise ModelError(
            f"unsupported module {type(layer).__name__} after nn.Conv1d; textlrp's CNN "
            "applies nn.ReLU and then max-pooling over time (nn.AdaptiveMaxPool1d(1))"
        )
    return layers[0]


def _check_conv(conv: nn.Conv1d, dims: int) -> None:
    if conv.in_channels != dims:
        raise ModelError(
            f"the Conv1d expects {conv.in_channels} input channels, the embedding gives {dims}"
        )
    unsupported = []
    if conv.stride != (1,):
        unsupported.append(f"stride={conv.stride[0]}")
    if conv.dilation != (1,):
        unsupported.append(f"dilation={conv.dilation[0]}")
    if conv.groups != 1:
        unsupported.append(f"groups={conv.groups}")
    if conv.padding not in ((0,), "valid"):
        unsupported.append(f"padding={conv.padding!r}")
    if unsupported:
        raise ModelError(
            f"unsupported nn.Conv1d setting(s) {', '.join(unsupported)}; textlrp's CNN uses "
            "stride 1, no dilation, one group and 'valid' windows (padding=0)"
        )
