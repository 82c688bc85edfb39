"""Routing kernels: which node an attempt reaches, and whether the node has room.

Pure functions on arrays. Requests are grouped by *reach group*: jurisdictions that do
not geo-block share one group (every active node); each geo-blocking jurisdiction has
its own (its domestic nodes only). Within its group, an attempt reaches a node with
probability proportional to the node's routing weight.

Draws invert the cumulative distribution with a guide table (Chen & Asau, 1974): the
result equals ``searchsorted(cdf, u, side="right")`` exactly, at O(1) expected cost per
draw instead of O(log N).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

__all__ = ["GUIDE_RESOLUTION", "RoutingTable", "admit", "price_weight", "routing_weights"]

#: Upper bound on a uniform draw, so that ``group + u`` never rounds up to ``group + 1``.
_U_MAX = 1.0 - 1e-9

#: Below this many draws, :meth:`RoutingTable.route` searches the table directly (same
#: result): for a few hundred draws the guide's extra numpy calls cost more than the search.
_SEARCH_BELOW = 1024

#: Guide-table entries per node and group: at 4, about one draw in ten needs a step of
#: the walk after the guide lookup (one in three at 1).
GUIDE_RESOLUTION = 4


def price_weight(capacity: np.ndarray, price: np.ndarray, price_elasticity: float) -> np.ndarray:
    """(N,) the part of a node's routing weight fixed for its life: capacity x
    price^-elasticity.

    Args:
        capacity: (N,) requests per day.
        price: (N,) USD per request, > 0.
        price_elasticity: exponent of price (0: price does not matter).
    """
    return capacity * np.power(price, -price_elasticity)


def routing_weights(
    fixed: np.ndarray, active: np.ndarray, quality_factor: np.ndarray | float = 1.0
) -> np.ndarray:
    """(N,) float64 routing weight of each node: its :func:`price_weight` x the quality
    factor (``quality^quality_elasticity`` of its model), zero when inactive."""
    return np.where(active, fixed * quality_factor, 0.0)


@dataclass(frozen=True)
class RoutingTable:
    """One step's routing distributions, one per reach group.

    A reach group is a set of nodes some requests can reach (all active nodes, the
    domestic nodes of a geo-blocking jurisdiction, a neighbourhood on the node network,
    ...); the market protocol decides the groups (:mod:`sim.engine.kernels.reach`). ``table`` stacks
    each group's normalised cumulative weights shifted by the group index (so the whole
    array is non-decreasing); with ``R = GUIDE_RESOLUTION``, ``guide[g * R * N + k]`` is the
    first index of ``table`` above ``g + k / (R * N)``.
    """

    table: np.ndarray  #: (G*N,) shifted cumulative distributions
    guide: np.ndarray  #: (G*R*N,) guide table into ``table``
    node: np.ndarray  #: (G*N,) int32 node at each index of ``table`` (-1: group has none)
    has_node: np.ndarray  #: (G,) bool, group reaches at least one node
    reachable: np.ndarray  #: (G, N) bool, node has weight and is reachable from group

    @classmethod
    def build(cls, weights: np.ndarray, reachable: np.ndarray) -> RoutingTable:
        """Routing table for nodes with ``weights`` (N,) and reach groups ``reachable``
        (G, N)."""
        n_groups, n_nodes = reachable.shape
        cum = np.cumsum(np.where(reachable, weights, 0.0), axis=1)
        totals = cum[:, -1] if n_nodes else np.zeros(n_groups)
        has_node = totals > 0
        offsets = np.arange(n_groups, dtype=np.float64)[:, None]
        shifted = np.where(has_node[:, None], cum / np.where(has_node, totals, 1.0)[:, None], 1.0)
        table = (shifted + offsets).ravel()
        # guide[k] = #(table <= needle k): entry i counts from the first needle not below
        # it on (the same as searchsorted(table, needles, "right"), at O(1) per entry).
        needles = _needles(n_groups, GUIDE_RESOLUTION * n_nodes)
        first = _count_below(needles, table, GUIDE_RESOLUTION * n_nodes)
        # int32 (node indices fit): half the cache footprint of a randomly read table.
        guide = np.cumsum(np.bincount(first, minlength=needles.size + 1)[:-1], dtype=np.int32)
        node = np.where(has_node[:, None], np.arange(n_nodes, dtype=np.int32), -1).ravel()
        return cls(
            table=table,
            guide=guide,
            node=node,
            has_node=has_node,
            reachable=reachable & (weights > 0),
        )

    @property
    def n_nodes(self) -> int:
        """N."""
        return self.reachable.shape[1]

    def reaches(self, group: np.ndarray, node: np.ndarray) -> np.ndarray:
        """(m,) bool: ``node`` (-1: none) has weight and is reachable from ``group``."""
        ok = node >= 0
        out = np.zeros(node.size, dtype=bool)
        out[ok] = self.reachable[group[ok], node[ok]]
        return out

    def route(self, group: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """(m,) node reached by each attempt from its reach group (-1: none).

        Draws one uniform ``u`` per attempt; the node is the first whose cumulative weight
        in the attempt's group exceeds it, found from the guide entry below ``group + u``.
        """
        if self.n_nodes == 0:
            return np.full(group.size, -1, dtype=np.int32)
        x = rng.random(group.size)
        if self.has_node.size > 1:  # shift into the group's stretch of the table
            np.minimum(x, _U_MAX, out=x)
            x += group
        if x.size <= _SEARCH_BELOW:  # few draws: a binary search costs fewer calls
            return self.node[np.searchsorted(self.table, x, side="right")]
        flat = self.guide[(x * (GUIDE_RESOLUTION * self.n_nodes)).astype(np.int64)]
        behind = np.flatnonzero(self.table[flat] <= x)
        while behind.size:
            flat[behind] += 1
            behind = behind[self.table[flat[behind]] <= x[behind]]
        return self.node[flat]


@functools.lru_cache(maxsize=8)
def _needles(n_groups: int, cells: int) -> np.ndarray:
    """(G*cells,) the guide's needles ``g + k / cells``, ascending (read-only)."""
    out = np.arange(n_groups, dtype=np.float64)[:, None] + np.arange(cells) / max(cells, 1)
    out = out.ravel()
    out.flags.writeable = False
    return out


def _count_below(needles: np.ndarray, values: np.ndarray, cells: int) -> np.ndarray:
    """``searchsorted(needles, values, "left")`` for needles ``g + k / cells``: the
    estimate ``ceil(values * cells)`` (off by at most one through rounding), corrected
    against the needles themselves."""
    count = np.clip(np.ceil(values * cells).astype(np.int64), 0, needles.size)
    high = count > 0
    high[high] = needles[count[high] - 1] >= values[high]
    count -= high
    low = count < needles.size
    low[low] = needles[count[low]] < values[low]
    return count + low


def admit(node: np.ndarray, remaining: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Which attempts a node has room for; consumes capacity in ``remaining``.

    Where more attempts reach a node than it has capacity left, a uniformly random
    subset of exactly ``remaining[node]`` attempts is admitted.

    Args:
        node: (m,) node index of each attempt, all >= 0.
        remaining: (N,) int capacity left this step; updated in place.
        rng: the run's generator.

    Returns:
        (m,) bool, True where admitted.
    """
    load = np.bincount(node, minlength=remaining.size)
    over = load > remaining
    admitted = np.ones(node.size, dtype=bool)
    if over.any():
        crowded = np.flatnonzero(over[node])
        # Sort by node, in random order within a node: the key node + u, u in [0, 1).
        crowded = crowded[np.argsort(node[crowded] + rng.random(crowded.size))]
        # Each crowded node's run in that order admits its first remaining[node] attempts:
        # those before position (start of the run + remaining).
        load_over = load[over]
        limit = np.cumsum(load_over) - load_over + remaining[over]
        admitted[crowded] = np.arange(crowded.size) < np.repeat(limit, load_over)
    remaining -= np.minimum(load, remaining)
    return admitted
