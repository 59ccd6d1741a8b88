"""Negations and amplifiers for the semantic-composition study (2019 Table 4).

The 2019 paper started from lists of 39 negations and 69 amplifiers. They are not printed
there, so these lists were assembled for this project from the usual sources of the sentiment
literature:

- Negations: the explicit negators studied in negation-scope work (not, n't, no, never,
  neither, nor, none, nobody, nothing, nowhere, without, cannot; cf. Councill, McDonald &
  Velikovich 2010, "What's great and what's not"; Potts 2011, "On the negativity of
  negation"), the "approximate negators" hardly/barely/scarcely/rarely/seldom, and verbs and
  adjectives of absence or failure (lack, fail, absent, refuse, deny, ...) that sentiment
  lexicons such as SO-CAL (Taboada et al. 2011) treat as negation cues.
- Amplifiers: the maximizers and boosters of Quirk et al. 1985 (A Comprehensive Grammar of the
  English Language: absolutely, completely, totally, utterly, extremely, highly, deeply,
  greatly, so, very, much, ...), completed with the frequent intensifiers of the
  intensifier dictionaries of SO-CAL and VADER (Hutto & Gilbert 2014): really, incredibly,
  remarkably, truly, especially, particularly, ...

The selection and spelling are ours. Every entry is a single SST token, lower-cased, because
SST splits contractions ("does n't") and the composition study builds n-grams from single
tokens. Words with a sentiment of their own ("terribly", "awfully", "positively") are kept on
purpose: the study only uses the entries the model itself classifies as neutral.
"""

from __future__ import annotations

NEGATIONS: tuple[str, ...] = (
    "not",
    "n't",
    "no",
    "never",
    "neither",
    "nor",
    "none",
    "nobody",
    "nothing",
    "nowhere",
    "noone",
    "without",
    "cannot",
    "hardly",
    "barely",
    "scarcely",
    "rarely",
    "seldom",
    "lack",
    "lacks",
    "lacking",
    "lacked",
    "fail",
    "fails",
    "failed",
    "failing",
    "absent",
    "absence",
    "refuse",
    "refuses",
    "refused",
    "deny",
    "denies",
    "denied",
    "unable",
    "nope",
    "nay",
    "neglect",
    "neglected",
)

AMPLIFIERS: tuple[str, ...] = (
    "very",
    "really",
    "so",
    "too",
    "extremely",
    "absolutely",
    "completely",
    "totally",
    "utterly",
    "entirely",
    "thoroughly",
    "fully",
    "perfectly",
    "quite",
    "highly",
    "deeply",
    "greatly",
    "hugely",
    "enormously",
    "tremendously",
    "immensely",
    "incredibly",
    "remarkably",
    "exceptionally",
    "extraordinarily",
    "unbelievably",
    "amazingly",
    "astonishingly",
    "particularly",
    "especially",
    "truly",
    "genuinely",
    "decidedly",
    "distinctly",
    "considerably",
    "substantially",
    "significantly",
    "seriously",
    "strongly",
    "intensely",
    "terribly",
    "awfully",
    "dreadfully",
    "insanely",
    "wildly",
    "exceedingly",
    "supremely",
    "profoundly",
    "downright",
    "outright",
    "most",
    "more",
    "much",
    "far",
    "way",
    "super",
    "ultra",
    "mighty",
    "real",
    "pretty",
    "wholly",
    "altogether",
    "purely",
    "sheer",
    "unusually",
    "uncommonly",
    "excessively",
    "overly",
    "positively",
)

assert len(NEGATIONS) == 39 and len(set(NEGATIONS)) == 39
assert len(AMPLIFIERS) == 69 and len(set(AMPLIFIERS)) == 69
