"""Explain a PyTorch model you built yourself, without retraining it.

A model made of ``nn.Embedding`` -> ``nn.LSTM``/``nn.GRU`` -> (optional head of ``nn.Linear``,
``nn.ReLU``, ``nn.Dropout``) -> ``nn.Linear`` is copied, weights unchanged, into an
:class:`LSTMClassifier`, which every method of textlrp explains; one made of ``nn.Embedding``
-> ``nn.Conv1d`` (one or several widths, ReLU, max-pooling over time) -> the same head into a
:class:`~textlrp.models.cnn.CNNClassifier` (see :mod:`textlrp.models.cnn_wrap`). Anything else
is refused with an error naming the module that is not supported.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from textlrp.errors import ModelError
from textlrp.models.cnn import CNNClassifier
from textlrp.models.cnn_wrap import is_convolutional, wrap_cnn
from textlrp.models.lstm_classifier import ClassifierConfig, LSTMClassifier, check_finite_weights
from textlrp.models.vocab import PAD, UNK, Vocabulary

HEAD_LAYERS = (nn.Linear, nn.ReLU, nn.Dropout, nn.Identity)


def wrap_model(
    embedding: nn.Embedding,
    rnn: nn.LSTM | nn.GRU | nn.Conv1d | Sequence[nn.Module],
    output: nn.Module,
    vocab: Vocabulary | Sequence[str],
    class_names: Sequence[str],
    readout: str | None = None,
) -> LSTMClassifier | CNNClassifier:
    """An explainable copy of a user's embedding -> RNN -> head -> output model.

    ``output`` is the final ``nn.Linear`` or an ``nn.Sequential`` of Linear/ReLU/Dropout layers
    ending in one. ``vocab`` is a :class:`Vocabulary` or the list of words whose positions are
    the embedding rows (padding and unknown-word rows are then added as zeros). ``readout``
    says what the model feeds the head: ``"last"`` (final state of each direction, forward
    first, the default), ``"max"`` or ``"mean"`` (pooling of the top layer's outputs over time).

    For a CNN, ``rnn`` is one ``nn.Conv1d`` or a list of them (one per filter width), each
    optionally as ``nn.Sequential(Conv1d, ReLU, AdaptiveMaxPool1d(1))``; see
    :func:`textlrp.models.cnn_wrap.wrap_cnn`.
    """
    if is_convolutional(rnn):
        return wrap_cnn(embedding, rnn, output, vocab, class_names, readout)
    readout = readout or "last"
    if not isinstance(embedding, nn.Embedding):
        raise ModelError(
            f"unsupported embedding module {type(embedding).__name__}; "
            "textlrp needs an nn.Embedding"
        )
    if type(rnn) not in (nn.LSTM, nn.GRU):
        raise ModelError(
            f"unsupported recurrent module {type(rnn).__name__}; "
            "textlrp explains nn.LSTM, nn.GRU and nn.Conv1d (CNN) encoders"
        )
    if getattr(rnn, "proj_size", 0):
        raise ModelError("nn.LSTM with proj_size > 0 is not supported")
    if rnn.input_size != embedding.embedding_dim:
        raise ModelError(
            f"the RNN expects inputs of size {rnn.input_size}, the embedding gives "
            f"{embedding.embedding_dim}"
        )
    layers = _head_layers(output)
    linears = [layer for layer in layers if isinstance(layer, nn.Linear)]
    head_hidden = tuple(layer.out_features for layer in linears[:-1])
    final = linears[-1]
    if final.out_features != len(class_names):
        raise ModelError(
            f"the output layer has {final.out_features} units but "
            f"{len(class_names)} class names were given"
        )
    vocab, rows = _vocabulary(vocab, embedding)
    config = ClassifierConfig(
        embedding_dim=embedding.embedding_dim,
        hidden_size=rnn.hidden_size,
        num_layers=rnn.num_layers,
        bidirectional=rnn.bidirectional,
        output_bias=final.bias is not None,
        cell="gru" if isinstance(rnn, nn.GRU) else "lstm",
        readout=readout,
        head_hidden=head_hidden,
    )
    dtype = embedding.weight.dtype
    model = LSTMClassifier(vocab, list(class_names), config).to(dtype)
    with torch.no_grad():
        model.embedding.weight.copy_(rows)
        for name, value in rnn.named_parameters():
            getattr(model.rnn, name).copy_(value)
        if not rnn.bias:
            for name, value in model.rnn.named_parameters():
                if name.startswith("bias"):
                    value.zero_()
        mine = [layer for layer in model.head if isinstance(layer, nn.Linear)] + [model.output]
        for target, source in zip(mine, linears, strict=True):
            if target.weight.shape != source.weight.shape:
                raise ModelError(
                    f"layer {source} does not fit the RNN's output size {target.in_features}"
                )
            target.weight.copy_(source.weight)
            if source.bias is not None:
                if target.bias is None:  # a hidden head layer always has a bias slot
                    raise ModelError("unexpected bias layout in the head")
                target.bias.copy_(source.bias)
            elif target.bias is not None:
                target.bias.zero_()
    check_finite_weights(model, source="wrapped model")
    return model.eval()


def _head_layers(output: nn.Module) -> list[nn.Module]:
    layers = list(output) if isinstance(output, nn.Sequential) else [output]
    for layer in layers:
        if not isinstance(layer, HEAD_LAYERS):
            raise ModelError(
                f"unsupported module {type(layer).__name__} in the classifier head; "
                "textlrp supports nn.Linear, nn.ReLU, nn.Dropout and nn.Identity there"
            )
    linears = [k for k, layer in enumerate(layers) if isinstance(layer, nn.Linear)]
    if not linears or linears[-1] != max(
        k for k, layer in enumerate(layers) if not isinstance(layer, nn.Dropout | nn.Identity)
    ):
        raise ModelError("the head must end in an nn.Linear that gives the class scores")
    for k in linears[:-1]:
        following = [layer for layer in layers[k + 1 :] if not isinstance(layer, nn.Dropout)]
        if not following or not isinstance(following[0], nn.ReLU):
            raise ModelError("each hidden nn.Linear of the head must be followed by nn.ReLU")
    return layers


def _vocabulary(
    vocab: Vocabulary | Sequence[str], embedding: nn.Embedding
) -> tuple[Vocabulary, torch.Tensor]:
    weight = embedding.weight.detach()
    if isinstance(vocab, Vocabulary):
        if len(vocab) != weight.shape[0]:
            raise ModelError(
                f"the vocabulary has {len(vocab)} entries, the embedding {weight.shape[0]} rows"
            )
        return vocab, weight
    words = list(vocab)
    if len(words) != weight.shape[0]:
        raise ModelError(f"{len(words)} words given for an embedding of {weight.shape[0]} rows")
    # The user's own special tokens keep their rows under names no text produces.
    words = [f"{w}#own" if w in (PAD, UNK) else w for w in words]
    zeros = weight.new_zeros(2, weight.shape[1])  # textlrp's padding and unknown-word rows
    return Vocabulary.from_list(words), torch.cat([zeros, weight])
