"""``textlrp``: the command line, one module per command.

Every user error ends in one line on stderr that says what to do, and a non-zero exit code.
This package depends on the library; the library never imports it.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from textlrp.errors import TextLRPError

EXIT_USAGE = 2

# The command modules, in the order `textlrp --help` lists them. Each has
# ``register(subparsers)``, which adds its parser and sets ``handler``.
COMMANDS = (
    "textlrp.cli.explain",
    "textlrp.cli.methods",
    "textlrp.cli.demo",
    "textlrp.cli.train",
    "textlrp.cli.reproduce",
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return args.handler(args) or 0
    except TextLRPError as exc:
        print(f"textlrp: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(
            f"textlrp: error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "),
            file=sys.stderr,
        )
        return 1
    except KeyboardInterrupt:
        print("textlrp: interrupted", file=sys.stderr)
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="textlrp",
        description="Explain text classifier predictions with Layer-wise Relevance Propagation.",
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(name).register(commands)
    return parser


if __name__ == "__main__":
    sys.exit(main())
