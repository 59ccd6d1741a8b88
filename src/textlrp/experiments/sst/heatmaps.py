"""Stage ``heatmaps``: the papers' example sentences (2017 Fig. 1–2, 2019 Table 5).

The 21 sentences of 2017 Fig. 1–2 are explained with SA (``gradient``) and LRP for their true
class, looked up in the SST trees (sentences of test, dev, train, then any labelled phrase); a
sentence not found is explained for the predicted class and marked. The 2019 Table 5 sentences
are explained with LRP for the predicted class, as in that table.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from textlrp.api import explain_batch
from textlrp.batching import encode_batch
from textlrp.data.sst import load_sst, sst_phrases
from textlrp.experiments.sst.common import DTYPE, Context

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
