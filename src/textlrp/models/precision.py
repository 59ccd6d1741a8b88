"""Running a model in another floating-point precision without touching the user's copy."""

from __future__ import annotations

import copy
import threading
import weakref

import torch

# model -> (fingerprint of its parameters, {dtype: eval-mode copy}); a copy is reused until
# the model's parameters change (in place or by reassignment) or the model is collected.
_COPIES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def in_dtype(model: torch.nn.Module, dtype: torch.dtype) -> torch.nn.Module:
    """``model`` itself when it is in eval mode and computes in ``dtype``, else an eval copy.

    The copy is made once and reused while the model's parameters stay the same, so a loop of
    one-sentence calls does not deep-copy the model every time; the caller's model is never
    converted or switched between train and eval mode.
    """
    if model.embedding.weight.dtype == dtype and not model.training:
        return model
    fingerprint = _fingerprint(model)
    with _LOCK:
        cached = _COPIES.get(model)
        if cached is None or cached[0] != fingerprint:
            cached = (fingerprint, {})
            _COPIES[model] = cached
        copies = cached[1]
        if dtype not in copies:
            copies[dtype] = copy.deepcopy(model).to(dtype).eval()
        return copies[dtype]


def _fingerprint(model: torch.nn.Module) -> tuple:
    """Identity and version counter of every parameter and buffer (changes on any update)."""
    tensors = list(model.parameters()) + list(model.buffers())
    return tuple((t.data_ptr(), t._version, t.dtype, t.device) for t in tensors)
