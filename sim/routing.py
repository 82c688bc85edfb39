"""Routing kernels: which node an attempt reaches, and whether the node has room.

Pure functions on arrays. Requests are grouped by *reach group* (in the open market,
the jurisdiction the requester appears to be in); each group sees a subset of nodes,
and within it a request reaches a node with probability proportional to that node's
routing weight.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Upper bound on a uniform draw, so that ``group + u`` never rounds up to ``group + 1``.
_U_MAX = 1.0 - 1e-9


def routing_weights(capacity: np.ndarray, price: np.ndarray, active: np.ndarray, *,
                    price_elasticity: float) -> np.ndarray:
    """Routing weight of each node: capacity x price^-elasticity, zero when inactive.

    Args:
        capacity: (N,) requests per day.
        price: (N,) USD per request, > 0.
        active: (N,) bool.
        price_elasticity: exponent of price (0: price does not matter).

    Returns:
        (N,) float64 weights >= 0.
    """
    weights = capacity * np.power(price, -price_elasticity)
    return np.where(active, weights, 0.0)


def routing_table(weights: np.ndarray, reachable: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Stacked cumulative distributions, one per reach group, for :func:`route`.

    Args:
        weights: (N,) routing weights.
        reachable: (G, N) bool, node reachable from group.

    Returns:
        ``(table, has_node)``: ``table`` is (G*N,) with row g's normalised cumulative
        weights shifted by g (so the whole array is non-decreasing and one
        ``searchsorted`` serves every group); ``has_node`` is (G,) bool.
    """
    n_groups, n_nodes = reachable.shape
    cum = np.cumsum(np.where(reachable, weights, 0.0), axis=1)
    totals = cum[:, -1] if n_nodes else np.zeros(n_groups)
    has_node = totals > 0
    safe = np.where(has_node, totals, 1.0)
    offsets = np.arange(n_groups, dtype=np.float64)[:, None]
    table = np.where(has_node[:, None], cum / safe[:, None], 1.0) + offsets
    return table.ravel(), has_node


def route(group: np.ndarray, table: np.ndarray, has_node: np.ndarray, n_nodes: int,
          rng: np.random.Generator) -> np.ndarray:
    """Draw a node for each request from its group's routing distribution.

    Args:
        group: (m,) reach group of each request.
        table, has_node: from :func:`routing_table`.
        n_nodes: N.
        rng: the run's generator.

    Returns:
        (m,) int64 node index, -1 where the group reaches no node.
    """
    u = np.minimum(rng.random(group.size), _U_MAX)
    flat = np.searchsorted(table, group + u, side="right")
    node = flat - group.astype(np.int64) * n_nodes
    return np.where(has_node[group], node, -1)


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
        crowded = crowded[rng.permutation(crowded.size)]
        order = np.argsort(node[crowded], kind="stable")
        crowded = crowded[order]
        nodes_sorted = node[crowded]
        starts = np.flatnonzero(np.r_[True, nodes_sorted[1:] != nodes_sorted[:-1]])
        sizes = np.diff(np.r_[starts, nodes_sorted.size])
        rank = np.arange(nodes_sorted.size) - np.repeat(starts, sizes)
        admitted[crowded] = rank < remaining[nodes_sorted]
    remaining -= np.minimum(load, remaining)
    return admitted


#: Above this many draws per node, :meth:`RoutingTable.route` draws multinomial counts
#: and shuffles (O(N + m)); below, it inverts the CDF per draw (O(m log N)). Both give
#: i.i.d. draws from the same distribution; the switch is only for speed
#: (see benchmarks/).
MULTINOMIAL_MIN_DRAWS_PER_NODE = 0.25


@dataclass(frozen=True)
class RoutingTable:
    """Routing distributions of one step, one per reach group.

    Jurisdictions that do not geo-block share one reach group (every active node);
    each geo-blocking jurisdiction has its own (its domestic nodes only).
    """

    prob: np.ndarray  #: (G, N) probability of reaching each node from a group
    table: np.ndarray  #: (G*N,) from :func:`routing_table`
    has_node: np.ndarray  #: (G,) bool
    group_of: np.ndarray  #: (J,) reach group of each apparent jurisdiction

    @classmethod
    def build(cls, weights: np.ndarray, host: np.ndarray, geo_block: np.ndarray) -> RoutingTable:
        """Routing table for nodes with ``weights`` hosted in ``host`` (N,), given each
        jurisdiction's geo-blocking flag ``geo_block`` (J,)."""
        blockers = np.flatnonzero(geo_block)
        group_of = np.zeros(geo_block.size, dtype=np.int64)
        group_of[blockers] = np.arange(1, blockers.size + 1)
        reachable = np.vstack([np.ones((1, host.size), dtype=bool),
                               host[None, :] == blockers[:, None]])
        table, has_node = routing_table(weights, reachable)
        masked = np.where(reachable, weights, 0.0)
        totals = masked.sum(axis=1, keepdims=True)
        prob = masked / np.where(totals > 0, totals, 1.0)
        return cls(prob=prob, table=table, has_node=has_node, group_of=group_of)

    @property
    def n_nodes(self) -> int:
        """N."""
        return self.prob.shape[1]

    def route(self, apparent: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """(m,) node reached by each attempt from its apparent jurisdiction (-1: none)."""
        group = self.group_of[apparent]
        if self.has_node.size == 1:
            return self._draw(0, group.size, rng) if self.has_node[0] else np.full(group.size, -1)
        node = np.full(group.size, -1, dtype=np.int64)
        for g in np.flatnonzero(self.has_node):
            mine = np.flatnonzero(group == g)
            if mine.size:
                node[mine] = self._draw(int(g), mine.size, rng)
        return node

    def _draw(self, g: int, m: int, rng: np.random.Generator) -> np.ndarray:
        """m i.i.d. draws from group g's routing distribution."""
        n_nodes = self.n_nodes
        if m >= MULTINOMIAL_MIN_DRAWS_PER_NODE * n_nodes:
            labels = np.repeat(np.arange(n_nodes, dtype=np.int64), rng.multinomial(m, self.prob[g]))
            rng.shuffle(labels)
            return labels
        return route(np.full(m, g, dtype=np.int64), self.table, self.has_node, n_nodes, rng)
