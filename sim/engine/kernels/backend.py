"""Which implementation of the validators' kernels a run uses.

The environment variable ``DIRISK_KERNELS`` chooses: ``auto`` (the default: the compiled
kernels of :mod:`sim.engine.kernels.compiled` when numba imports, else numpy's),
``numba`` (the compiled kernels, or an error) or ``numpy``. Both give the same numbers
bit for bit, so the choice changes only the speed.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from sim.engine.kernels import consensus, observation

__all__ = ["CHOICES", "KernelChoiceError", "Kernels", "kernels"]

#: Values of ``DIRISK_KERNELS``.
CHOICES = ("auto", "numba", "numpy")


class KernelChoiceError(ValueError):
    """``DIRISK_KERNELS`` names no implementation, or one that cannot be loaded."""


@dataclass(frozen=True)
class Kernels:
    """The kernels that have a compiled twin: the validators' observation
    (:func:`~sim.engine.kernels.observation.observe`) and the two passes of their
    consensus (:func:`~sim.engine.kernels.consensus.subnet_scale`,
    :func:`~sim.engine.kernels.consensus.clipped_weights`)."""

    name: str  #: "numba" or "numpy"
    observe: Callable[..., tuple[int, int, np.ndarray]]
    subnet_scale: Callable[..., np.ndarray]
    clipped_weights: Callable[..., np.ndarray]


def kernels(choice: str | None = None) -> Kernels:
    """The kernels ``choice`` (default: ``DIRISK_KERNELS``, else ``auto``) names; the
    compiled ones are compiled, or loaded from numba's cache, on first use."""
    choice = (choice or os.environ.get("DIRISK_KERNELS") or "auto").strip().lower()
    if choice not in CHOICES:
        expected = ", ".join(CHOICES)
        raise KernelChoiceError(f"DIRISK_KERNELS={choice!r}: expected one of {expected}")
    return _kernels(choice)


@functools.cache
def _kernels(choice: str) -> Kernels:
    if choice != "numpy":
        try:
            from sim.engine.kernels import compiled
        except ImportError as exc:
            if choice == "numba":
                message = f"DIRISK_KERNELS=numba, but numba cannot be imported: {exc}"
                raise KernelChoiceError(message) from exc
        else:
            chosen = Kernels(
                "numba", compiled.observe, compiled.subnet_scale, compiled.clipped_weights
            )
            _warm(chosen)
            return chosen
    return Kernels("numpy", observation.observe, consensus.subnet_scale, consensus.clipped_weights)


def _warm(chosen: Kernels) -> None:
    """Call each compiled kernel once on a tiny input: it compiles (or loads) now, not
    in a run's first day."""
    scores = np.ones((2, 2), dtype=np.float32)
    active = np.ones(2, dtype=bool)
    never = np.full(2, -1, dtype=np.int64)
    levels, seen = np.ones(1, np.float32), np.ones(2, np.float32)
    chosen.observe(scores, np.zeros(8, np.uint16), levels, seen, never, never, np.float32(1))
    scale = chosen.subnet_scale(scores, active, 1)
    chosen.clipped_weights(scores, active, scale, np.ones(2, dtype=np.int64), 0.5)
