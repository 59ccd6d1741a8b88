"""Every method on a GPU gives what it gives on the CPU (float64).

On a machine without a GPU these tests skip and say so: comparing the CPU with itself would
pass without checking anything.
"""

from __future__ import annotations

import copy

import pytest
import torch
from conftest import random_model, random_sentences

import textlrp

GPU_DEVICES = ["cuda"] + (["mps"] if torch.backends.mps.is_available() else [])


def _available(device: str) -> bool:
    if device == "cuda":
        return torch.cuda.is_available()
    return torch.backends.mps.is_available()


@pytest.mark.parametrize("device", GPU_DEVICES)
@pytest.mark.parametrize("method", textlrp.available_methods())
def test_method_on_device_equals_cpu(device, method):
    if not _available(device):
        pytest.skip(f"no {device} device on this machine: the GPU path is not checked here")
    cpu_model = random_model(seed=61)
    model = copy.deepcopy(cpu_model).to(device)
    texts = random_sentences(5, 61)
    expected = textlrp.explain(cpu_model, texts, method=method, dtype=torch.float64)
    result = textlrp.explain(model, texts, method=method, dtype=torch.float64)
    for a, b in zip(expected, result, strict=True):
        assert b.relevance.device.type == "cpu"  # explanations always come back on the CPU
        torch.testing.assert_close(b.relevance, a.relevance, rtol=1e-9, atol=1e-12)
    assert result.batch.relevance.device.type == device
