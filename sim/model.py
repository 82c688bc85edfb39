"""The dirisk model: a Mesa model whose step reads as the schedule."""

from __future__ import annotations

from collections.abc import Iterable

import mesa
import networkx as nx
import numpy as np
from mesa.agent import AgentSet

from sim.compat import release_models_after_use
from sim.dynamics import Diffusion, adapt
from sim.enforcement import Evidence, audit_scope, gather_evidence
from sim.events import apply_event
from sim.jurisdictions import Jurisdiction
from sim.market import gateway_rules, neighbourhoods, reach_groups
from sim.metrics import Recorder
from sim.network import Adjacency, attach, build_graph
from sim.nodes import Node, NodeTable
from sim.policy import PolicyMemory, grow_treaties, signals
from sim.requesters import MALICIOUS, Requesters
from sim.routing import RoutingTable, price_weight, routing_weights
from sim.scenario import Scenario
from sim.serving import Demand, Outcome, ServingRules, serve
from sim.validators import ValidatorSet

release_models_after_use()

#: A model kind is permissive when it refuses harmful categories less than half the time.
PERMISSIVE_THRESHOLD = 0.5


def permissive_kinds(refusal: np.ndarray, harmful: np.ndarray) -> np.ndarray:
    """(M,) bool: model kinds whose mean refusal over harmful categories is below
    :data:`PERMISSIVE_THRESHOLD` (refusal (M, C); harmful (C,) bool)."""
    if not harmful.any():
        return np.zeros(refusal.shape[0], dtype=bool)
    return refusal[:, harmful].mean(axis=1) < PERMISSIVE_THRESHOLD


def refusal_matrix(spec: Scenario) -> np.ndarray:
    """(M, C) refusal probability of each model kind for each category."""
    return np.array([[m.refusal[c] for c in spec.categories] for m in spec.models.values()])


def harmful_mask(spec: Scenario) -> np.ndarray:
    """(C,) bool: harmful categories."""
    return np.array([c.harmful for c in spec.categories.values()])


def scenario_permissive(spec: Scenario) -> list[str]:
    """Names of the scenario's permissive model kinds."""
    flags = permissive_kinds(refusal_matrix(spec), harmful_mask(spec))
    return [name for name, p in zip(spec.models, flags, strict=True) if p]


class DiriskModel(mesa.Model):
    """Decentralised inference under content policies, one step per day.

    Args:
        scenario: A validated scenario.
        seed: Seed of the run's only random generator (default: the scenario's).

    Attributes:
        node_table: Every node's state as arrays; ``nodes`` holds the matching agents.
        requesters: Every requester's traits as arrays.
        jurisdiction_agents: The enforcement regimes.
        treaties: Treaty graph over jurisdiction names (networkx).
        event_log: Records of everything that happened (events table).
    """

    def __init__(self, scenario: Scenario, *, seed: int | None = None) -> None:
        self.seed = scenario.seed if seed is None else int(seed)
        super().__init__(rng=self.seed)
        self.scenario = scenario
        self.category_names = list(scenario.categories)
        self.category_index = {n: i for i, n in enumerate(self.category_names)}
        self.model_names = list(scenario.models)
        self.jurisdiction_names = list(scenario.jurisdictions)
        self.jurisdiction_index = {n: i for i, n in enumerate(self.jurisdiction_names)}
        self.harmful = harmful_mask(scenario)
        self.harmful_categories = [n for n, c in scenario.categories.items() if c.harmful]
        self.refusal = refusal_matrix(scenario)
        self.susceptibility = np.array(
            [m.jailbreak_susceptibility for m in scenario.models.values()]
        )
        market = scenario.market
        #: (M,) routing-weight factor of each model kind: quality^quality_elasticity
        self.quality_factor = (
            np.array([m.quality for m in scenario.models.values()]) ** market.quality_elasticity
        )
        self.permissive = permissive_kinds(self.refusal, self.harmful)
        self.kyc_category = np.isin(self.category_names, scenario.kyc_categories())
        self.resembles = np.array(
            [
                [other in c.resembles for other in self.category_names]
                for c in scenario.categories.values()
            ]
        )
        self.available = np.array([m.available for m in scenario.models.values()])
        self.hosting_cost = np.array(
            [j.hosting_cost_usd_per_day for j in scenario.jurisdictions.values()]
        )
        self.licence_cost = np.array([j.licence_cost_usd for j in scenario.jurisdictions.values()])
        self.event_log: list[dict] = []
        self.step_index = -1
        self.diffusions: list[Diffusion] = []
        self.scheduled_releases: dict[int, list[Diffusion]] = {}
        self.arrivals = np.zeros((len(self.jurisdiction_names), len(self.category_names)))

        self.jurisdiction_agents = AgentSet(
            [
                Jurisdiction(self, name, i, spec)
                for i, (name, spec) in enumerate(scenario.jurisdictions.items())
            ],
            random=self.random,
        )
        #: (J, 5) this step's enforcement counters (see sim.jurisdictions.ENFORCEMENT_COUNTERS)
        self.enforcement_counts = np.zeros((len(self.jurisdiction_names), 5))
        self._partners: np.ndarray | None = None
        self._routing_cache: tuple | None = None
        self._price_weight = np.zeros(0)
        self._rules_cache: tuple | None = None
        self.treaties = nx.Graph()
        self.treaties.add_nodes_from(self.jurisdiction_names)
        for number, group in enumerate(scenario.treaties, start=1):
            self.sign_treaty(group, name=f"treaty {number}")
        self.requesters = Requesters.create(scenario, self.rng)
        self.node_table = NodeTable.create(scenario, self.rng)
        self.nodes = AgentSet([], random=self.random)
        self._add_node_agents(0)
        # The node network is built when first needed (imitation, diffusion, p2p, entry,
        # the explorer); its seed is drawn now, so the run's stream does not depend on it.
        self._graph_seed = int(self.rng.integers(2**31 - 1))
        self._graph_size = self.node_table.size
        self._node_graph: nx.Graph | None = None
        self._adjacency: Adjacency | None = None
        self.profit = np.zeros(self.node_table.size)
        self._setup_market()
        self.events_at: dict[int, list] = {}
        for event in scenario.timeline:
            self.events_at.setdefault(event.step, []).append(event)
        self.recorder = Recorder(self)
        self.malicious_kind = MALICIOUS
        self.policy_memory = PolicyMemory.empty(len(self.jurisdiction_names))
        self.initial_hosting = np.bincount(
            self.node_table.jurisdiction, minlength=len(self.jurisdiction_names)
        )
        self.prohibited = self._policy_matrix()

    # ------------------------------------------------------------------ schedule

    def step(self) -> None:
        """One day: emit, route and serve, settle, enforce, adapt, collect, fire events."""
        self.step_index = self.steps - 1
        self.prohibited = self._policy_matrix()
        self.running_at_start = self.node_table.running
        demand = self.requesters.emit(self.rng)
        outcome = self.serve(demand)
        self.settle(outcome)
        self.enforce(self.evidence(demand, outcome))
        self.adapt(demand, outcome)
        self.recorder.record(demand, outcome)
        self.fire_events()

    def _setup_market(self) -> None:
        """Protocol state: entry points (p2p), validators, the gateway's rules."""
        market, n_nodes = self.scenario.market, self.node_table.size
        n_cat = len(self.category_names)
        self.gateway_refusal, self.gateway_kyc = np.zeros(n_cat), np.zeros(n_cat, dtype=bool)
        self.gateway_blocked = np.zeros(len(self.jurisdiction_names), dtype=bool)
        self.requester_entry = np.zeros(self.requesters.size, dtype=np.int64)
        self.entry_nodes = np.zeros(0, dtype=np.int64)
        self._neighbourhoods: np.ndarray | None = None
        self.validators: ValidatorSet | None = None
        if market.protocol == "gateway":
            self.gateway_refusal, self.gateway_kyc = gateway_rules(
                market.gateway, self.category_names
            )
            self.gateway_blocked = np.isin(self.jurisdiction_names, market.gateway.geo_block)
        elif market.protocol == "p2p":
            n_entry = market.p2p.entry_points
            self.entry_nodes = (
                self.rng.choice(n_nodes, size=n_entry, replace=n_nodes < n_entry)
                if n_nodes
                else np.zeros(0, dtype=np.int64)
            )
            self.requester_entry = self.rng.integers(0, n_entry, self.requesters.size)
        elif market.protocol == "validators":
            self.validators = ValidatorSet.create(market.validators, n_nodes, self.rng)

    @property
    def node_graph(self) -> nx.Graph:
        """The node network (networkx), built on first use."""
        if self._node_graph is None:
            self._node_graph = build_graph(
                self._graph_size, self.scenario.node_network, self._graph_seed
            )
        return self._node_graph

    @property
    def adjacency(self) -> Adjacency:
        """CSR arrays of the node network over the current nodes."""
        if self._adjacency is None:
            self._adjacency = Adjacency.of(self.node_graph, self.node_table.size)
        return self._adjacency

    def neighbourhoods(self) -> np.ndarray:
        """(E, N) bool: nodes each entry point discovers (all nodes outside p2p)."""
        n_nodes = self.node_table.size
        if self._neighbourhoods is not None and self._neighbourhoods.shape[1] == n_nodes:
            return self._neighbourhoods
        if self.scenario.market.protocol != "p2p":
            self._neighbourhoods = np.ones((1, n_nodes), dtype=bool)
        else:
            self._neighbourhoods = neighbourhoods(
                self.node_graph, self.entry_nodes, self.scenario.market.p2p.search_depth, n_nodes
            )
        return self._neighbourhoods

    def routing_weights(self) -> np.ndarray:
        """(N,) routing weight of every node under the market protocol."""
        nodes = self.node_table
        if self.validators is not None:
            relative = self.validators.relative_incentive(nodes.active)
            return np.where(nodes.active, nodes.capacity * relative, 0.0)
        # A node's capacity and price never change: their part is computed once per node.
        if self._price_weight.size != nodes.size:
            self._price_weight = price_weight(
                nodes.capacity, nodes.price, self.scenario.market.price_elasticity
            )
        return routing_weights(self._price_weight, nodes.active, self.quality_factor[nodes.model])

    def serve(self, demand: Demand) -> Outcome:
        """Route every request and let nodes serve or refuse it, with retries."""
        nodes = self.node_table
        routing, lookup = self.routing()
        if lookup.shape[0] == 1:  # one entry point (all but p2p markets)
            group = lookup[0][demand.apparent]
        else:
            group = lookup[self.requester_entry[demand.requester], demand.apparent]
        remaining = np.where(nodes.active, nodes.capacity, 0)
        return serve(demand, group, self.serving_rules(), routing, remaining, self.rng)

    def routing(self) -> tuple[RoutingTable, np.ndarray]:
        """The routing table and the (entry point, apparent jurisdiction) -> reach group
        lookup, rebuilt only when weights or reach change."""
        nodes = self.node_table
        geo_block = np.array([a.enforcement.geo_block_foreign for a in self.jurisdiction_agents])
        weights = self.routing_weights()
        neighbourhoods = self.neighbourhoods()
        key = (
            weights.tobytes(),
            nodes.jurisdiction.tobytes(),
            geo_block.tobytes(),
            id(neighbourhoods),
        )
        if self._routing_cache is None or self._routing_cache[0] != key:
            reachable, lookup = reach_groups(
                nodes.jurisdiction,
                geo_block,
                blocked=self.gateway_blocked,
                neighbourhoods=neighbourhoods,
            )
            self._routing_cache = (key, RoutingTable.build(weights, reachable), lookup)
        return self._routing_cache[1], self._routing_cache[2]

    def settle(self, outcome: Outcome) -> None:
        """Book each node's served requests and revenue; update the market signals."""
        nodes = self.node_table
        nodes.book(np.bincount(outcome.served_node, minlength=nodes.size), self.step_index)
        if self.scenario.adaptation.enabled:
            self._observe_arrivals(outcome.arrivals)

    def _observe_arrivals(self, arrivals: np.ndarray) -> None:
        """Moving average of attempts per unit routing weight, by host and category
        (hosts without nodes see the market-wide average)."""
        nodes = self.node_table
        n_jur, n_cat = self.arrivals.shape
        cells = (nodes.jurisdiction[:, None] * n_cat + np.arange(n_cat)).ravel()
        per_host = np.bincount(cells, weights=arrivals, minlength=n_jur * n_cat).reshape(
            n_jur, n_cat
        )
        weights = self.routing_weights()
        weight = np.bincount(nodes.jurisdiction, weights=weights, minlength=n_jur)
        overall = per_host.sum(axis=0) / max(weight.sum(), 1e-12)
        now = np.where(weight[:, None] > 0, per_host / np.maximum(weight, 1e-12)[:, None], overall)
        memory = self.scenario.adaptation.profit_memory if self.step_index > 0 else 0.0
        self.arrivals = memory * self.arrivals + (1 - memory) * now

    def evidence(self, demand: Demand, outcome: Outcome) -> Evidence:
        """Policy violations among the step's served requests."""
        ok = outcome.served
        reaching = self._extraterritorial() | self.partner_matrix().any(axis=1)
        return gather_evidence(
            outcome.served_node,
            demand.category[ok],
            demand.apparent[ok],
            host=self.node_table.jurisdiction,
            prohibited=self.prohibited,
            extraterritorial=reaching,
        )

    def enforce(self, evidence: Evidence) -> None:
        """Every jurisdiction audits, fines and takes down, in scenario order; validators
        score and probe miners, and emissions are paid."""
        scope = audit_scope(
            evidence,
            host=self.node_table.jurisdiction,
            active=self.node_table.active,
            extraterritorial=self._extraterritorial(),
            partners=self.partner_matrix(),
        )
        self.enforcement_counts[:] = 0.0
        self.jurisdiction_agents.do("enforce", scope)
        if self.validators is not None:
            nodes = self.node_table
            benign = ~self.harmful
            helpfulness = 1.0 - self.refusal[nodes.model][:, benign].mean(axis=1)
            spec = self.scenario.market.validators
            probe_cats = (
                self.harmful_categories if spec.probe_categories is None else spec.probe_categories
            )
            probe_idx = [self.category_names.index(c) for c in probe_cats]
            node_refusal = 1 - (1 - self.refusal[nodes.model]) * (
                1 - self.filter_matrix()[nodes.jurisdiction] * nodes.compliant[:, None]
            )
            self.validators.update(helpfulness, node_refusal[:, probe_idx], nodes.active, self.rng)
            nodes.pay(self.validators.emissions())

    def adapt(self, demand: Demand, outcome: Outcome) -> None:
        """Requesters learn; nodes adapt (moves, diffusion, revision, entry); profits are
        booked."""
        self.requesters.learn(demand, outcome, self.node_table.active, self.rng)
        adapt(self)
        policy = self.scenario.policy_dynamics
        if policy.enabled:
            self.policy_memory.observe(self, demand, outcome)
            if (self.step_index + 1) % policy.every_steps == 0:
                self.jurisdiction_agents.do("revise_policy", signals(self))
                grow_treaties(self)
        nodes = self.node_table
        spec = self.scenario.adaptation
        self.profit = nodes.profit_step(
            self.hosting_cost, spec.compliance_cost_share, self.running_at_start, self.step_index
        )
        memory = spec.profit_memory if self.step_index > 0 else 0.0
        nodes.profit_ema = memory * nodes.profit_ema + (1 - memory) * self.profit

    def fire_events(self) -> None:
        """Apply the timeline events scheduled for this step, and releases now due."""
        for event in self.events_at.get(self.step_index, []):
            apply_event(self, event)
        for spread in self.scheduled_releases.pop(self.step_index, []):
            self.release(
                spread.model,
                innovation=spread.innovation,
                imitation=spread.imitation,
                scope=spread.scope,
            )
            self.log_event("model_release", detail=f"{self.model_names[spread.model]} available")

    def release(
        self, model: int, *, innovation: float, imitation: float, scope: np.ndarray | None
    ) -> None:
        """Make a model kind available and start its diffusion over the node network."""
        self.available[model] = True
        self.diffusions.append(Diffusion(model, innovation, imitation, scope))

    def schedule_release(
        self,
        step: int,
        model: int,
        *,
        innovation: float,
        imitation: float,
        scope: np.ndarray | None,
    ) -> None:
        """Release a model kind at the end of ``step``."""
        self.scheduled_releases.setdefault(step, []).append(
            Diffusion(model, innovation, imitation, scope)
        )

    # ------------------------------------------------------------------ rules

    def _policy_matrix(self) -> np.ndarray:
        """(J, C) bool, read-only: category prohibited by jurisdiction, as in force now."""
        out = np.zeros((len(self.jurisdiction_names), len(self.category_names)), dtype=bool)
        column = self.category_index
        for row, agent in zip(out, self.jurisdiction_agents, strict=True):
            row[[column[c] for c in agent.prohibited if c in column]] = True
        out.flags.writeable = False  # the recorder keeps it
        return out

    def _extraterritorial(self) -> np.ndarray:
        """(J,) bool: jurisdictions with extraterritorial reach."""
        return np.array([a.enforcement.extraterritorial for a in self.jurisdiction_agents])

    def filter_matrix(self) -> np.ndarray:
        """(J, C) probability that jurisdiction j's compliance filter catches category c:
        the filter's recall on prohibited categories, its false-positive rate on
        categories resembling a prohibited one."""
        spec = self.scenario.nodes
        lookalike = (self.resembles[None, :, :] & self.prohibited[:, None, :]).any(axis=2)
        return np.where(
            self.prohibited,
            spec.filter_recall,
            np.where(lookalike, spec.filter_false_positive, 0.0),
        )

    def serving_rules(self) -> ServingRules:
        """Flat lookups for the serving kernel, from the current node and policy state
        (rebuilt only when that state changes)."""
        nodes = self.node_table
        extraterritorial = self._extraterritorial()
        kyc = np.array([a.enforcement.kyc_mandate for a in self.jurisdiction_agents])
        key = (
            nodes.model.tobytes(),
            nodes.compliant.tobytes(),
            nodes.jurisdiction.tobytes(),
            self.prohibited.tobytes(),
            extraterritorial.tobytes(),
            kyc.tobytes(),
        )
        if self._rules_cache is None or self._rules_cache[0] != key:
            self._rules_cache = (key, self._serving_rules(extraterritorial, kyc))
        return self._rules_cache[1]

    def _serving_rules(self, extraterritorial: np.ndarray, kyc: np.ndarray) -> ServingRules:
        nodes = self.node_table
        filters = self.filter_matrix()
        return ServingRules(
            n_categories=len(self.category_names),
            refusal=self.refusal[nodes.model].ravel(),
            susceptibility=self.susceptibility[nodes.model],
            node_filter=(filters[nodes.jurisdiction] * nodes.compliant[:, None]).ravel(),
            ext_filter=(filters * extraterritorial[:, None]).ravel(),
            compliant=nodes.compliant,
            kyc_node=nodes.compliant & kyc[nodes.jurisdiction],
            kyc_ext=kyc & extraterritorial,
            kyc_category=self.kyc_category,
            gateway_refusal=self.gateway_refusal,
            gateway_kyc=self.gateway_kyc,
        )

    # ------------------------------------------------------------------ helpers

    def jurisdiction(self, name: str) -> Jurisdiction:
        """The jurisdiction agent called ``name``."""
        return self.jurisdiction_agents[self.jurisdiction_index[name]]

    def partner_matrix(self) -> np.ndarray:
        """(J, J) bool, read-only: jurisdictions linked by a treaty (cached until a treaty
        changes)."""
        if self._partners is None:
            index = self.jurisdiction_index
            out = np.zeros((len(index),) * 2, dtype=bool)
            for a, b in self.treaties.edges():
                out[index[a], index[b]] = out[index[b], index[a]] = True
            out.flags.writeable = False  # the recorder keeps it
            self._partners = out
        return self._partners

    def sign_treaty(self, members: Iterable[str], *, name: str) -> None:
        """Link every pair of ``members`` in the treaty graph; each link keeps the set of
        treaties it belongs to (edge attribute ``treaties``)."""
        members = list(members)
        for i, a in enumerate(members):
            for b in members[i + 1 :]:
                if a != b:
                    self.treaties.add_edge(a, b)
                    self.treaties[a][b].setdefault("treaties", set()).add(name)
        self._partners = None

    def add_nodes(self, new: NodeTable) -> None:
        """Append nodes to the market, with their agents and network links."""
        first = self.node_table.size
        alive = np.flatnonzero(self.node_table.active)
        self.node_table.extend(new)
        self._add_node_agents(first)
        attach(
            self.node_graph,
            range(first, self.node_table.size),
            alive,
            self.scenario.node_network,
            self.rng,
        )
        self._adjacency = None
        self.profit = np.pad(self.profit, (0, new.size))
        if self.validators is not None:
            self.validators.extend(new.size)

    def _add_node_agents(self, first: int) -> None:
        for index in range(first, self.node_table.size):
            self.nodes.add(Node(self, index))

    def log_event(
        self, event: str, *, jurisdiction: str = "", node_id: int = -1, detail: str = ""
    ) -> None:
        """Append a record to the event log at the current step."""
        self.event_log.append(
            dict(
                step=self.step_index,
                event=event,
                jurisdiction=jurisdiction,
                node_id=int(node_id),
                detail=detail,
            )
        )
