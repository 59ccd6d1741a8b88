"""The convolutional model family (spec §9): embedding -> Conv1d widths -> ReLU -> max-pool -> head.

A document of T words, embedded as x_1..x_T (e dims each), goes through one ``nn.Conv1d`` per
filter width H ("valid" windows: window p covers words p..p+H-1), a ReLU, and a max over the
windows of each filter; the pooled features of all widths (in the order of ``widths``) feed an
optional Linear/ReLU head and a Linear output layer.

Two rules make a padded batch give exactly what each document gives alone:

- **Padding never wins a max-pool.** Only the windows of the document itself take part:
  window p of width H is valid when ``p < max(L - H + 1, 1)`` for a document of L words, and
  inputs past the document's end are read as zero vectors, whatever the padding row holds.
- **Short documents.** A document shorter than a filter (L < H, including the empty document)
  has exactly one window for that filter, p = 0: its L words followed by H - L zero vectors.
  (The same as zero-padding the document to H words, as text CNNs usually do.)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from textlrp.errors import InputError, ModelError
from textlrp.models.vocab import Vocabulary

FILE_FORMAT = "textlrp-model"  # the same file format as the recurrent models
FILE_VERSION = 2
FAMILY = "cnn"


@dataclasses.dataclass(frozen=True)
class CNNConfig:
    """Architecture hyper-parameters, stored with the weights."""

    embedding_dim: int = 300
    num_filters: int = 100  # per width
    widths: tuple[int, ...] = (3,)  # filter widths H (words per window), one Conv1d each
    head_hidden: tuple[int, ...] = ()  # sizes of Linear+ReLU layers between pooling and output
    head_dropout: float = 0.0  # dropout after each head layer (training only)
    dropout: float = 0.0  # dropout on the pooled features (training only)
    output_bias: bool = True
    freeze_embedding: bool = False  # keep the embedding fixed during training

    def __post_init__(self) -> None:
        widths = self.widths if isinstance(self.widths, Sequence) else (self.widths,)
        object.__setattr__(self, "widths", tuple(int(w) for w in widths))
        object.__setattr__(self, "head_hidden", tuple(int(n) for n in self.head_hidden))
        if not self.widths or min(self.widths) < 1:
            raise InputError(f"widths must be one or more filter widths >= 1, got {self.widths}")
        if self.num_filters < 1 or self.embedding_dim < 1:
            raise InputError("num_filters and embedding_dim must be at least 1")
        if self.head_hidden and min(self.head_hidden) < 1:
            raise InputError(f"head_hidden sizes must be at least 1, got {self.head_hidden}")
        for name in ("dropout", "head_dropout"):
            value = getattr(self, name)
            if not 0.0 <= value < 1.0:
                raise InputError(f"{name} must be in [0, 1), got {value}")


def window_counts(lengths: torch.Tensor, width: int) -> torch.Tensor:
    """Valid windows of each document for one filter width: ``max(L - H + 1, 1)``."""
    return (lengths - width + 1).clamp(min=1)


class CNNClassifier(nn.Module):
    """``nn.Embedding`` -> ``nn.Conv1d`` per width -> ReLU -> max over time -> head -> Linear.

    Inputs are right-padded index batches (B, T) with their lengths (B,), or embedded inputs
    (B, T, e) for :meth:`forward_embedded`.
    """

    family = FAMILY

    def __init__(
        self,
        vocab: Vocabulary,
        class_names: Sequence[str],
        config: CNNConfig | None = None,
    ) -> None:
        super().__init__()
        self.vocab = vocab
        self.class_names = list(class_names)
        self.config = config or CNNConfig()
        cfg = self.config
        if not self.class_names:
            raise InputError("give at least one class name (one per output score)")
        self.embedding = nn.Embedding(len(vocab), cfg.embedding_dim, padding_idx=vocab.pad_index)
        self.embedding.weight.requires_grad_(not cfg.freeze_embedding)
        self.convs = nn.ModuleList(
            nn.Conv1d(cfg.embedding_dim, cfg.num_filters, width) for width in cfg.widths
        )
        self.dropout = nn.Dropout(cfg.dropout)
        features = cfg.num_filters * len(cfg.widths)
        head: list[nn.Module] = []
        for size in cfg.head_hidden:
            head += [nn.Linear(features, size), nn.ReLU()]
            if cfg.head_dropout > 0:
                head.append(nn.Dropout(cfg.head_dropout))
            features = size
        self.head = nn.Sequential(*head)
        self.output = nn.Linear(features, len(self.class_names), bias=cfg.output_bias)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def widths(self) -> tuple[int, ...]:
        return self.config.widths

    def pooled_features(self, embedded: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """The max-pooled ReLU features (B, widths * num_filters) of a padded batch.

        ``max_p ReLU(z_p) = ReLU(max_p z_p)``: the max is taken first (cheaper, same value).
        """
        x = padded_input(embedded, lengths, max(self.widths)).transpose(1, 2)  # (B, e, T')
        lengths = lengths.to(x.device)
        features = []
        for conv, width in zip(self.convs, self.widths, strict=True):
            z = conv(x)  # (B, F, T' - H + 1)
            valid = torch.arange(z.shape[-1], device=z.device) < window_counts(lengths, width)[
                :, None
            ]
            z = z.masked_fill(~valid[:, None, :], float("-inf"))
            features.append(torch.relu(z.max(dim=-1).values))
        return torch.cat(features, dim=-1)

    def forward_embedded(self, embedded: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Class scores (B, C) from embedded inputs (B, T, e); used by gradient methods."""
        return self.output(self.head(self.dropout(self.pooled_features(embedded, lengths))))

    def forward(self, token_ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Class scores (B, C) from right-padded token indices (B, T)."""
        return self.forward_embedded(self.embedding(token_ids), lengths)

    # ----------------------------------------------------------------- persistence
    def save(self, path: str | Path) -> None:
        """Write architecture, vocabulary, class names and weights to one file."""
        payload = {
            "format": FILE_FORMAT,
            "version": FILE_VERSION,
            "family": FAMILY,
            "config": dataclasses.asdict(self.config),
            "vocab": self.vocab.to_list(),
            "lowercase": self.vocab.lowercase,
            "class_names": self.class_names,
            "state_dict": {k: v.detach().cpu() for k, v in self.state_dict().items()},
        }
        torch.save(payload, str(path))

    @classmethod
    def load(cls, path: str | Path) -> CNNClassifier:
        """Read a file written by :meth:`save`; raises :class:`ModelError` with a hint otherwise."""
        payload = read_model_file(path)
        if payload.get("family") != FAMILY:
            raise ModelError(
                f"{path} holds a recurrent model, not a CNN; load it with textlrp.load_model"
            )
        return cls.from_payload(payload, str(path))

    @classmethod
    def from_payload(cls, payload: dict[str, Any], source: str) -> CNNClassifier:
        from textlrp.models.lstm_classifier import check_finite_weights

        try:
            config = CNNConfig(**payload["config"])
            vocab = Vocabulary.from_list(payload["vocab"], lowercase=payload.get("lowercase", True))
            model = cls(vocab, payload["class_names"], config)
        except (KeyError, TypeError, InputError) as exc:
            raise ModelError(f"{source} has a malformed CNN architecture record: {exc}") from None
        state_dict = payload["state_dict"]
        saved_dtype = state_dict.get("embedding.weight", torch.empty(0)).dtype
        if saved_dtype.is_floating_point:
            model = model.to(saved_dtype)  # keep the precision the weights were saved in
        try:
            model.load_state_dict(state_dict)
        except RuntimeError as exc:
            raise ModelError(f"weights in {source} do not fit its architecture: {exc}") from None
        check_finite_weights(model, source=source)
        model.eval()
        return model


def padded_input(embedded: torch.Tensor, lengths: torch.Tensor, min_steps: int) -> torch.Tensor:
    """``embedded`` (B, T, e) with zeros past each length, at least ``min_steps`` steps long."""
    if embedded.dim() != 3:
        shape = tuple(embedded.shape)
        raise InputError(f"embedded inputs must be (batch, steps, dims), got {shape}")
    batch, steps, _ = embedded.shape
    lengths = torch.as_tensor(lengths).to(embedded.device)
    if lengths.shape != (batch,):
        shape = tuple(lengths.shape)
        raise InputError(f"give one length per document ({batch}), got shape {shape}")
    if batch and (int(lengths.min()) < 0 or int(lengths.max()) > steps):
        raise InputError(f"lengths must lie in 0..{steps}, the number of steps given")
    mask = torch.arange(steps, device=embedded.device)[None, :] < lengths[:, None]
    x = torch.where(mask[..., None], embedded, 0.0)
    if steps < min_steps:
        x = torch.nn.functional.pad(x, (0, 0, 0, min_steps - steps))
    return x


def read_model_file(path: str | Path) -> dict[str, Any]:
    """The saved record of any textlrp model file; :class:`ModelError` with a hint otherwise."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"model file not found: {path} (give the path to a saved .pt model)")
    try:
        payload = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means a bad file
        raise ModelError(
            f"could not read model file {path}: {exc.__class__.__name__}; "
            "expected a file written by a textlrp model's save() or `textlrp train`"
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != FILE_FORMAT:
        raise ModelError(f"{path} is not a textlrp model file (written by a model's save())")
    return payload
