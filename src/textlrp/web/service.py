"""What the viewer computes, free of any web framework: explanations as JSON-ready records.

The HTTP layer (:mod:`textlrp.web.app`) validates requests and runs these functions in a
thread pool; everything here raises :class:`~textlrp.errors.InputError` with the same messages
as the CLI for bad texts, targets and method options.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import torch

from textlrp.errors import InputError
from textlrp.explanation import Explanation
from textlrp.methods.base import available_methods, get_method
from textlrp.models.precision import in_dtype
from textlrp.viz.colors import (
    contrast_text_color,
    explanation_colors,
    format_options,
    intensity_to_rgb,
    rgb_to_hex,
)

# Option names and the Python types the methods expect; anything else is refused up front.
OPTION_TYPES: dict[str, type] = {
    "eps": float,
    "bias_factor": float,
    "product_rule": str,
    "steps": int,
    "integration": str,
    "mode": str,
}


@dataclasses.dataclass(frozen=True)
class Limits:
    """Caps on what one request may ask for, so that no request can tie up the server."""

    max_chars: int = 5000
    max_tokens: int = 500
    max_methods: int = 8
    max_steps: int = 256  # Integrated Gradients steps
    max_body_bytes: int = 256 * 1024


@dataclasses.dataclass
class MethodRequest:
    name: str
    options: dict[str, Any]


class ModelRegistry:
    """The models named at start-up; a float64 copy of each is made once, on first use."""

    def __init__(self, models: Mapping[str, torch.nn.Module]) -> None:
        if not models:
            raise InputError("give at least one model to serve")
        self._models = dict(models)
        self._copies: dict[tuple[str, torch.dtype], torch.nn.Module] = {}
        self._lock = threading.Lock()

    @property
    def names(self) -> list[str]:
        return list(self._models)

    @property
    def default(self) -> str:
        return next(iter(self._models))

    def get(self, name: str | None, dtype: torch.dtype = torch.float32) -> torch.nn.Module:
        name = self.default if name in (None, "") else name
        if name not in self._models:
            raise InputError(f"unknown model '{name}'; choose one of: {', '.join(self._models)}")
        model = self._models[name]
        if model.embedding.weight.dtype == dtype:
            return model
        with self._lock:
            key = (name, dtype)
            if key not in self._copies:
                self._copies[key] = in_dtype(model, dtype)
            return self._copies[key]

    def describe(self) -> list[dict[str, Any]]:
        return [
            {
                "name": name,
                "class_names": list(model.class_names),
                "vocabulary_size": len(model.vocab) if hasattr(model, "vocab") else None,
                "cell": getattr(getattr(model, "config", None), "cell", None),
            }
            for name, model in self._models.items()
        ]


def describe_methods() -> list[dict[str, Any]]:
    """Every registered method with its description and option names."""
    return [
        {
            "name": name,
            "description": get_method(name).description,
            "options": list(get_method(name).options),
        }
        for name in available_methods()
    ]


def parse_methods(
    methods: Sequence[str | Mapping[str, Any]], shared: Mapping[str, Any], limits: Limits
) -> list[MethodRequest]:
    """Method names (or ``{name, options}``) with the shared options each method accepts.

    Shared options go only to the methods that take them (as ``textlrp explain --method all``
    does); options given with one method go to it unfiltered, so a wrong one gets the CLI's
    message. An option no method knows is refused.
    """
    if not methods:
        raise InputError("choose at least one method; see the list in /api/info")
    if len(methods) > limits.max_methods:
        raise InputError(f"at most {limits.max_methods} methods per request, got {len(methods)}")
    shared = check_options(shared)
    requests = []
    for item in methods:
        if isinstance(item, str):
            name, own = item, {}
        else:
            name, own = str(item.get("name", "")), check_options(item.get("options") or {})
        info = get_method(name)
        options = {k: v for k, v in shared.items() if k in info.options}
        options.update(own)
        if "steps" in options and options["steps"] > limits.max_steps:
            raise InputError(
                f"steps must be at most {limits.max_steps} in the web viewer, "
                f"got {options['steps']}"
            )
        requests.append(MethodRequest(name, options))
    return requests


def check_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """Known option names with values of the right type; ``None`` values are dropped."""
    checked = {}
    for key, value in options.items():
        if value is None:
            continue
        if key not in OPTION_TYPES:
            raise InputError(f"unknown option '{key}'; the methods take: {', '.join(OPTION_TYPES)}")
        wanted = OPTION_TYPES[key]
        if wanted is float and isinstance(value, int | float) and not isinstance(value, bool):
            value = float(value)
        if wanted is int and isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, wanted):
            raise InputError(f"option {key} must be a {wanted.__name__}, got {value!r}")
        checked[key] = value
    return checked


def check_text(text: str, limits: Limits) -> None:
    if len(text) > limits.max_chars:
        raise TextTooLong(
            f"the text has {len(text)} characters; the viewer explains at most "
            f"{limits.max_chars} (use `textlrp explain` or `explain-corpus` for longer texts)"
        )
    if not text.strip():
        raise InputError("the text is empty; type or paste a sentence to explain")


class TextTooLong(InputError):
    """A text over the viewer's length limit (answered with HTTP 413)."""


def explain_rows(
    registry: ModelRegistry,
    text: str,
    model_name: str | None,
    methods: list[MethodRequest],
    target: str | int,
    dtype_name: str,
    limits: Limits,
) -> list[Explanation]:
    """One explanation of ``text`` per requested method (same model, target and dtype)."""
    import textlrp
    from textlrp.api import DTYPES

    check_text(text, limits)
    if dtype_name not in DTYPES:
        raise InputError(f"unknown dtype '{dtype_name}'; choose float32 or float64")
    dtype = DTYPES[dtype_name]
    model = registry.get(model_name, dtype)
    from textlrp.data.tokenizer import tokenize

    tokens = [t for t in tokenize(text) if t.strip()]
    if len(tokens) > limits.max_tokens:
        raise TextTooLong(
            f"the text has {len(tokens)} tokens; the viewer explains at most {limits.max_tokens}"
        )
    return [
        textlrp.explain(model, [tokens], method=m.name, target=target, dtype=dtype, **m.options)[0]
        for m in methods
    ]


def explanation_record(explanation: Explanation) -> dict[str, Any]:
    """One heatmap row: relevances, their colours (the viz colour map) and the row's scale."""
    colors = explanation_colors(explanation)
    total = float(colors.values.sum()) if len(colors) else 0.0
    options = dict(explanation.options or {})
    label = explanation.method
    if options:
        label += f" ({format_options(options)})"
    return {
        "method": explanation.method,
        "options": options,
        "label": label,
        "relevance": colors.values.tolist(),
        "intensity": colors.intensity.tolist(),
        "colors": [colors.hex(i) for i in range(len(colors))],
        "text_colors": [rgb_to_hex(colors.foreground(i)) for i in range(len(colors))],
        "scale": colors.scale,
        "sum": total,
        "initial_state_relevance": explanation.initial_state_relevance,
        "bias_relevance": explanation.bias_relevance,
        "target": explanation.target,
        "target_name": explanation.target_name,
    }


def response_record(model_name: str, explanations: list[Explanation]) -> dict[str, Any]:
    """The JSON answer of ``POST /api/explain``: the prediction once, then one row per method."""
    first = explanations[0]
    return {
        "model": model_name,
        "tokens": first.tokens,
        "unknown": first.unknown,
        "class_names": first.class_names,
        "probabilities": [float(p) for p in first.probabilities],
        "scores": [float(s) for s in first.scores],
        "predicted": first.predicted,
        "predicted_name": first.predicted_name,
        "target": first.target,
        "target_name": first.target_name,
        "rows": [explanation_record(e) for e in explanations],
    }


def relevance_record(
    tokens: Sequence[str], relevance: Sequence[float], unknown: Sequence[bool] | None
) -> dict[str, Any]:
    """Colours of a stored relevance vector (a corpus row), with the same colour map."""
    from textlrp.viz.colors import relevance_colors

    colors = relevance_colors(list(relevance))
    if len(colors) != len(tokens):
        raise InputError(f"the row has {len(tokens)} tokens but {len(colors)} relevance values")
    return {
        "tokens": list(tokens),
        "unknown": list(unknown) if unknown is not None else [False] * len(tokens),
        "relevance": colors.values.tolist(),
        "colors": [colors.hex(i) for i in range(len(colors))],
        "text_colors": [rgb_to_hex(colors.foreground(i)) for i in range(len(colors))],
        "scale": colors.scale,
        "sum": float(colors.values.sum()) if len(colors) else 0.0,
    }


def colour_scale() -> dict[str, str]:
    """The ends and middle of the colour map, for the legend bar."""
    return {
        "negative": rgb_to_hex(intensity_to_rgb(-1.0)),
        "zero": rgb_to_hex(intensity_to_rgb(0.0)),
        "positive": rgb_to_hex(intensity_to_rgb(1.0)),
        "text_on_positive": rgb_to_hex(contrast_text_color(intensity_to_rgb(1.0))),
    }
