"""``textlrp``: explain predictions, list methods, run the demo, train models.

Every user error ends in one line on stderr that says what to do, and a non-zero exit code.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from textlrp.errors import TextLRPError

EXIT_USAGE = 2


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

    explain = commands.add_parser(
        "explain",
        help="explain the prediction for one or more texts",
        description="Explain a classifier's score for each text and show it as a heatmap.",
    )
    explain.add_argument("texts", nargs="*", metavar="TEXT", help="texts to explain (quoted)")
    explain.add_argument(
        "--file", type=Path, help="read texts from a file, one per line ('-' = stdin)"
    )
    add_model_arguments(explain)
    explain.add_argument(
        "--method",
        default="lrp",
        help="explanation method, or 'all' for every method (see `textlrp methods`)",
    )
    explain.add_argument(
        "--target",
        default="predicted",
        help="'predicted', a class index or a class name (default: predicted)",
    )
    explain.add_argument("--eps", type=float, help="LRP stabilizer ε (default 0.001)")
    explain.add_argument("--bias-factor", type=float, help="LRP bias factor δ: 0 (default) or 1")
    explain.add_argument(
        "--product-rule",
        choices=["all", "prop", "abs", "half"],
        help="LRP rule for gate products (default: all)",
    )
    explain.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    explain.add_argument("--html", type=Path, help="write a self-contained HTML heatmap here")
    explain.add_argument("--png", type=Path, help="write a PNG heatmap here")
    explain.add_argument("--json", type=Path, help="write tokens, relevances and scores as JSON")
    add_color_arguments(explain)
    explain.set_defaults(handler=run_explain)

    methods = commands.add_parser("methods", help="list the explanation methods")
    methods.set_defaults(handler=run_methods)

    demo = commands.add_parser(
        "demo",
        help="explain the papers' example sentences with the bundled model",
        description="Explain example sentences of Arras et al. with the bundled SST model, "
        "print the heatmaps, and write an HTML and a PNG page.",
    )
    demo.add_argument("--out", type=Path, default=Path("out"), help="output folder (default: out)")
    add_color_arguments(demo)
    demo.set_defaults(handler=run_demo)

    train = commands.add_parser("train", help="train a model (`textlrp train sst`)")
    train_tasks = train.add_subparsers(title="tasks", metavar="TASK")
    sst = train_tasks.add_parser("sst", help="train the papers' bi-LSTM on the SST")
    from textlrp.training.cli import add_train_arguments, run_train

    add_train_arguments(sst)
    sst.set_defaults(handler=run_train)

    reproduce = commands.add_parser(
        "reproduce", help="reproduce the papers' experiments (toy, sst)"
    )
    experiments = reproduce.add_subparsers(title="experiments", metavar="EXPERIMENT")
    from textlrp.experiments import toy_cli

    toy = experiments.add_parser(
        "toy", help="the 2019 paper's addition/subtraction task with known ground truth"
    )
    toy_cli.add_arguments(toy)
    toy.set_defaults(handler=toy_cli.run)
    from textlrp.experiments.sst import cli as sst_cli

    sst_report = experiments.add_parser(
        "sst", help="the 2017/2019 papers' sentiment experiments on the bundled model"
    )
    sst_cli.add_arguments(sst_report)
    sst_report.set_defaults(handler=sst_cli.run)
    from textlrp.cli import evaluate as evaluate_cli  # until COMMANDS lands: one-line hook

    evaluate_cli.register(commands)
    return parser


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model", type=Path, help="a saved model file (default: bundled SST model)"
    )


def add_color_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--color",
        dest="color",
        action="store_const",
        const=True,
        default=None,
        help="force coloured terminal output",
    )
    group.add_argument(
        "--no-color",
        dest="color",
        action="store_const",
        const=False,
        help="plain text output with signed relevance values",
    )


def read_texts(args: argparse.Namespace) -> list[str]:
    texts = list(args.texts)
    if args.file is not None:
        handle = sys.stdin if str(args.file) == "-" else None
        content = handle.read() if handle else args.file.read_text(encoding="utf-8")
        texts += [line for line in content.splitlines() if line.strip()]
    if not texts:
        raise TextLRPError("no text given; pass a quoted TEXT or --file FILE")
    return texts


def method_options(args: argparse.Namespace) -> dict[str, object]:
    options = {}
    for name in ("eps", "bias_factor", "product_rule"):
        value = getattr(args, name)
        if value is not None:
            options[name] = value
    return options


def run_explain(args: argparse.Namespace) -> int:
    import textlrp
    from textlrp.viz import render_terminal, render_terminal_rows

    texts = read_texts(args)
    model = textlrp.load_model(args.model)
    options = method_options(args)
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


def write_outputs(explanations, html: Path | None, png: Path | None, json_path: Path | None):
    from textlrp.viz import render_png, write_html

    if html is not None:
        write_html(explanations, html)
        print(f"wrote {html}", file=sys.stderr)
    if png is not None:
        render_png(explanations, png)
        print(f"wrote {png}", file=sys.stderr)
    if json_path is not None:
        records = [e.to_dict() for e in explanations]
        json_path.write_text(json.dumps(records, indent=1), encoding="utf-8")
        print(f"wrote {json_path}", file=sys.stderr)


def run_methods(args: argparse.Namespace) -> int:
    from textlrp.methods import get_method
    from textlrp.methods.base import available_methods

    for name in available_methods():
        info = get_method(name)
        options = f" (options: {', '.join(info.options)})" if info.options else ""
        print(f"{name:18s} {info.description}{options}")
    return 0


def run_demo(args: argparse.Namespace) -> int:
    import textlrp
    from textlrp.cli.examples import DEMO_SENTENCES
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


if __name__ == "__main__":
    sys.exit(main())
