"""``textlrp demo``: the papers' example sentences explained with the bundled model."""

from __future__ import annotations

import argparse
from pathlib import Path

from textlrp.cli.common import add_color_arguments, write_outputs


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="explain the papers' example sentences with the bundled model",
        description="Explain example sentences of Arras et al. with the bundled SST model, "
        "print the heatmaps, and write an HTML and a PNG page.",
    )
    parser.add_argument(
        "--out", type=Path, default=Path("out"), help="output folder (default: out)"
    )
    add_color_arguments(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import textlrp
    from textlrp.cli.demo_sentences import DEMO_SENTENCES
    from textlrp.viz import render_terminal_rows

    model = textlrp.load_model()
    print(
        f"textlrp {textlrp.__version__} demo: the bundled SST bi-LSTM, "
        "LRP and sensitivity analysis (red: for the predicted class, blue: against)\n"
    )
    methods = ("lrp", "gradient_x_input", "gradient")
    per_method = {m: textlrp.explain(model, DEMO_SENTENCES, method=m) for m in methods}
    rows = list(zip(*per_method.values(), strict=True))
    for row in rows:
        print(render_terminal_rows(list(row), color=args.color))
        print()
    args.out.mkdir(parents=True, exist_ok=True)
    write_outputs([e for row in rows for e in row], args.out / "demo.html", None, None)
    write_outputs(list(per_method["lrp"]), None, args.out / "demo.png", None)
    return 0
