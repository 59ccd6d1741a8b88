"""``textlrp explain``: explain texts with one method or all, print heatmaps, write files."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from textlrp.cli.common import (
    add_color_arguments,
    add_lrp_arguments,
    add_model_arguments,
    lrp_options,
    read_texts,
    write_outputs,
)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "explain",
        help="explain the prediction for one or more texts",
        description="Explain a classifier's score for each text and show it as a heatmap.",
    )
    parser.add_argument("texts", nargs="*", metavar="TEXT", help="texts to explain (quoted)")
    parser.add_argument(
        "--file", type=Path, help="read texts from a file, one per line ('-' = stdin)"
    )
    add_model_arguments(parser)
    parser.add_argument(
        "--method",
        default="lrp",
        help="explanation method, or 'all' for every method (see `textlrp methods`)",
    )
    parser.add_argument(
        "--target",
        default="predicted",
        help="'predicted', a class index or a class name (default: predicted)",
    )
    add_lrp_arguments(parser)
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--html", type=Path, help="write a self-contained HTML heatmap here")
    parser.add_argument("--png", type=Path, help="write a PNG heatmap here")
    parser.add_argument("--json", type=Path, help="write tokens, relevances and scores as JSON")
    add_color_arguments(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import textlrp
    from textlrp.viz import render_terminal, render_terminal_rows

    texts = read_texts(args)
    model = textlrp.load_model(args.model)
    options = lrp_options(args)
    if args.method == "all":
        per_method = explain_with_every_method(model, texts, args.target, args.dtype, options)
        rows = list(zip(*per_method.values(), strict=True))
        for row in rows:
            print(render_terminal_rows(list(row), color=args.color))
            print()
        explanations = [e for row in rows for e in row]
    else:
        explanations = textlrp.explain(
            model, texts, method=args.method, target=args.target, dtype=args.dtype, **options
        )
        for e in explanations:
            print(render_terminal(e, color=args.color))
            print()
    write_outputs(explanations, args.html, args.png, args.json)
    return 0


def explain_with_every_method(model, texts, target, dtype, options) -> dict[str, list]:
    """Every registered method on the same texts; LRP options go only to methods taking them.

    A method that does not apply to this model (CD on a GRU, say) is skipped with a note.
    """
    import textlrp
    from textlrp.errors import InputError
    from textlrp.methods import get_method

    results = {}
    for name in textlrp.available_methods():
        accepted = {k: v for k, v in options.items() if k in get_method(name).options}
        try:
            results[name] = textlrp.explain(
                model, texts, method=name, target=target, dtype=dtype, **accepted
            )
        except InputError as exc:
            if "vocabulary" in str(exc) or "empty" in str(exc):
                raise  # a problem of the text, not of the method
            print(f"textlrp: skipped {name}: {exc}", file=sys.stderr)
    return results
