"""Stage ``heatmaps``: the papers' example sentences (2017 Fig. 1–2, 2019 Table 5).

The 21 sentences of 2017 Fig. 1–2 are explained with SA (``gradient``) and LRP for their true
class, looked up in the SST trees (sentences of test, dev, train, then any labelled phrase); a
sentence not found is explained for the predicted class and marked. The 2019 Table 5 sentences
are explained with LRP for the predicted class, as in that table.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np

from textlrp.api import encode_batch, explain_batch
from textlrp.data.sst import load_sst, sst_phrases
from textlrp.experiments.document import Block, Heading, Heatmaps, HeatRow, Para, Table
from textlrp.experiments.sst.common import DTYPE, Context, make_explanation

NAME = "heatmaps"
TITLE = "Heatmaps of the papers' example sentences (2017 Fig. 1–2, 2019 Table 5)"

FIG_SENTENCES = [
    "do n't waste your money .",
    "neither funny nor suspenseful nor particularly well-drawn .",
    "it 's not horrible , just horribly mediocre .",
    "... too slow , too boring , and occasionally annoying .",
    "it 's neither as romantic nor as thrilling as it should be .",
    "the master of disaster - it 's a piece of dreck disguised as comedy .",
    "so stupid , so ill-conceived , so badly drawn , it created whole new levels of ugly .",
    "a film so tedious that it is impossible to care whether that boast is true or not .",
    "choppy editing and too many repetitive scenes spoil what could have been an important "
    "documentary about stand-up comedy .",
    "this idea has lost its originality ... and neither star appears very excited at "
    "rehashing what was basically a one-joke picture .",
    "ecks this one off your must-see list .",
    "this is n't a `` friday '' worth waiting for .",
    "there is not an ounce of honesty in the entire production .",
    "do n't expect any surprises in this checklist of teamwork cliches ...",
    "he has not learnt that storytelling is what the movies are about .",
    "but here 's the real damn : it is n't funny , either .",
    "these are names to remember , in order to avoid them in the future .",
    "the cartoon that is n't really good enough to be on afternoon tv is now a movie that "
    "is n't really good enough to be in theaters .",
    "a worthy entry into a very difficult genre .",
    "it 's a good film -- not a classic , but odd , entertaining and authentic .",
    "it never fails to engage us .",
]
TABLE5_SENTENCES = [
    "it never fails to engage us .",
    "engages us .",
    "never engages us .",
    "fails to engage us .",
    "ecks this one off your must-see list .",
    "a must-see film .",
    "neither a must-see film .",
    "never a must-see film .",
]


def settings(ctx: Context) -> dict[str, Any]:
    """The settings this stage's cached result depends on."""
    return {"fig": FIG_SENTENCES, "table5": TABLE5_SENTENCES}


@cache
def _sentence_index(data_dir: str) -> dict[str, tuple[int, str]]:
    index: dict[str, tuple[int, str]] = {}
    for split in ("test", "dev", "train"):
        for example in load_sst(split, data_dir, download=False):
            index.setdefault(example.text, (example.label, f"{split} sentence"))
    return index


@cache
def _phrase_index(data_dir: str) -> dict[str, tuple[int, str]]:
    index: dict[str, tuple[int, str]] = {}
    for split in ("test", "dev", "train"):
        for phrase in sst_phrases(split, data_dir, download=False):
            index.setdefault(" ".join(phrase.tokens), (phrase.label, f"{split} phrase"))
    return index


def gold_label(text: str, data_dir: str) -> tuple[int | None, str]:
    """The SST label of ``text`` (a sentence first, else any labelled phrase) and its source."""
    found = _sentence_index(data_dir).get(text)
    if found is None:
        found = _phrase_index(data_dir).get(text)
    return found if found is not None else (None, "not found in SST")


def _explain(ctx: Context, texts: list[str], method: str, targets: list[Any]) -> list[dict]:
    model = ctx.model
    batch = encode_batch(model, [t.split(" ") for t in texts])
    explanations = explain_batch(
        model, batch, method, targets, dtype=DTYPE, batch_size=ctx.settings.batch_size
    )
    return [
        {
            "relevance": [float(r) for r in e.relevance],
            "probabilities": [float(p) for p in e.probabilities],
            "target": e.target,
            "predicted": e.predicted,
            "unknown": list(e.unknown),
        }
        for e in explanations
    ]


def _usable(ctx: Context, texts: list[str]) -> tuple[list[str], list[str]]:
    """Texts with at least one known word, and those without (skipped)."""
    vocab = ctx.model.vocab
    ok = [t for t in texts if any(vocab.is_known(w) for w in t.split(" "))]
    return ok, [t for t in texts if t not in ok]


def compute(ctx: Context) -> dict[str, Any]:
    """Compute the stage's numbers (a JSON-ready dict, cached by the runner)."""
    bar = ctx.bar(3, NAME)
    data_dir = str(ctx.data_dir)
    fig_texts, fig_skipped = _usable(ctx, FIG_SENTENCES)
    golds = [gold_label(t, data_dir) for t in fig_texts]
    targets: list[Any] = [g if g is not None else "predicted" for g, _ in golds]
    per_method = {}
    for method in ("gradient", "lrp"):
        per_method[method] = _explain(ctx, fig_texts, method, targets) if fig_texts else []
        bar.update()
    fig = [
        {"text": t, "gold": g, "source": s, "sa": sa, "lrp": lrp}
        for t, (g, s), sa, lrp in zip(
            fig_texts, golds, per_method["gradient"], per_method["lrp"], strict=True
        )
    ]
    t5_texts, t5_skipped = _usable(ctx, TABLE5_SENTENCES)
    t5_lrp = _explain(ctx, t5_texts, "lrp", ["predicted"] * len(t5_texts)) if t5_texts else []
    table5 = [
        {
            "text": t,
            "gold": gold_label(t, data_dir)[0],
            "source": gold_label(t, data_dir)[1],
            "lrp": e,
        }
        for t, e in zip(t5_texts, t5_lrp, strict=True)
    ]
    bar.update()
    bar.close()
    return {"fig": fig, "table5": table5, "skipped": fig_skipped + t5_skipped}


def _quoted(texts: list[str]) -> str:
    return "; ".join(f"“{t}”" for t in texts)


def _top_word(tokens: list[str], relevance: list[float]) -> str:
    i = int(np.argmax(relevance))
    return f"{tokens[i]} ({relevance[i]:+.2f})"


def section(result: dict[str, Any], ctx: Context) -> list[Block]:
    """The report blocks for ``result``; draws the stage's figures into ``ctx.out``."""
    from textlrp.viz.png import render_png

    names = ctx.class_names
    blocks: list[Block] = []
    fig = result["fig"]
    not_found = [f["text"] for f in fig if f["gold"] is None]
    rows = []
    for i, item in enumerate(fig, start=1):
        tokens = item["text"].split(" ")
        gold = names[item["gold"]] if item["gold"] is not None else "–"
        lrp = item["lrp"]
        rows.append(
            [
                str(i),
                item["text"],
                f"{gold} ({item['source']})",
                f"{names[lrp['predicted']]} ({lrp['probabilities'][lrp['predicted']]:.2f})",
                _top_word(tokens, item["lrp"]["relevance"]),
                _top_word(tokens, item["sa"]["relevance"]),
            ]
        )
    correct = sum(1 for f in fig if f["gold"] is not None and f["lrp"]["predicted"] == f["gold"])
    found = len(fig) - len(not_found)
    blocks.append(
        Para(
            "**Paper.** 2017 Fig. 1–2 show these sentences with SA and LRP heatmaps for the true "
            "class. LRP is signed: red words speak for the target class, blue words against it. "
            "SA is a squared gradient, so it is never negative and shows only how sensitive the "
            "score is to a word, not in which direction the word pushes it."
        )
    )
    blocks.append(
        Para(
            f"**Ours.** {found} of the {len(fig)} sentences were found in the SST trees "
            f"(labels from there); our model predicts the true class for {correct} of them. "
            + (
                f"Not found (explained for the predicted class): {_quoted(not_found)}. "
                if not_found
                else "Every sentence was found. "
            )
            + (
                f"Skipped (no word in the model's vocabulary): {_quoted(result['skipped'])}."
                if result["skipped"]
                else ""
            )
        )
    )
    blocks.append(
        Table(
            [
                "#",
                "sentence",
                "true class (source)",
                "predicted (P)",
                "top word LRP",
                "top word SA",
            ],
            rows,
        )
    )
    for key, label in (("lrp", "LRP"), ("sa", "SA")):
        explanations, heat_rows = [], []
        for i, item in enumerate(fig, start=1):
            e = item[key]
            tokens = item["text"].split(" ")
            title = f"#{i} {label}"
            explanations.append(
                make_explanation(
                    tokens,
                    e["relevance"],
                    e["probabilities"],
                    e["target"],
                    e["predicted"],
                    names,
                    title,
                    e.get("unknown"),
                )
            )
            heat_rows.append(
                HeatRow(
                    f"#{i} {label} — target (true): {names[e['target']]}, predicted: "
                    f"{names[e['predicted']]}",
                    tokens,
                    e["relevance"],
                )
            )
        png = f"heatmaps_2017_{key}.png"
        if explanations:
            render_png(explanations, ctx.out / png, dpi=ctx.settings.dpi, width=11, fontsize=10)
        blocks.append(Heading(f"2017 Fig. 1–2 with {label}", 3))
        blocks.append(Heatmaps(heat_rows, png if explanations else None, f"{label} heatmaps"))

    blocks.append(Heading("2019 Table 5: LRP for the predicted class", 3))
    blocks.append(
        Para(
            "**Paper.** The 2019 paper explains these sentences (the first and fifth from the test "
            "set, the others built from them) for the *predicted* class with LRP, to see which "
            "words a (mis)classification rests on. **Ours** below; the classes are our model's."
        )
    )
    t5 = result["table5"]
    explanations, heat_rows, rows = [], [], []
    for item in t5:
        e = item["lrp"]
        tokens = item["text"].split(" ")
        gold = names[item["gold"]] if item["gold"] is not None else "–"
        explanations.append(
            make_explanation(
                tokens,
                e["relevance"],
                e["probabilities"],
                e["target"],
                e["predicted"],
                names,
                "LRP",
                e.get("unknown"),
            )
        )
        heat_rows.append(HeatRow(f"predicted: {names[e['predicted']]}", tokens, e["relevance"]))
        rows.append(
            [
                item["text"],
                f"{gold} ({item['source']})",
                f"{names[e['predicted']]} ({e['probabilities'][e['predicted']]:.2f})",
                _top_word(tokens, e["relevance"]),
            ]
        )
    blocks.append(Table(["sentence", "SST label (source)", "predicted (P)", "top word LRP"], rows))
    if explanations:
        render_png(
            explanations,
            ctx.out / "heatmaps_2019_table5.png",
            dpi=ctx.settings.dpi,
            width=9,
            fontsize=10,
        )
    blocks.append(
        Heatmaps(
            heat_rows, "heatmaps_2019_table5.png" if explanations else None, "2019 Table 5 heatmaps"
        )
    )
    return blocks
