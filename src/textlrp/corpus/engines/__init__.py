"""Engines that drive :class:`~textlrp.corpus.pipeline.ChunkExplainer` over a corpus.

``local`` runs the chunks in this process; ``ray`` runs the same function in Ray actors.
Both hand every chunk's result to the same :class:`~textlrp.corpus.writer.PartStore`.
"""

ENGINES = ("local", "ray")
