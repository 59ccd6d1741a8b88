"""``textlrp evaluate``: faithfulness of explanation methods on a model and texts.

Prints one row per method (terminal table); ``--out DIR`` also writes ``report.md``,
``faithfulness.json`` and one PNG per metric there. Definitions: docs/evaluation.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from textlrp.cli.common import add_corpus_input_arguments, corpus_input
from textlrp.errors import DataError, InputError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="measure how faithful explanation methods are to the model",
        description="Faithfulness of explanation methods on a model and texts: ERASER "
        "comprehensiveness/sufficiency (AOPC), deletion/insertion AUC, rank correlation with "
        "leave-one-out occlusion, a random baseline, and optionally the model-randomisation "
        "check. One row per method. Reads the same files and data sets as explain-corpus; "
        "rows that cannot be evaluated are skipped and listed, with explain-corpus's reasons.",
    )
    add_corpus_input_arguments(parser)
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
    parser.add_argument("--limit", type=int, help="evaluate only the first N rows of the input")
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
    model = textlrp.load_model(args.model)
    docs, labels, skipped, source = read_inputs(args, model)
    methods = None
    if args.methods:
        methods = [m.strip() for m in args.methods.split(",") if m.strip()]
        if not methods:
            raise InputError("--methods is empty; give names such as lrp,gradient")
    target: object = args.target
    if isinstance(target, str) and target.isdigit():
        target = int(target)
    result = evaluate_faithfulness(
        model,
        [doc.tokens for doc in docs],
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
    summary["settings"]["input"] = source
    summary["settings"]["limit"] = args.limit
    # The library numbers its skips by position among the texts it got: name the rows instead.
    summary["settings"]["skipped_texts"] = sorted(
        skipped + [_as_bad_row(s, docs) for s in summary["settings"]["skipped_texts"]],
        key=lambda bad: bad["row"],
    )
    report_skipped(summary["settings"]["skipped_texts"])
    print(render_terminal(summary))
    if args.out is not None:
        written = write_report(summary, args.out, args.title)
        print(f"wrote {written['markdown']}, {written['json']} and plots", file=sys.stderr)
    if args.json is not None:
        args.json.write_text(json.dumps(json_ready(summary), indent=1), encoding="utf-8")
        print(f"wrote {args.json}", file=sys.stderr)
    return 0


def read_inputs(args: argparse.Namespace, model) -> tuple[list, list | None, list[dict], str]:
    """The documents to evaluate, their labels, the bad rows (skipped) and the input's name.

    Read through :mod:`textlrp.corpus.readers` and checked by :mod:`textlrp.corpus.validate`,
    exactly as ``explain-corpus`` reads and checks its input.
    """
    from textlrp.corpus.readers import open_corpus
    from textlrp.corpus.validate import RowChecker, bad_row, read_documents

    spec = corpus_input(args)
    corpus = open_corpus(
        spec,
        args.text_column,
        args.id_column,
        args.label_column,
        args.input_format,
        args.data_dir,
    )
    corpus.match_classes(list(model.class_names))
    wants_label = args.target == "label"
    if wants_label and not corpus.has_labels:
        raise InputError("target 'label' needs labels: pass --label-column NAME")
    checker = RowChecker(model, args.tokenizer or corpus.tokenizer or "sst", args.max_tokens)
    docs, bad, rows = read_documents(corpus, checker, args.limit)
    if wants_label:
        bad += [
            bad_row(d.id, d.row, "no-label", "target 'label' needs a label; this row has none")
            for d in docs
            if d.label is None
        ]
        bad.sort(key=lambda b: b["row"])
        docs = [d for d in docs if d.label is not None]
    if not docs:
        if all(b["reason"] == "empty" for b in bad):
            raise DataError(f"{corpus.name} holds no text; give one text per line or per row")
        raise DataError(
            f"none of the {rows} rows of {corpus.name} can be evaluated ("
            + ", ".join(f"{k}: {v}" for k, v in sorted(_reasons(bad).items()))
            + "); check the input and the model"
        )
    labels = [d.label for d in docs] if corpus.has_labels else None
    return docs, labels, bad, spec


def _reasons(bad: list[dict]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for entry in bad:
        counts[entry["reason"]] = counts.get(entry["reason"], 0) + 1
    return counts


def _as_bad_row(skip: dict, docs: list) -> dict:
    """A text the library skipped, as a bad row (the row checks make this rare)."""
    from textlrp.corpus.validate import bad_row

    doc = docs[skip["index"]]
    reason = "empty" if skip["reason"] == "empty" else "no-known-word"
    return bad_row(doc.id, doc.row, reason, skip["reason"])


def report_skipped(bad: list[dict], shown: int = 10) -> None:
    """The skipped rows on stderr: counts by reason and the first few rows."""
    if not bad:
        return
    counts = ", ".join(f"{k}: {v}" for k, v in sorted(_reasons(bad).items()))
    print(f"textlrp: skipped {len(bad)} rows ({counts}):", file=sys.stderr)
    for entry in bad[:shown]:
        print(
            f"  row {entry['row']} (id {entry['id']}): {entry['reason']}: {entry['detail']}",
            file=sys.stderr,
        )
    if len(bad) > shown:
        print(f"  ... {len(bad) - shown} more in the JSON summary (--json/--out)", file=sys.stderr)


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
