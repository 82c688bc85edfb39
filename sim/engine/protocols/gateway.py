"""``gateway``: the open market behind a central gateway that refuses its prohibited
categories (with its filter's recall), serves its KYC categories to verified users only
and refuses requests that appear to come from its geo-blocked jurisdictions."""

from __future__ import annotations

import numpy as np

from sim.engine.protocols.base import MarketProtocol
from sim.scenario import Scenario

__all__ = ["GatewayProtocol"]


class GatewayProtocol(MarketProtocol):
    """A central gateway's refusals, KYC gate and geo-blocks in front of the open market."""

    name = "gateway"

    def __init__(
        self, scenario: Scenario, *, n_nodes: int, n_requesters: int, rng: np.random.Generator
    ) -> None:
        super().__init__(scenario, n_nodes=n_nodes, n_requesters=n_requesters, rng=rng)
        gateway, categories = scenario.market.gateway, list(scenario.categories)
        self.gateway_refusal = np.where(
            np.isin(categories, gateway.prohibited), gateway.filter_recall, 0.0
        )
        self.gateway_kyc = np.isin(categories, gateway.kyc_categories)
        self.blocked = np.isin(list(scenario.jurisdictions), gateway.geo_block)
