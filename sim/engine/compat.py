"""Compatibility with the Mesa versions dirisk supports (``mesa>=3.3,<4``)."""

from __future__ import annotations

import itertools
import weakref
from collections import defaultdict

import mesa

__all__ = ["release_models_after_use"]


class _IdCounters(weakref.WeakKeyDictionary):
    """Per-model ``unique_id`` counters that do not keep their models alive."""

    def __getitem__(self, model: mesa.Model) -> itertools.count:
        try:
            return super().__getitem__(model)
        except KeyError:
            counter = itertools.count(1)
            self[model] = counter
            return counter


def release_models_after_use() -> None:
    """Let finished models be garbage-collected on Mesa < 3.4.2.

    There ``mesa.Agent._ids`` is a class-level ``defaultdict`` keyed by model, so every
    model ever built stays in memory (mesa#3179, about 1.6 MB per classroom run; fixed
    upstream in 3.4.2, which needs Python 3.12). The counters become weakly keyed; ids
    are numbered exactly as before.
    """
    if isinstance(getattr(mesa.Agent, "_ids", None), defaultdict):
        mesa.Agent._ids = _IdCounters()
