"""User-facing errors: each message says what went wrong and what to do about it.

The CLI prints these as one line and exits non-zero; library users can catch
:class:`TextLRPError` (a ``ValueError``) to handle every input problem at once.
"""


class TextLRPError(ValueError):
    """Base class for errors caused by bad input, data or model files."""


class InputError(TextLRPError):
    """A text, target, shape or option that cannot be explained as given."""


class ModelError(TextLRPError):
    """A model file or weight tensor that cannot be used (missing, corrupt, NaN/inf)."""


class DataError(TextLRPError):
    """A data set that is missing or malformed."""
