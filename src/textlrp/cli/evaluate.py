"""``textlrp evaluate``: faithfulness of explanation methods on a model and texts.

Prints one row per method (terminal table); ``--out DIR`` also writes ``report.md``,
``faithfulness.json`` and one PNG per metric there. Definitions: docs/evaluation.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from textlrp.errors import InputError

DATASETS = ("sst-test", "sst-dev")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="measure how faithful explanation methods are to the model",
        description="Faithfulness of explanation methods on a model and texts: ERASER "
        "comprehensiveness/sufficiency (AOPC), deletion/insertion AUC, rank correlation with "
        "leave-one-out occlusion, a random baseline, and optionally the model-randomisation "
        "check. One row per method.",
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "file",
        nargs="?",
        type=Path,
        help="texts: one per line, or a .csv/.tsv/.jsonl/.parquet file ('-' = stdin)",
    )
    source.add_argument("--dataset", choices=DATASETS, help="a bundled data set's texts")
    parser.add_argument("--data-dir", type=Path, help="SST folder (default: found or downloaded)")
    parser.add_argument("--text-column", help="column of the texts in a tabular file (text)")
    parser.add_argument("--label-column", help="column of the labels (names or indices)")
    parser.add_argument(
        "--model", type=Path, help="a saved model file (default: bundled SST model)"
    )
    parser.add_argument(
        "--methods",
        help="comma-separated methods (default: every method that applies to the model)",
    )
    parser.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="METHOD.NAME=VALUE",
        help="a method option, e.g. integrated_gradients.steps=16 (repeatable)",
    )
    parser.add_argument(
        "--target",
        default="predicted",
        help="'predicted' (default), 'label' (needs labels), a class index or name",
    )
    parser.add_argument(
        "--k-max", type=int, default=50, help="AOPC over k = 1..K%% of the tokens (default 50)"
    )
    parser.add_argument(
        "--removal",
        choices=["zero", "drop"],
        default="zero",
        help="remove a token by zeroing its embedding (default) or dropping it",
    )
    parser.add_argument(
        "--seeds", type=int, default=3, help="random-baseline seeds (default 3; 0 = none)"
    )
    parser.add_argument(
        "--randomization",
        action="store_true",
        help="also compare each method's explanations with those of a weight-randomised model",
    )
    parser.add_argument("--limit", type=int, help="evaluate only the first N texts")
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument(
        "--batch-size", type=int, default=128, help="texts per explanation chunk (default 128)"
    )
    parser.add_argument(
        "--chunk-copies",
        type=int,
        default=4096,
        help="perturbed copies per forward pass (default 4096)",
    )
    parser.add_argument("--out", type=Path, help="write report.md, faithfulness.json and plots")
    parser.add_argument("--json", type=Path, help="write the summary as JSON here")
    parser.add_argument(
        "--title", default="Faithfulness of explanation methods", help="report title"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import textlrp
    from textlrp.evaluation import evaluate_faithfulness
    from textlrp.evaluation.report import json_ready, render_terminal, write_report

    if args.limit is not None and args.limit < 1:
        raise InputError(f"--limit must be at least 1, got {args.limit}")
    texts, labels = read_inputs(args)
    if args.limit is not None:
        texts = texts[: args.limit]
        labels = None if labels is None else labels[: args.limit]
    methods = None
    if args.methods:
        methods = [m.strip() for m in args.methods.split(",") if m.strip()]
        if not methods:
            raise InputError("--methods is empty; give names such as lrp,gradient")
    model = textlrp.load_model(args.model)
    target: object = args.target
    if isinstance(target, str) and target.isdigit():
        target = int(target)
    result = evaluate_faithfulness(
        model,
        texts,
        methods,
        target=target,
        labels=labels,
        k_max=args.k_max,
        mode=args.removal,
        seeds=args.seeds,
        randomization=args.randomization,
        dtype=args.dtype,
        batch_size=args.batch_size,
        chunk_copies=args.chunk_copies,
        method_options=parse_options(args.option),
        progress=False if args.no_progress else None,
    )
    summary = result.summary
    summary["settings"]["model"] = str(args.model) if args.model else "bundled SST bi-LSTM"
    summary["settings"]["input"] = args.dataset or str(args.file)
    summary["settings"]["limit"] = args.limit
    print(render_terminal(summary))
    if args.out is not None:
        written = write_report(summary, args.out, args.title)
        print(f"wrote {written['markdown']}, {written['json']} and plots", file=sys.stderr)
    if args.json is not None:
        args.json.write_text(json.dumps(json_ready(summary), indent=1), encoding="utf-8")
        print(f"wrote {args.json}", file=sys.stderr)
    return 0


def read_inputs(args: argparse.Namespace) -> tuple[list, list | None]:
    """Texts (strings or token lists) and labels from ``--dataset`` or the input file."""
    if args.dataset is not None:
        if args.text_column or args.label_column:
            raise InputError("--text-column/--label-column apply to input files, not --dataset")
        from textlrp.data.sst import load_sst

        examples = load_sst(args.dataset.split("-", 1)[1], args.data_dir)
        return [list(e.tokens) for e in examples], [e.label for e in examples]
    if args.file is None:
        raise InputError("give an input file or --dataset sst-test")
    from textlrp.data.text_files import read_text_file

    return read_text_file(args.file, args.text_column, args.label_column)


def parse_options(items: list[str]) -> dict[str, dict[str, object]]:
    """``["integrated_gradients.steps=16"]`` -> ``{"integrated_gradients": {"steps": 16}}``."""
    options: dict[str, dict[str, object]] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        method, dot, name = key.partition(".")
        if not sep or not dot or not method or not name:
            raise InputError(f"--option {item!r}: write METHOD.NAME=VALUE, e.g. lrp.eps=0.01")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        options.setdefault(method.strip(), {})[name.strip()] = value
    return options
