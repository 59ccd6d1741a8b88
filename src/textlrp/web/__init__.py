"""The web viewer (``textlrp serve``): explain, compare and browse corpora in a browser.

FastAPI and uvicorn are an optional extra; :func:`create_app` imports them on first use and
says which extra to install when they are missing. The library never imports this package.
"""

from __future__ import annotations

from typing import Any

from textlrp.errors import TextLRPError

WEB_EXTRA_HINT = "the web viewer needs FastAPI and uvicorn: pip install 'textlrp[web]'"


def require_web() -> None:
    """Raise a :class:`TextLRPError` naming the extra to install when FastAPI is missing."""
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        raise TextLRPError(WEB_EXTRA_HINT) from None


def create_app(*args: Any, **kwargs: Any):
    """Build the ASGI app (see :func:`textlrp.web.app.create_app`)."""
    require_web()
    from textlrp.web.app import create_app as _create_app

    return _create_app(*args, **kwargs)


__all__ = ["WEB_EXTRA_HINT", "create_app", "require_web"]
