"""``textlrp reproduce sst``: the SST experiments of Arras et al. 2017 and 2019.

One module per experiment (``heatmaps``, ``top_words``, ``deletion``, ``position``,
``composition``, ``representations``, ``accuracy``); :mod:`.report` runs them with a cache and
writes ``report.md``/``report.html``; :mod:`.cli` holds the command-line arguments.
"""
