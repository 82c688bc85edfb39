"""``p2p``: requesters discover nodes from an entry node; only nodes within the search
depth on the node network are reachable, so reach and market share follow the network."""

from __future__ import annotations

from collections.abc import Callable

import networkx as nx
import numpy as np

from sim.engine.kernels.reach import neighbourhoods
from sim.engine.protocols.base import MarketProtocol
from sim.scenario import Scenario

__all__ = ["PeerToPeerProtocol"]


class PeerToPeerProtocol(MarketProtocol):
    """Entry points drawn among the initial nodes; each requester keeps one for the run."""

    name = "p2p"

    def __init__(
        self, scenario: Scenario, *, n_nodes: int, n_requesters: int, rng: np.random.Generator
    ) -> None:
        super().__init__(scenario, n_nodes=n_nodes, n_requesters=n_requesters, rng=rng)
        spec = scenario.market.p2p
        self.depth = spec.search_depth
        #: (E,) the entry nodes
        self.entry_nodes = (
            rng.choice(n_nodes, size=spec.entry_points, replace=n_nodes < spec.entry_points)
            if n_nodes
            else np.zeros(0, dtype=np.int64)
        )
        self.requester_entry = rng.integers(0, spec.entry_points, n_requesters)

    def _discover(self, graph: Callable[[], nx.Graph], n_nodes: int) -> np.ndarray:
        """Nodes within the search depth of each entry node on the node network."""
        return neighbourhoods(graph(), self.entry_nodes, self.depth, n_nodes)
