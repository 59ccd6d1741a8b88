"""Reproductions of the papers' experiments (``textlrp reproduce ...``)."""
