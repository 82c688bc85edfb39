"""Market protocols as strategies: one class per protocol behind one interface
(:class:`~sim.engine.protocols.base.MarketProtocol`), chosen by the scenario's
``market.protocol``. A new protocol is one module here and one entry in
:data:`PROTOCOLS`.

May import: :mod:`sim.engine.kernels`, :mod:`sim.scenario` and :mod:`sim.common`.
"""

from __future__ import annotations

import numpy as np

from sim.engine.protocols.base import MarketProtocol, OpenProtocol
from sim.engine.protocols.gateway import GatewayProtocol
from sim.engine.protocols.p2p import PeerToPeerProtocol
from sim.engine.protocols.validators import ValidatorProtocol
from sim.scenario import Scenario

__all__ = ["PROTOCOLS", "MarketProtocol", "create_protocol"]

#: Every protocol by the name scenarios give it.
PROTOCOLS: dict[str, type[MarketProtocol]] = {
    cls.name: cls for cls in (OpenProtocol, GatewayProtocol, PeerToPeerProtocol, ValidatorProtocol)
}


def create_protocol(
    scenario: Scenario, *, n_nodes: int, n_requesters: int, rng: np.random.Generator
) -> MarketProtocol:
    """The scenario's market protocol, set up (its set-up draws from ``rng``)."""
    cls = PROTOCOLS[scenario.market.protocol]
    return cls(scenario, n_nodes=n_nodes, n_requesters=n_requesters, rng=rng)
