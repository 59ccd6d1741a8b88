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
from textlrp.models.persistence import read_model_file, restore_weights, write_model_file
from textlrp.models.vocab import Vocabulary

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


def tie_tolerance(
    weight: torch.Tensor, bias: torch.Tensor, scale: torch.Tensor, dtype: torch.dtype
) -> torch.Tensor:
    """τ (B, F): how far apart two windows' z may lie from rounding alone.

    A convolution sums n = H·e products in an order that may differ from window to window
    (and between a batch and a document alone), so identical windows can differ in their last
    bits. The rounding error of such a sum is at most ≈ n·u·Σ|w·x| ≤ n·u·‖W_f‖·‖x_window‖
    (u: the unit round-off), and ‖x_window‖ ≤ √H · max_t ‖x_t‖ = √H · ``scale``. τ is twice
    that, plus the bias's rounding.
    """
    filters, dims, width = weight.shape
    n = dims * width + 1
    unit = torch.finfo(dtype).eps / 2
    norms = weight.detach().to(dtype).flatten(1).norm(dim=1)  # (F,)
    window_norm = scale.to(dtype)[:, None] * width**0.5
    return 2 * n * unit * (norms[None, :] * window_norm + bias.detach().to(dtype).abs()[None, :])


def winning_windows(
    z: torch.Tensor,
    lengths: torch.Tensor,
    width: int,
    weight: torch.Tensor,
    bias: torch.Tensor,
    scale: torch.Tensor,
) -> torch.Tensor:
    """(B, F) the max-pool's winner: the first valid window within τ of the largest a = ReLU(z).

    spec §9.3: t* = argmax_t a_{f,t}, the first on ties. Only the document's own windows take
    part (padding never wins); windows whose activation lies within :func:`tie_tolerance` of
    the maximum count as tied (rounding alone separates them), and the first of them wins, so
    repeated n-grams pick the same window alone and inside any batch. A dead filter (every
    z < 0, all a = 0) is a tie of all its windows: the first wins.
    """
    valid = torch.arange(z.shape[-1], device=z.device) < window_counts(lengths, width)[:, None]
    a = z.clamp(min=0).masked_fill(~valid[:, None, :], float("-inf"))
    threshold = a.amax(dim=-1) - tie_tolerance(weight, bias, scale, z.dtype)
    return (a >= threshold[..., None]).to(torch.uint8).argmax(dim=-1)  # argmax: the first


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

        ``max_p ReLU(z_p) = ReLU(max_p z_p)``: the max is taken first (cheaper, same value),
        at the window :func:`winning_windows` picks, where gradients then flow.
        """
        x = padded_input(embedded, lengths, max(self.widths))  # (B, T', e)
        lengths = lengths.to(x.device)
        scale = x.detach().norm(dim=-1).amax(dim=-1)  # (B,) largest word vector norm
        features = []
        for conv, width in zip(self.convs, self.widths, strict=True):
            z = conv(x.transpose(1, 2))  # (B, F, T' - H + 1)
            bias = torch.zeros_like(z[0, :, 0]) if conv.bias is None else conv.bias
            winners = winning_windows(z.detach(), lengths, width, conv.weight, bias, scale)
            features.append(torch.relu(z.gather(-1, winners[..., None])[..., 0]))
        return torch.cat(features, dim=-1)

    def forward_embedded(self, embedded: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Class scores (B, C) from embedded inputs (B, T, e); used by gradient methods."""
        return self.output(self.head(self.dropout(self.pooled_features(embedded, lengths))))

    def empty_scores(self, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
        """Class scores (C,) of an empty text: one window of zero vectors per width."""
        dims = self.config.embedding_dim
        empty = torch.zeros(1, 0, dims, dtype=dtype, device=device)
        return self.forward_embedded(empty, torch.zeros(1, dtype=torch.long, device=device))[0]

    def forward(self, token_ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Class scores (B, C) from right-padded token indices (B, T)."""
        return self.forward_embedded(self.embedding(token_ids), lengths)

    # ----------------------------------------------------------------- persistence
    def save(self, path: str | Path) -> None:
        """Write architecture, vocabulary, class names and weights to one file."""
        write_model_file(self, path, FAMILY)

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
        try:
            config = CNNConfig(**payload["config"])
            vocab = Vocabulary.from_list(payload["vocab"], lowercase=payload.get("lowercase", True))
            model = cls(vocab, payload["class_names"], config)
        except (KeyError, TypeError, InputError) as exc:
            raise ModelError(f"{source} has a malformed CNN architecture record: {exc}") from None
        return restore_weights(model, payload["state_dict"], source)


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
