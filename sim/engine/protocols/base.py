"""The interface every market protocol implements, and the open market it defaults to.

A protocol decides four things: its set-up (at the start of a run), where each request
enters the market and which nodes each entry point reaches, each node's routing weight,
and what it does each day after enforcement. :class:`~sim.engine.market.Market` asks the
protocol and never looks at its name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar

import networkx as nx
import numpy as np

from sim.engine.kernels.routing import routing_weights
from sim.scenario import Scenario

if TYPE_CHECKING:
    from sim.engine.model import DiriskModel
    from sim.engine.nodes import NodeTable

__all__ = ["MarketProtocol", "OpenProtocol"]


class MarketProtocol:
    """One market protocol: set-up, reach, routing weights, and its daily work.

    Args:
        scenario: The run's scenario (its ``market`` block configures the protocol).
        n_nodes: Nodes at the start.
        n_requesters: Requesters (fixed for the run).
        rng: The run's generator; a protocol draws its set-up from it in the constructor.
    """

    #: The name scenarios use in ``market.protocol``.
    name: ClassVar[str]

    def __init__(
        self, scenario: Scenario, *, n_nodes: int, n_requesters: int, rng: np.random.Generator
    ) -> None:
        n_cat, n_jur = len(scenario.categories), len(scenario.jurisdictions)
        #: (C,) probability that a central gateway refuses a category (0: no gateway)
        self.gateway_refusal = np.zeros(n_cat)
        #: (C,) bool, the gateway serves this category only to verified users
        self.gateway_kyc = np.zeros(n_cat, dtype=bool)
        #: (J,) bool, requests appearing from there reach no node
        self.blocked = np.zeros(n_jur, dtype=bool)
        #: (R,) entry point of each requester (one entry point: all 0)
        self.requester_entry = np.zeros(n_requesters, dtype=np.int64)
        self._neighbourhoods: np.ndarray | None = None

    def neighbourhoods(self, graph: Callable[[], nx.Graph], n_nodes: int) -> np.ndarray:
        """(E, N) bool: nodes each entry point discovers (kept until the node count
        changes). ``graph`` builds the node network when a protocol needs it."""
        if self._neighbourhoods is None or self._neighbourhoods.shape[1] != n_nodes:
            self._neighbourhoods = self._discover(graph, n_nodes)
        return self._neighbourhoods

    def _discover(self, graph: Callable[[], nx.Graph], n_nodes: int) -> np.ndarray:
        """One entry point that discovers every node."""
        return np.ones((1, n_nodes), dtype=bool)

    def routing_weights(
        self, nodes: NodeTable, fixed: np.ndarray, quality_factor: np.ndarray
    ) -> np.ndarray:
        """(N,) routing weight of every node: its fixed price weight (capacity x
        price^-elasticity) x its model's quality factor, zero when inactive."""
        return routing_weights(fixed, nodes.active, quality_factor)

    def daily(self, model: DiriskModel) -> None:
        """The protocol's own work at the end of the enforcement phase (none)."""

    def grow(self, n_new: int) -> None:
        """``n_new`` nodes joined the market (nothing to track)."""

    def probe_counts(self) -> tuple[int, int]:
        """Probes sent and probes answered instead of refused in the last step (0, 0)."""
        return 0, 0


class OpenProtocol(MarketProtocol):
    """``open``: a request reaches any active node its apparent jurisdiction allows
    (geo-blocking jurisdictions: domestic nodes only), weighted by capacity x
    price^-elasticity x model quality."""

    name = "open"
