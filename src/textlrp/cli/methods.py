"""``textlrp methods``: list the registered explanation methods."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("methods", help="list the explanation methods")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from textlrp.methods import get_method
    from textlrp.methods.base import available_methods

    for name in available_methods():
        info = get_method(name)
        options = f" (options: {', '.join(info.options)})" if info.options else ""
        print(f"{name:18s} {info.description}{options}")
    return 0
