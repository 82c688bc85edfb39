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

from dataclasses import dataclass

import numpy as np

__all__ = [
    "CUT_MARGIN",
    "GUIDE_RESOLUTION",
    "RoutingTable",
    "SORT_ALL_BELOW",
    "admit",
    "price_weight",
    "routing_weights",
]

#: Upper bound on a uniform draw, so that ``group + u`` never rounds up to ``group + 1``.
_U_MAX = 1.0 - 1e-9

#: Below this many draws, :meth:`RoutingTable.route` searches the table directly (same
#: result): for a few hundred draws the guide's extra numpy calls cost more than the search.
_SEARCH_BELOW = 1024

#: With at least this many nodes and fewer than one attempt per this many nodes,
#: :func:`admit` counts the load of the nodes the attempts reach only (a sort of the
#: attempts) rather than of every node (a pass over all nodes).
_MANY_NODES, _FEW_ATTEMPTS = 1 << 14, 64

#: Where few of a crowded node's attempts can be admitted, only those whose uniform is
#: below ``(room + 3 sqrt(room) + CUT_MARGIN) / load`` are put in order: a node has fewer
#: of them than its room with probability below 1e-3 (then all of its attempts are).
CUT_MARGIN = 8

#: Below this many crowded attempts, :func:`admit` sorts them all: choosing the ones
#: that can get in costs more numpy calls than the sort saves.
SORT_ALL_BELOW = 2048

#: Guide-table cells per entry of a group: at 4, about one draw in ten needs a step of
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
    ...); the market protocol decides the groups (:mod:`sim.engine.kernels.reach`). Only
    the nodes a group can draw (reachable, with weight) have an entry: ``table`` holds
    each group's run of normalised cumulative weights shifted by the group index, so the
    whole array is non-decreasing and group g's run lies in ``[g, g + 1]``; a group that
    reaches no node has one entry, ``g + 1``, of node -1. Its values are those of the
    cumulative weights over all N nodes at the entries with weight (adding a zero weight
    changes no sum), so a draw reaches the node ``searchsorted`` on the full cumulative
    distribution would give.

    The guide table (Chen & Asau, 1974) gives group g ``cells[g] = R * (entries of g)``
    cells (``R = GUIDE_RESOLUTION``) and one more, from ``base[g]`` on: cell
    ``base[g] + k`` holds the index of the first entry of g whose value ``g + r`` has
    ``floor(r * cells[g]) >= k``, a lower bound of the answer for every draw ``g + u``
    with ``floor(u * cells[g]) = k``.
    """

    table: np.ndarray  #: (E,) shifted cumulative distributions of the groups' entries
    guide: np.ndarray  #: (sum of cells + 1 per group,) int32 guide table into ``table``
    node: np.ndarray  #: (E,) int32 node of each entry (-1: the group reaches none)
    base: np.ndarray  #: (G,) first guide cell of each group
    cells: np.ndarray  #: (G,) float64 guide cells of each group (R x its entries)
    has_node: np.ndarray  #: (G,) bool, group reaches at least one node
    reachable: np.ndarray  #: (G, N) bool, node has weight and is reachable from group

    @classmethod
    def build(cls, weights: np.ndarray, reachable: np.ndarray) -> RoutingTable:
        """Routing table for nodes with ``weights`` (N,) and reach groups ``reachable``
        (G, N)."""
        n_groups = reachable.shape[0]
        drawable = reachable & (weights > 0)
        tables, nodes, guides = [], [], []
        entries = np.ones(n_groups, dtype=np.int64)  # an empty group keeps one entry
        start = 0
        for g in range(n_groups):
            node = np.flatnonzero(drawable[g]).astype(np.int32)
            if node.size:  # the running sum of the row, as over all N nodes
                cum = np.cumsum(weights[node])
                value = np.add(cum / cum[-1], g)
            else:
                node, value = np.full(1, -1, dtype=np.int32), np.full(1, g + 1.0)
            entries[g] = value.size
            # Each entry's guide cell (its value less g is exact: g <= value <= g + 1).
            cells = GUIDE_RESOLUTION * value.size
            cell = ((value - g) * cells).astype(np.int64)
            guide = np.empty(cells + 1, dtype=np.int32)  # half the cache footprint of int64
            guide[0] = start
            np.cumsum(np.bincount(cell, minlength=cells + 1)[:-1], out=guide[1:])
            guide[1:] += start
            tables.append(value)
            nodes.append(node)
            guides.append(guide)
            start += value.size
        table = np.concatenate(tables) if tables else np.zeros(0)
        entry_node = np.concatenate(nodes) if nodes else np.zeros(0, dtype=np.int32)
        guide = np.concatenate(guides) if guides else np.zeros(0, dtype=np.int32)
        has_node = drawable.any(axis=1)
        cells = (GUIDE_RESOLUTION * entries).astype(np.float64)
        base = np.zeros(n_groups, dtype=np.int64)
        np.cumsum(GUIDE_RESOLUTION * entries[:-1] + 1, out=base[1:])
        return cls(
            table=table,
            guide=guide,
            node=entry_node,
            base=base,
            cells=cells,
            has_node=has_node,
            reachable=drawable,
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
        in the attempt's group exceeds it, found from the guide entry of ``u``.
        """
        if self.n_nodes == 0:
            return np.full(group.size, -1, dtype=np.int32)
        u = rng.random(group.size)
        if self.has_node.size > 1:
            np.minimum(u, _U_MAX, out=u)
        if u.size <= _SEARCH_BELOW:  # few draws: a binary search costs fewer calls
            x = u + group if self.has_node.size > 1 else u
            return self.node[np.searchsorted(self.table, x, side="right")]
        if self.has_node.size > 1:
            k = (u * self.cells[group]).astype(np.int64)
            k += self.base[group]
            u += group  # shift into the group's run of the table
        else:
            k = (u * self.cells[0]).astype(np.int64)
        flat = self.guide[k]
        behind = (self.table[flat] <= u).nonzero()[0]
        while behind.size:
            flat[behind] += 1
            behind = behind[self.table[flat[behind]] <= u[behind]]
        return self.node[flat]


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
    admitted = np.ones(node.size, dtype=bool)
    few = remaining.size >= _MANY_NODES and node.size * _FEW_ATTEMPTS < remaining.size
    if few:  # few attempts among many nodes: count only the nodes they reach
        touched, slot, load = np.unique(node, return_inverse=True, return_counts=True)
        left = remaining[touched]  # a copy: the capacity before this round
        remaining[touched] = left - np.minimum(load, left)
    else:  # a pass over every node
        slot, load, left = node, np.bincount(node, minlength=remaining.size), remaining
    over = load > left
    if over.any():
        _admit_at_random(admitted, node, slot, load, left, over, rng)
    if not few:
        remaining -= np.minimum(load, remaining)
    return admitted


def _admit_at_random(
    admitted: np.ndarray,
    node: np.ndarray,
    slot: np.ndarray,
    load: np.ndarray,
    left: np.ndarray,
    over: np.ndarray,
    rng: np.random.Generator,
) -> None:
    """Turn away the attempts at crowded nodes but a uniformly random ``left`` of each.

    ``slot`` (m,) is each attempt's entry in the per-node arrays: ``load`` attempts,
    capacity ``left`` and ``over`` (load > left). Every attempt at a crowded node draws
    one uniform u; the node's attempts in order of u, its first ``left`` are admitted.
    Of many crowded attempts, only those that can be admitted are sorted: none at a full
    node, and where room is a small share of the crowd, those with u below a cut a
    margin above ``left / load`` (a node with fewer of them than its room keeps every
    attempt).
    """
    crowded = over[slot].nonzero()[0]
    u = rng.random(crowded.size)
    count, room = load[over], left[over]  # attempts to sort and room, by crowded node
    if crowded.size >= SORT_ALL_BELOW and (
        (scarce := room.sum() * 2 < crowded.size) or not room.all()
    ):
        admitted[crowded] = False
        open_ = room > 0
        wanted = np.minimum(room + 3 * np.sqrt(room) + CUT_MARGIN, count) if scarce else count
        cut = np.zeros(load.size)
        cut[over] = np.where(open_, wanted / count, 0.0)
        at = slot[crowded]
        mine = u < cut[at]
        if scarce:
            count = np.bincount(at[mine], minlength=load.size)[over]
            if (short := count < room).any():  # too few below the cut: every attempt
                cut[over.nonzero()[0][short]] = 1.0
                mine = u < cut[at]
                count = np.bincount(at[mine], minlength=load.size)[over]
        crowded, u, count, room = crowded[mine], u[mine], count[open_], room[open_]
    # Sort by node, in random order within a node: the key node + u, u in [0, 1).
    crowded = crowded[np.argsort(node[crowded] + u)]
    # Each node's run in that order admits its first ``room`` attempts: those before
    # position (start of the run + room).
    limit = np.cumsum(count) - count + room
    admitted[crowded] = np.arange(crowded.size) < np.repeat(limit, count)
