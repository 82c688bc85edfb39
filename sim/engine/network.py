"""The node network: who imitates whom, and over which links new models spread.

The graph is a networkx graph over node ids; kernels read it as CSR arrays
(``indptr``, ``indices``) so that neighbour averages are one ``reduceat``.
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx
import numpy as np

from sim.engine.kernels.run_sums import Runs
from sim.scenario import NodeNetwork

__all__ = ["Adjacency", "attach", "build_graph"]


def build_graph(n: int, spec: NodeNetwork, seed: int) -> nx.Graph:
    """A graph over ``n`` nodes of the configured kind and mean degree (``seed``: the
    generator's seed, one draw from the run's generator)."""
    k = min(spec.mean_degree, n - 1)
    k -= k % 2  # Watts-Strogatz rings need an even degree
    if k < 2:
        graph = nx.complete_graph(n)
    elif spec.kind == "small_world":
        graph = nx.watts_strogatz_graph(n, k, spec.rewiring, seed=seed)
    elif spec.kind == "scale_free":
        graph = nx.barabasi_albert_graph(n, max(1, k // 2), seed=seed)
    else:
        graph = nx.gnm_random_graph(n, n * k // 2, seed=seed)
    return graph


def attach(
    graph: nx.Graph, new: range, alive: np.ndarray, spec: NodeNetwork, rng: np.random.Generator
) -> None:
    """Link each newly created node to ``mean_degree / 2`` nodes chosen uniformly among
    ``alive`` (ids of active nodes) and the new nodes added before it."""
    peers = [int(a) for a in alive]
    for node in new:
        graph.add_node(node)
        if peers:
            links = min(max(1, spec.mean_degree // 2), len(peers))
            for other in rng.choice(len(peers), size=links, replace=False):
                graph.add_edge(node, peers[int(other)])
        peers.append(node)


@dataclass(frozen=True)
class Adjacency:
    """CSR form of the node graph."""

    indptr: np.ndarray  #: (N+1,)
    indices: np.ndarray  #: (2E,) neighbour ids

    @classmethod
    def of(cls, graph: nx.Graph, n: int) -> Adjacency:
        """CSR arrays of ``graph`` over nodes 0..n-1."""
        degree = np.zeros(n, dtype=np.int64)
        edges = np.array(list(graph.edges()), dtype=np.int64).reshape(-1, 2)
        src = np.concatenate([edges[:, 0], edges[:, 1]])
        dst = np.concatenate([edges[:, 1], edges[:, 0]])
        order = np.argsort(src, kind="stable")
        np.add.at(degree, src, 1)
        return cls(indptr=np.r_[0, np.cumsum(degree)], indices=dst[order])

    @property
    def degree(self) -> np.ndarray:
        """(N,) number of neighbours."""
        return np.diff(self.indptr)

    def neighbour_mean(self, values: np.ndarray) -> np.ndarray:
        """(N,) mean of ``values`` over each node's neighbours (0 without neighbours)."""
        degree = self.degree
        summed = Runs.of(degree).sums(values[self.indices].astype(np.float64))
        return summed / np.maximum(degree, 1)

    def random_neighbour(self, nodes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """A uniformly chosen neighbour of each of ``nodes`` (-1 without neighbours)."""
        degree = self.degree[nodes]
        pick = self.indptr[nodes] + (rng.random(nodes.size) * degree).astype(np.int64)
        has = degree > 0
        out = np.full(nodes.size, -1, dtype=np.int64)
        out[has] = self.indices[np.minimum(pick[has], self.indices.size - 1)]
        return out
