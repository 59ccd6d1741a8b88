"""The papers' model family: embedding -> (bi-)LSTM or GRU -> read-out -> linear layer."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from textlrp.errors import InputError, ModelError
from textlrp.models.persistence import (  # noqa: F401 - check_finite_weights re-exported
    check_finite_weights,
    read_model_file,
    restore_weights,
    write_model_file,
)
from textlrp.models.vocab import Vocabulary

FAMILY = "recurrent"
CELLS = ("lstm", "gru")
READOUTS = ("last", "max", "mean")


@dataclasses.dataclass(frozen=True)
class ClassifierConfig:
    """Architecture hyper-parameters, stored with the weights."""

    embedding_dim: int = 60
    hidden_size: int = 60
    num_layers: int = 1
    bidirectional: bool = True
    output_bias: bool = False
    cell: str = "lstm"  # "lstm" or "gru"
    readout: str = "last"  # final state per direction, or max/mean pooling over time
    head_hidden: tuple[int, ...] = ()  # sizes of Linear+ReLU layers between read-out and output
    head_dropout: float = 0.0  # dropout after each head layer (training only)

    def __post_init__(self) -> None:
        object.__setattr__(self, "head_hidden", tuple(int(n) for n in self.head_hidden))
        if self.cell not in CELLS:
            raise InputError(f"unknown cell '{self.cell}'; choose one of: {', '.join(CELLS)}")
        if self.readout not in READOUTS:
            raise InputError(
                f"unknown readout '{self.readout}'; choose one of: {', '.join(READOUTS)}"
            )


class RecurrentClassifier(nn.Module):
    """``nn.Embedding`` -> ``nn.LSTM`` or ``nn.GRU`` (``.rnn``) -> read-out -> ``nn.Linear``.

    With the default ``readout="last"`` the forward encoder's state after the last real token
    and the backward encoder's state after the first token are concatenated
    ``[forward, backward]`` and mapped to one score per class (the papers' model);
    ``"max"``/``"mean"`` pool the top layer's outputs over time instead. Inputs are
    right-padded index batches with their lengths.
    """

    def __init__(
        self,
        vocab: Vocabulary,
        class_names: Sequence[str],
        config: ClassifierConfig | None = None,
    ) -> None:
        super().__init__()
        self.vocab = vocab
        self.class_names = list(class_names)
        self.config = config or ClassifierConfig()
        cfg = self.config
        if not self.class_names:
            raise InputError("give at least one class name (one per output score)")
        self.embedding = nn.Embedding(len(vocab), cfg.embedding_dim, padding_idx=vocab.pad_index)
        recurrent = nn.LSTM if cfg.cell == "lstm" else nn.GRU
        self.rnn = recurrent(
            cfg.embedding_dim,
            cfg.hidden_size,
            num_layers=cfg.num_layers,
            bidirectional=cfg.bidirectional,
            batch_first=True,
        )
        features = cfg.hidden_size * self.num_directions
        head: list[nn.Module] = []
        for size in cfg.head_hidden:
            head += [nn.Linear(features, size), nn.ReLU()]
            if cfg.head_dropout > 0:
                head.append(nn.Dropout(cfg.head_dropout))
            features = size
        self.head = nn.Sequential(*head)
        self.output = nn.Linear(features, len(self.class_names), bias=cfg.output_bias)

    @property
    def num_directions(self) -> int:
        return 2 if self.config.bidirectional else 1

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def final_states(self, embedded: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """The read-out's input: (B, directions * d)."""
        packed = pack_padded_sequence(
            embedded, lengths.detach().cpu(), batch_first=True, enforce_sorted=False
        )
        outputs, state = self.rnn(packed)
        if self.config.readout == "last":
            h_n = state[0] if isinstance(state, tuple) else state
            top = h_n[-self.num_directions :]  # (directions, B, d), forward first
            return torch.cat(list(top), dim=-1)
        padded, _ = pad_packed_sequence(outputs, batch_first=True)
        mask = (
            torch.arange(padded.shape[1], device=padded.device)[None, :]
            < lengths.to(padded.device)[:, None]
        )[..., None]
        if self.config.readout == "max":
            return padded.masked_fill(~mask, float("-inf")).amax(dim=1)
        return padded.sum(dim=1) / lengths.to(padded.device, padded.dtype)[:, None]

    def forward_embedded(self, embedded: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Class scores (B, C) from embedded inputs (B, T, e); used by gradient methods."""
        return self.output(self.head(self.final_states(embedded, lengths)))

    def empty_scores(self, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
        """Class scores (C,) of an empty text: its read-out input is the initial state, zero."""
        features = self.config.hidden_size * self.num_directions
        zero = torch.zeros(1, features, dtype=dtype, device=device)
        return self.output(self.head(zero))[0]

    def forward(self, token_ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Class scores (B, C) from right-padded token indices (B, T)."""
        return self.forward_embedded(self.embedding(token_ids), lengths)

    # ----------------------------------------------------------------- persistence
    def save(self, path: str | Path) -> None:
        """Write architecture, vocabulary, class names and weights to one file."""
        write_model_file(self, path, FAMILY)

    @classmethod
    def load(cls, path: str | Path) -> RecurrentClassifier:
        """Read a file written by :meth:`save`; raises :class:`ModelError` with a hint otherwise."""
        payload = read_model_file(path)
        if payload.get("family", FAMILY) != FAMILY:
            raise ModelError(
                f"{path} holds a {payload['family']} model, not a recurrent one; "
                "load it with textlrp.load_model"
            )
        vocab = Vocabulary.from_list(payload["vocab"], lowercase=payload.get("lowercase", True))
        state_dict = {
            # version-1 files named the recurrent module "lstm"
            ("rnn." + k[5:] if k.startswith("lstm.") else k): v
            for k, v in payload["state_dict"].items()
        }
        model = cls(vocab, payload["class_names"], ClassifierConfig(**payload["config"]))
        return restore_weights(model, state_dict, str(path))


# The 0.1 name, kept so that existing code and pickled references keep working.
LSTMClassifier = RecurrentClassifier
