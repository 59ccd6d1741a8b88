"""Shared fixtures: the shared data folder when present, and small random models."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from textlrp.models import ClassifierConfig, RecurrentClassifier, Vocabulary

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
WORDS = "the movie was not good bad great boring fun never fails to engage us".split()


def random_model(
    embedding_dim: int = 5,
    hidden_size: int = 4,
    num_layers: int = 1,
    bidirectional: bool = True,
    num_classes: int = 3,
    seed: int = 0,
    scale: float = 1.0,
    **config_options,
) -> RecurrentClassifier:
    """A float64 classifier with U(-scale, scale) weights (biases included).

    ``config_options`` go to :class:`ClassifierConfig` (``cell``, ``readout``, ``output_bias``).
    """
    torch.manual_seed(seed)
    config = ClassifierConfig(
        embedding_dim, hidden_size, num_layers, bidirectional, **config_options
    )
    names = [f"class{k}" for k in range(num_classes)]
    model = RecurrentClassifier(Vocabulary(WORDS), names, config).double()
    with torch.no_grad():
        for param in model.parameters():
            param.uniform_(-scale, scale)
    return model.eval()


def random_sentences(count: int, seed: int, max_len: int = 9) -> list[list[str]]:
    generator = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, max_len + 1, (count,), generator=generator)
    sentences = []
    for n in lengths.tolist():
        picks = torch.randint(0, len(WORDS), (n,), generator=generator).tolist()
        sentences.append([WORDS[i] for i in picks])
    return sentences


@pytest.fixture
def arras_dir() -> Path:
    path = SHARED_DATA / "arras2017-bilstm"
    if not (path / "model").is_file():
        pytest.skip("the released 2017 model is not in ../shared/data (fixture tests cover it)")
    return path
