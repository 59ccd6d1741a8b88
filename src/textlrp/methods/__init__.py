"""Explanation methods behind one interface (see :mod:`textlrp.methods.base`)."""

from textlrp.methods.base import (
    EncodedBatch,
    MethodOutput,
    available_methods,
    get_method,
    register,
)

__all__ = ["EncodedBatch", "MethodOutput", "available_methods", "get_method", "register"]
