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

from sim.engine.kernels.consensus import NUMPY_CONSENSUS, ConsensusKernels
from sim.engine.kernels.observation import observe as numpy_observe

__all__ = ["CHOICES", "ValidatorKernels", "validator_kernels"]

#: Values of ``DIRISK_KERNELS``.
CHOICES = ("auto", "numba", "numpy")


@dataclass(frozen=True)
class ValidatorKernels:
    """The validators' day: observation and the consensus passes."""

    name: str  #: "numba" or "numpy"
    observe: Callable[..., tuple[int, int, np.ndarray]]
    consensus: ConsensusKernels


def validator_kernels(choice: str | None = None) -> ValidatorKernels:
    """The kernels ``choice`` (default: ``DIRISK_KERNELS``, else ``auto``) names; the
    compiled ones are compiled, or loaded from numba's cache, on first use."""
    choice = (choice or os.environ.get("DIRISK_KERNELS") or "auto").strip().lower()
    if choice not in CHOICES:
        raise ValueError(f"DIRISK_KERNELS={choice!r}: expected one of {', '.join(CHOICES)}")
    return _kernels(choice)


@functools.cache
def _kernels(choice: str) -> ValidatorKernels:
    if choice != "numpy":
        try:
            from sim.engine.kernels import compiled
        except ImportError as exc:
            if choice == "numba":
                message = f"DIRISK_KERNELS=numba, but numba cannot be imported: {exc}"
                raise ImportError(message) from exc
        else:
            _warm(compiled.observe, compiled.COMPILED_CONSENSUS)
            return ValidatorKernels("numba", compiled.observe, compiled.COMPILED_CONSENSUS)
    return ValidatorKernels("numpy", numpy_observe, NUMPY_CONSENSUS)


def _warm(observe: Callable, consensus: ConsensusKernels) -> None:
    """Call each compiled kernel once on a tiny input: it compiles (or loads) now, not
    in a run's first day."""
    scores = np.ones((2, 2), dtype=np.float32)
    active = np.ones(2, dtype=bool)
    never = np.full(2, -1, dtype=np.int64)
    observe(
        scores,
        np.zeros(8, np.uint16),
        np.ones(1, np.float32),
        np.ones(2, np.float32),
        never,
        never,
        np.float32(1.0),
    )
    scale = consensus.subnet_scale(scores, active, 1)
    consensus.clipped_weights(scores, active, scale, np.ones(2, dtype=np.int64), 0.5)
