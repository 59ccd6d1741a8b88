"""The one interface every explanation method implements, and the records it returns.

Data flows one way: an :class:`EncodedBatch` (padded token indices) and one target class per
sentence go into a method; the method returns a :class:`MethodOutput` of padded tensors;
:func:`textlrp.explain` turns that into one :class:`Explanation` per text.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, Protocol

import torch

from textlrp.batching import EncodedBatch
from textlrp.errors import InputError


@dataclasses.dataclass
class MethodOutput:
    """What a method computes for a batch, as padded tensors (zero on padding)."""

    relevance: torch.Tensor  # (B, T) one value per word
    relevance_per_dim: torch.Tensor | None = None  # (B, T, e), None where not defined
    relevance_by_direction: torch.Tensor | None = None  # (B, T, directions)
    initial_state_relevance: torch.Tensor | None = None  # (B,) left on h_0, c_0
    bias_relevance: torch.Tensor | None = None  # (B,) absorbed by an output-layer bias
    # (B, C) the model's class scores from the method's own forward pass; methods registered
    # with ``scores=True`` return them and resolve "predicted" targets (``PREDICTED``) from them
    scores: torch.Tensor | None = dataclasses.field(default=None, metadata={"time_axis": False})


class Method(Protocol):
    """An explanation method: explains every sentence of a padded batch at once.

    ``targets`` holds one class index per sentence; a method registered with ``scores=True``
    may also get :data:`~textlrp.batching.PREDICTED` (-1), meaning "the class the model
    predicts", which it resolves from its own forward pass (``fill_predicted``) and then
    returns those scores in ``MethodOutput.scores``: explain() then runs no forward pass of its
    own. Methods registered without it always get resolved indices.
    """

    def __call__(
        self, model: torch.nn.Module, batch: EncodedBatch, targets: torch.Tensor, **options: Any
    ) -> MethodOutput: ...


@dataclasses.dataclass(frozen=True)
class MethodInfo:
    name: str
    function: Method
    description: str
    options: tuple[str, ...] = ()
    scores: bool = False  # returns MethodOutput.scores and resolves PREDICTED targets itself


_REGISTRY: dict[str, MethodInfo] = {}


def register(
    name: str, description: str, options: tuple[str, ...] = (), scores: bool = False
) -> Callable[[Method], Method]:
    """Decorator that makes a method available to ``explain``, the CLI and the experiments.

    ``scores=True``: the method computes the model's scores in its own forward pass (see
    :class:`Method`), which saves explain() a forward pass of its own.
    """

    def decorate(function: Method) -> Method:
        if name in _REGISTRY:
            raise RuntimeError(f"explanation method '{name}' registered twice")
        _REGISTRY[name] = MethodInfo(name, function, description, options, scores)
        return function

    return decorate


def available_methods() -> list[str]:
    _load_builtin_methods()
    return sorted(_REGISTRY)


def get_method(name: str) -> MethodInfo:
    """The registered method ``name``; an :class:`InputError` listing the choices otherwise."""
    _load_builtin_methods()
    if name not in _REGISTRY:
        raise InputError(f"unknown method '{name}'; choose one of: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]


def _load_builtin_methods() -> None:
    # Importing the package registers every module in it (one module per method).
    import textlrp.methods.builtin  # noqa: F401
