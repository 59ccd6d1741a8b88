"""The one file format of every textlrp model: architecture, vocabulary, classes, weights.

A file is a ``torch.save``d dict read back with ``weights_only=True`` (no pickled code):
``format``, ``version``, ``family`` ("recurrent" or "cnn"; files without it are recurrent),
``config`` (the family's config dataclass as a dict), ``vocab``, ``lowercase``,
``class_names`` and ``state_dict``. :func:`textlrp.load_model` dispatches on ``family``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import torch
from torch import nn

from textlrp.errors import ModelError

FILE_FORMAT = "textlrp-model"
FILE_VERSION = 2


def write_model_file(model: nn.Module, path: str | Path, family: str) -> None:
    """Write ``model`` (with ``config``, ``vocab``, ``class_names``) to ``path``."""
    payload = {
        "format": FILE_FORMAT,
        "version": FILE_VERSION,
        "family": family,
        "config": dataclasses.asdict(model.config),
        "vocab": model.vocab.to_list(),
        "lowercase": model.vocab.lowercase,
        "class_names": model.class_names,
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
    }
    torch.save(payload, str(path))


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


def restore_weights(model: nn.Module, state_dict: dict[str, Any], source: str) -> nn.Module:
    """Load ``state_dict`` in the precision it was saved in, check it, and switch to eval."""
    saved_dtype = state_dict.get("embedding.weight", torch.empty(0)).dtype
    if saved_dtype.is_floating_point:
        model = model.to(saved_dtype)  # keep the precision the weights were saved in
    try:
        model.load_state_dict(state_dict)
    except RuntimeError as exc:
        raise ModelError(f"weights in {source} do not fit its architecture: {exc}") from None
    check_finite_weights(model, source=source)
    return model.eval()


def check_finite_weights(model: nn.Module, source: str = "model") -> None:
    """Raise :class:`ModelError` naming the first parameter holding NaN or inf."""
    for name, param in model.named_parameters():
        if not torch.isfinite(param).all():
            raise ModelError(
                f"{source}: parameter '{name}' contains NaN or inf values; "
                "retrain or re-export the model"
            )
