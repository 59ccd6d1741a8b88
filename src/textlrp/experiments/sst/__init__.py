"""``textlrp reproduce sst``: the SST experiments of Arras et al. 2017 and 2019.

One compute module per experiment (``heatmaps``, ``top_words``, ``deletion``, ``position``,
``composition``, ``representations``, ``accuracy``: settings and ``compute(ctx) -> dict``) and
one report section per experiment in :mod:`.sections` (``render(result, ctx) -> blocks``);
:mod:`.report` runs them with a cache and writes ``report.md``/``report.html``. The command
line is ``textlrp.cli.reproduce_sst``.
"""
