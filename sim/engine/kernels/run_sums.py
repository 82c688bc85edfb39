"""Sums over consecutive runs of an array: a block's requesters, the nodes of one cell,
a node's neighbours.

``np.add.reduceat`` sums runs in one call, but it cannot express an empty run (it gives
the element at the run's start, or fails past the end). :class:`Runs` sums the non-empty
runs only and gives 0 for the others.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["Runs"]


@dataclass(frozen=True)
class Runs:
    """Runs that cover an axis in order: run k holds the next ``sizes[k]`` elements (0 or
    more)."""

    occupied: np.ndarray  #: (K,) bool, the run holds at least one element
    starts: np.ndarray  #: where each occupied run starts
    full: bool  #: every run is occupied

    @classmethod
    def of(cls, sizes: npt.ArrayLike) -> Runs:
        """The runs of the given sizes (K,)."""
        sizes = np.asarray(sizes, dtype=np.int64)
        occupied = sizes > 0
        starts = np.cumsum(sizes) - sizes
        return cls(occupied=occupied, starts=starts[occupied], full=bool(occupied.all()))

    def sums(self, values: np.ndarray, dtype: npt.DTypeLike = None) -> np.ndarray:
        """(..., K) sums of ``values`` (..., sum of sizes) along its last axis over each
        run, 0 for an empty run, in ``dtype`` (default: the values' type: a narrow type is
        not widened, which would cost a cast)."""
        dtype = values.dtype if dtype is None else dtype
        if self.full:
            return np.add.reduceat(values, self.starts, axis=-1, dtype=dtype)
        out = np.zeros((*values.shape[:-1], self.occupied.size), dtype=dtype)
        if self.starts.size:
            out[..., self.occupied] = np.add.reduceat(values, self.starts, axis=-1, dtype=dtype)
        return out
