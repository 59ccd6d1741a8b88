"""Example sentences of Arras et al. (2017, Fig. 1–2; 2019, Table 5), SST-tokenized."""

DEMO_SENTENCES = [
    "it never fails to engage us .",
    "do n't waste your money .",
    "neither funny nor suspenseful nor particularly well-drawn .",
    "it 's not horrible , just horribly mediocre .",
    "a worthy entry into a very difficult genre .",
    "it 's a good film -- not a classic , but odd , entertaining and authentic .",
    "there is not an ounce of honesty in the entire production .",
    "fails to engage us .",
]
