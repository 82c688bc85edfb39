"""Shared helpers with no knowledge of the model: atomic file writing, statistics
(every interval and test dirisk reports) and units.

May import: the standard library, numpy, pandas and scipy; nothing of ``sim``.
"""

__all__: list[str] = []
