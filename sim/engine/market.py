"""The market: routing requests to nodes under the scenario's protocol, the rules nodes
serve by, and the signals nodes read (ODD submodels 7.2 and 7.3).

:class:`Market` keeps what changes slowly (routing tables, serving rules, each node's
fixed price weight) and rebuilds it only when the state it depends on changes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.engine.kernels.reach import reach_groups
from sim.engine.kernels.routing import RoutingTable, price_weight
from sim.engine.kernels.serving import Demand, ServingResult, ServingRules, serve
from sim.engine.protocols import MarketProtocol, create_protocol

if TYPE_CHECKING:
    from sim.engine.model import DiriskModel

__all__ = ["Market"]


class Market:
    """Routing and serving for one model, under its market protocol.

    Args:
        model: The model whose nodes, requesters and jurisdictions trade here; the
            protocol's set-up draws from its generator now.

    Attributes:
        protocol: The market protocol (a strategy: set-up, reach, weights, daily work).
        arrivals: (J, C) moving average of attempts per unit routing weight, by host and
            category (read by adapting nodes).
    """

    def __init__(self, model: DiriskModel) -> None:
        self.model = model
        self.protocol: MarketProtocol = create_protocol(
            model.scenario,
            n_nodes=model.node_table.size,
            n_requesters=model.requesters.size,
            rng=model.rng,
        )
        self.arrivals = np.zeros((len(model.jurisdiction_names), len(model.category_names)))
        self._price_weight = np.zeros(0)
        self._routing_cache: tuple | None = None  # (weights, table)
        self._reach_cache: tuple | None = None  # (geo-blocks, neighbourhoods, hosts, reach, lookup)
        self._rules_cache: tuple | None = None

    def routing_weights(self) -> np.ndarray:
        """(N,) routing weight of every node under the market protocol."""
        model, nodes = self.model, self.model.node_table
        # A node's capacity and price never change: their part is computed once per node.
        if self._price_weight.size != nodes.size:
            self._price_weight = price_weight(
                nodes.capacity, nodes.price, model.scenario.market.price_elasticity
            )
        return self.protocol.routing_weights(
            nodes, self._price_weight, model.quality_factor[nodes.model]
        )

    def serve(self, demand: Demand) -> ServingResult:
        """Route every request and let nodes serve or refuse it, with retries."""
        nodes = self.model.node_table
        routing, lookup = self.routing()
        if lookup.shape[0] == 1:  # one entry point (all but p2p markets)
            group = lookup[0][demand.apparent]
        else:
            group = lookup[self.protocol.requester_entry[demand.requester], demand.apparent]
        remaining = np.where(nodes.active, nodes.capacity, 0)
        return serve(demand, group, self.serving_rules(), routing, remaining, self.model.rng)

    def routing(self) -> tuple[RoutingTable, np.ndarray]:
        """The routing table and the (entry point, apparent jurisdiction) -> reach group
        lookup: the reach groups rebuilt only when hosts, geo-blocks or neighbourhoods
        change, the table only when they or the weights change."""
        model, nodes = self.model, self.model.node_table
        geo_block = np.array([a.enforcement.geo_block_foreign for a in model.jurisdiction_list])
        weights = self.routing_weights()
        neighbourhoods = self.protocol.neighbourhoods(lambda: model.node_graph, nodes.size)
        reach = self._reach_cache
        if (
            reach is None
            or reach[1] is not neighbourhoods  # the cache holds it: no other can take its id
            or not np.array_equal(reach[0], geo_block)
            or not np.array_equal(reach[2], nodes.jurisdiction)
        ):
            reachable, lookup = reach_groups(
                nodes.jurisdiction,
                geo_block,
                blocked=self.protocol.blocked,
                neighbourhoods=neighbourhoods,
            )
            reach = self._reach_cache = (
                geo_block,
                neighbourhoods,
                nodes.jurisdiction.copy(),
                reachable,
                lookup,
            )
            self._routing_cache = None
        if self._routing_cache is None or not np.array_equal(self._routing_cache[0], weights):
            self._routing_cache = (weights, RoutingTable.build(weights, reach[3]))
        return self._routing_cache[1], reach[4]

    def settle(self, outcome: ServingResult) -> None:
        """Book each node's served requests and revenue; update the market signals."""
        model, nodes = self.model, self.model.node_table
        nodes.book(np.bincount(outcome.served_node, minlength=nodes.size), model.step_index)
        if model.scenario.adaptation.enabled:
            self._observe_arrivals(outcome)

    def _observe_arrivals(self, outcome: ServingResult) -> None:
        """Moving average of attempts per unit routing weight, by host and category
        (hosts without nodes see the market-wide average)."""
        model, nodes = self.model, self.model.node_table
        n_jur, n_cat = self.arrivals.shape
        per_host = outcome.arrivals_by(nodes.jurisdiction, n_jur).reshape(n_jur, n_cat)
        per_host = per_host.astype(np.float64)
        weights = self.routing_weights()
        weight = np.bincount(nodes.jurisdiction, weights=weights, minlength=n_jur)
        overall = per_host.sum(axis=0) / max(weight.sum(), 1e-12)
        now = np.where(weight[:, None] > 0, per_host / np.maximum(weight, 1e-12)[:, None], overall)
        memory = model.scenario.adaptation.profit_memory if model.step_index > 0 else 0.0
        self.arrivals = memory * self.arrivals + (1 - memory) * now

    def filter_matrix(self) -> np.ndarray:
        """(J, C) probability that jurisdiction j's compliance filter catches category c:
        the filter's recall on prohibited categories, its false-positive rate on
        categories resembling a prohibited one."""
        model = self.model
        spec = model.scenario.nodes
        lookalike = (model.resembles[None, :, :] & model.prohibited[:, None, :]).any(axis=2)
        return np.where(
            model.prohibited,
            spec.filter_recall,
            np.where(lookalike, spec.filter_false_positive, 0.0),
        )

    def serving_rules(self) -> ServingRules:
        """Flat lookups for the serving kernel, one row per node type (host, model kind,
        compliance), from the current policy state (rebuilt only when that state or a
        node's type changes)."""
        model = self.model
        extraterritorial = model.extraterritorial()
        kyc = np.array([a.enforcement.kyc_mandate for a in model.jurisdiction_list])
        key = (model.prohibited.tobytes(), extraterritorial.tobytes(), kyc.tobytes())
        node_type = self.node_types()
        cache = self._rules_cache
        if cache is None or cache[0] != key or not np.array_equal(cache[1], node_type):
            rules = self._serving_rules(extraterritorial, kyc, node_type)
            self._rules_cache = (key, node_type, rules)
        return self._rules_cache[2]

    def node_types(self) -> np.ndarray:
        """(N,) int32 type of each node: ``(host * M + model kind) * 2 + compliant``."""
        nodes = self.model.node_table
        out = nodes.jurisdiction * len(self.model.model_names)
        out += nodes.model
        out *= 2
        out += nodes.compliant
        return out.astype(np.int32)

    def _serving_rules(
        self, extraterritorial: np.ndarray, kyc: np.ndarray, node_type: np.ndarray
    ) -> ServingRules:
        model = self.model
        n_models = len(model.model_names)
        types = np.arange(len(model.jurisdiction_names) * n_models * 2)
        host, kind, compliant = types // (2 * n_models), (types // 2) % n_models, types % 2 == 1
        filters = self.filter_matrix()
        return ServingRules(
            n_categories=len(model.category_names),
            refusal=model.refusal[kind].ravel(),
            susceptibility=model.susceptibility[kind],
            node_filter=(filters[host] * compliant[:, None]).ravel(),
            ext_filter=(filters * extraterritorial[:, None]).ravel(),
            compliant=compliant,
            kyc_node=compliant & kyc[host],
            kyc_ext=kyc & extraterritorial,
            kyc_category=model.kyc_category,
            gateway_refusal=self.protocol.gateway_refusal,
            gateway_kyc=self.protocol.gateway_kyc,
            node_type=node_type,
        )

    def grow(self, n_new: int) -> None:
        """``n_new`` nodes joined: the protocol tracks them."""
        self.protocol.grow(n_new)
