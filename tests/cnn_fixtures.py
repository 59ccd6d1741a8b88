"""Small random CNN classifiers and documents for the CNN tests."""

from __future__ import annotations

import torch

from textlrp.models import CNNClassifier, CNNConfig, Vocabulary

WORDS = "the game was not good bad great boring fun never fails to engage us".split()


def random_cnn(
    embedding_dim: int = 4,
    num_filters: int = 3,
    widths: tuple[int, ...] = (2, 3),
    head_hidden: tuple[int, ...] = (),
    num_classes: int = 3,
    seed: int = 0,
    scale: float = 1.0,
    output_bias: bool = True,
) -> CNNClassifier:
    """A float64 CNN with U(-scale, scale) weights and biases (the padding row stays zero)."""
    torch.manual_seed(seed)
    config = CNNConfig(
        embedding_dim=embedding_dim,
        num_filters=num_filters,
        widths=widths,
        head_hidden=head_hidden,
        output_bias=output_bias,
    )
    names = [f"class{k}" for k in range(num_classes)]
    model = CNNClassifier(Vocabulary(WORDS), names, config).double()
    with torch.no_grad():
        for param in model.parameters():
            param.uniform_(-scale, scale)
        model.embedding.weight[model.vocab.pad_index] = 0.0
    return model.eval()


def random_ids(count: int, seed: int, min_len: int = 1, max_len: int = 9):
    """Right-padded token indices (B, T) and lengths (B,) of random documents."""
    generator = torch.Generator().manual_seed(seed)
    lengths = torch.randint(min_len, max_len + 1, (count,), generator=generator)
    steps = max(int(lengths.max()), 1)
    ids = torch.zeros(count, steps, dtype=torch.long)
    for row, n in enumerate(lengths.tolist()):
        ids[row, :n] = torch.randint(2, len(WORDS) + 2, (n,), generator=generator)
    return ids, lengths
