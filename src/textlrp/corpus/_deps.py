"""Optional dependencies of the corpus tools, with an error naming the extra to install."""

from __future__ import annotations

import importlib
from typing import Any

from textlrp.errors import InputError


def require(module: str, extra: str) -> Any:
    """Import ``module`` or raise an :class:`InputError` that names ``textlrp[extra]``."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise InputError(
            f"this needs the optional package '{module.split('.')[0]}': "
            f"pip install 'textlrp[{extra}]'"
        ) from None


def pyarrow() -> Any:
    require("pyarrow.parquet", "corpus")
    return require("pyarrow", "corpus")
