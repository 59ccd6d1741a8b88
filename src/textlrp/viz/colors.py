"""The one relevance-to-colour mapping shared by the terminal, HTML and PNG renderers.

Convention of Arras et al. (2017), Fig. 1-2: positive relevance is red, negative relevance is
blue, zero is white, and the intensity is normalized per sentence by its largest absolute
relevance (the ``bwr`` colour map on ``R / max|R|``). A sentence whose relevances are all zero
renders white; NaN or infinite relevance is refused with an :class:`~textlrp.errors.InputError`
(a ``ValueError``) rather than drawn as a misleading colour.
"""

from __future__ import annotations

import dataclasses
import unicodedata
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch

from textlrp.errors import InputError

if TYPE_CHECKING:
    from textlrp.explanation import Explanation

RGB = tuple[float, float, float]
"""A colour as red, green and blue in ``[0, 1]``."""

WHITE: RGB = (1.0, 1.0, 1.0)
BLACK: RGB = (0.0, 0.0, 0.0)
RED: RGB = (1.0, 0.0, 0.0)
BLUE: RGB = (0.0, 0.0, 1.0)


@dataclasses.dataclass(frozen=True)
class TokenColors:
    """Per-token colours of one sentence.

    ``values`` are the raw relevances, ``intensity`` the same divided by ``scale`` (the largest
    absolute relevance, 0 for an all-zero sentence) so that it lies in ``[-1, 1]``, and ``rgb``
    the background colour of each token.
    """

    values: np.ndarray
    intensity: np.ndarray
    rgb: list[RGB]
    scale: float

    def __len__(self) -> int:
        return len(self.rgb)

    def hex(self, i: int) -> str:
        """Background colour of token ``i`` as ``#rrggbb``."""
        return rgb_to_hex(self.rgb[i])

    def foreground(self, i: int) -> RGB:
        """Black or white, whichever reads better on the background of token ``i``."""
        return contrast_text_color(self.rgb[i])


def relevance_colors(relevance: torch.Tensor | np.ndarray | Sequence[float]) -> TokenColors:
    """Map a 1-D relevance vector to normalized intensities and RGB background colours.

    Raises :class:`~textlrp.errors.InputError` if the vector is not 1-D or holds NaN/inf.
    """
    if isinstance(relevance, torch.Tensor):
        values = relevance.detach().cpu().double().numpy()
    else:
        values = np.asarray(relevance, dtype=np.float64)
    if values.ndim != 1:
        raise InputError(
            f"relevance must be a 1-D vector with one value per token, got shape {values.shape}"
        )
    bad = ~np.isfinite(values)
    if bad.any():
        positions = ", ".join(str(int(i)) for i in np.flatnonzero(bad)[:10])
        raise InputError(
            f"cannot colour relevance containing NaN or infinite values (token positions "
            f"{positions}); check the model weights and the explanation method's options"
        )
    scale = float(np.abs(values).max()) if values.size else 0.0
    intensity = values / scale if scale > 0 else np.zeros_like(values)
    intensity = np.clip(intensity, -1.0, 1.0)
    return TokenColors(
        values=values,
        intensity=intensity,
        rgb=[intensity_to_rgb(float(x)) for x in intensity],
        scale=scale,
    )


def explanation_colors(explanation: Explanation) -> TokenColors:
    """The token colours of ``explanation``, checking one relevance value per token."""
    colors = relevance_colors(explanation.relevance)
    if len(colors) != len(explanation.tokens):
        raise InputError(
            f"explanation has {len(explanation.tokens)} tokens but {len(colors)} relevance "
            "values; they must match one to one"
        )
    return colors


def intensity_to_rgb(x: float) -> RGB:
    """Linear blue-white-red map: -1 -> blue, 0 -> white, +1 -> red."""
    if x != x:  # NaN
        raise InputError("cannot colour a NaN relevance intensity")
    x = min(1.0, max(-1.0, x))
    if x >= 0:
        return (1.0, 1.0 - x, 1.0 - x)
    return (1.0 + x, 1.0 + x, 1.0)


def rgb_to_255(rgb: RGB) -> tuple[int, int, int]:
    """Colour channels as integers in ``0..255``."""
    r, g, b = (int(round(min(1.0, max(0.0, c)) * 255)) for c in rgb)
    return r, g, b


def rgb_to_hex(rgb: RGB) -> str:
    """Colour as ``#rrggbb``."""
    return "#{:02x}{:02x}{:02x}".format(*rgb_to_255(rgb))


def relative_luminance(rgb: RGB) -> float:
    """WCAG 2 relative luminance of an sRGB colour."""

    def linear(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_text_color(background: RGB) -> RGB:
    """Black or white text, whichever has the larger WCAG contrast ratio on ``background``."""
    lum = relative_luminance(background)
    on_black = (lum + 0.05) / 0.05
    on_white = 1.05 / (lum + 0.05)
    return BLACK if on_black >= on_white else WHITE


# Labels shared by the renderers, so that all three describe an explanation the same way.


def format_relevance(value: float, digits: int = 2) -> str:
    """Signed relevance, e.g. ``+0.12`` or ``-1.50``."""
    return f"{value:+.{digits}f}"


def format_options(options: dict[str, object]) -> str:
    """Method options as ``key=value, ...`` (floats in short ``g`` form); empty if none."""
    parts = []
    for key, value in options.items():
        shown = f"{value:g}" if isinstance(value, float) else str(value)
        parts.append(f"{key}={shown}")
    return ", ".join(parts)


def method_label(explanation: Explanation) -> str:
    """The method name followed by its options in parentheses, e.g. ``lrp (eps=0.001)``."""
    options = format_options(dict(explanation.options or {}))
    return f"{explanation.method} ({options})" if options else explanation.method


def probability_list(explanation: Explanation) -> list[float]:
    """The class probabilities as plain floats, checked against the class names."""
    probabilities = [float(p) for p in explanation.probabilities.detach().cpu().reshape(-1)]
    if len(probabilities) != len(explanation.class_names):
        raise InputError(
            f"explanation has {len(explanation.class_names)} class names but "
            f"{len(probabilities)} probabilities; they must match one to one"
        )
    return probabilities


def printable(text: object) -> str:
    """``text`` with control characters (escape sequences, newlines, tabs) shown as escapes."""
    return "".join(
        c.encode("unicode_escape").decode("ascii") if unicodedata.category(c) == "Cc" else c
        for c in str(text)
    )
