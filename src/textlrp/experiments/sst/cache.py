"""Moved to :mod:`textlrp.experiments.cache` (shared by every reproduction); re-exported here
so that existing imports keep working."""

from textlrp.experiments.cache import CACHE_VERSION, StageCache, file_digest, text_digest

__all__ = ["CACHE_VERSION", "StageCache", "file_digest", "text_digest"]
