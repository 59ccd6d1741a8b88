"""``textlrp serve``: the web viewer (explain, compare, browse corpora) on a local port."""

from __future__ import annotations

import argparse
import ipaddress
import sys
from pathlib import Path

from textlrp.errors import InputError


def register(subparsers) -> None:
    """Add the ``serve`` command."""
    parser = subparsers.add_parser(
        "serve",
        help="open the web viewer: explain texts, compare methods/models, browse corpora",
        description="Serve the textlrp web viewer (needs the web extra: "
        "pip install 'textlrp[web]'). Binds to 127.0.0.1 unless --host says otherwise.",
    )
    parser.add_argument(
        "--model",
        action="append",
        metavar="[NAME=]PATH",
        help="a saved model, optionally named; repeat to compare models "
        "(default: the bundled SST model)",
    )
    parser.add_argument(
        "--corpus",
        action="append",
        type=Path,
        metavar="OUT.parquet",
        help="a corpus written by `textlrp explain-corpus`; repeat for several",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument(
        "--results",
        type=Path,
        help="folder of the committed reports (default: docs/results of this checkout)",
    )
    parser.add_argument(
        "--workers", type=int, help="threads computing explanations (default: CPU cores, 2..8)"
    )
    parser.add_argument(
        "--max-chars", type=int, default=5000, help="longest text the viewer explains (5000)"
    )
    parser.set_defaults(handler=run)


def parse_models(specs: list[str] | None) -> dict[str, Path | None]:
    """``NAME=PATH`` or ``PATH`` (named after the file) for each ``--model``; bundled if none."""
    if not specs:
        return {"bundled": None}
    models: dict[str, Path | None] = {}
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep:
            name, path = Path(spec).stem, spec
        if not name or not path:
            raise InputError(f"--model {spec!r}: give PATH or NAME=PATH")
        if name in models:
            raise InputError(f"--model: the name '{name}' is used twice; name them NAME=PATH")
        models[name] = Path(path)
    return models


def run(args: argparse.Namespace) -> int:
    from textlrp.web import require_web

    require_web()
    import uvicorn

    import textlrp
    from textlrp.web.app import create_app
    from textlrp.web.service import Limits

    if not 1 <= args.port <= 65535:
        raise InputError(f"--port must be in 1..65535, got {args.port}")
    if args.max_chars < 1:
        raise InputError(f"--max-chars must be positive, got {args.max_chars}")
    if args.workers is not None and args.workers < 1:
        raise InputError(f"--workers must be positive, got {args.workers}")
    models = {name: textlrp.load_model(path) for name, path in parse_models(args.model).items()}
    app = create_app(
        models,
        corpora=args.corpus or [],
        results_dir=args.results if args.results is not None else "default",
        limits=Limits(max_chars=args.max_chars),
        workers=args.workers,
    )
    if not _is_loopback(args.host):
        print(
            f"textlrp: warning: serving on {args.host}, reachable from other machines; "
            "the viewer has no authentication",
            file=sys.stderr,
        )
    shown = f"[{args.host}]" if ":" in args.host else args.host
    print(f"textlrp viewer on http://{shown}:{args.port}/ (Ctrl-C to stop)", file=sys.stderr)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
