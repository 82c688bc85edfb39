"""Seeds of replications, derived from one root seed."""

from __future__ import annotations

import numpy as np

__all__ = ["replication_seeds"]


def replication_seeds(root: int, n: int) -> list[int]:
    """``n`` independent seeds derived from ``root`` (numpy SeedSequence spawning)."""
    return [int(child.generate_state(1)[0]) for child in np.random.SeedSequence(root).spawn(n)]
