"""The dirisk model: a Mesa model whose step reads as the schedule."""

from __future__ import annotations

from collections.abc import Iterable

import mesa
import networkx as nx
import numpy as np
from mesa.agent import AgentSet

from sim.engine.compat import release_models_after_use
from sim.engine.dynamics import Diffusion, adapt
from sim.engine.events import apply_event
from sim.engine.jurisdictions import Jurisdiction
from sim.engine.kernels.enforcement import Evidence, audit_scope, gather_evidence
from sim.engine.kernels.serving import Demand, ServingResult
from sim.engine.market import Market
from sim.engine.network import Adjacency, attach, build_graph
from sim.engine.nodes import Node, NodeTable
from sim.engine.policy import PolicyMemory, grow_treaties, signals
from sim.engine.recording import Recorder
from sim.engine.requesters import MALICIOUS, Requesters
from sim.scenario import Scenario

__all__ = [
    "PERMISSIVE_THRESHOLD",
    "DiriskModel",
    "harmful_mask",
    "permissive_kinds",
    "refusal_matrix",
    "scenario_permissive",
]

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

        self.jurisdiction_agents = AgentSet(
            [
                Jurisdiction(self, name, i, spec)
                for i, (name, spec) in enumerate(scenario.jurisdictions.items())
            ],
            random=self.random,
        )
        #: The same agents in scenario order, for the daily loops (a list is iterated
        #: faster than the AgentSet's weak references; no jurisdiction comes or goes).
        self.jurisdiction_list: list[Jurisdiction] = list(self.jurisdiction_agents)
        self._policy_cache: tuple | None = None  # (rules in force, their matrix)
        #: (J, 5) this step's enforcement counters
        #: (see sim.engine.jurisdictions.ENFORCEMENT_COUNTERS)
        self.enforcement_counts = np.zeros((len(self.jurisdiction_names), 5))
        self._partners: np.ndarray | None = None
        self.treaties = nx.Graph()
        self.treaties.add_nodes_from(self.jurisdiction_names)
        for number, group in enumerate(scenario.treaties, start=1):
            self.sign_treaty(group, name=f"treaty {number}")
        self.requesters = Requesters.create(scenario, self.rng)
        self.node_table = NodeTable.create(scenario, self.rng)
        # Node agents are views onto node_table, made when first asked for (a million
        # Mesa agents take seconds to register); their ids are those they would have had.
        self._node_agents: AgentSet | None = None
        # The node network is built when first needed (imitation, diffusion, p2p, entry,
        # the explorer); its seed is drawn now, so the run's stream does not depend on it.
        self._graph_seed = int(self.rng.integers(2**31 - 1))
        self._graph_size = self.node_table.size
        self._node_graph: nx.Graph | None = None
        self._adjacency: Adjacency | None = None
        self.profit = np.zeros(self.node_table.size)
        self.market = Market(self)
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
        outcome = self.market.serve(demand)
        self.market.settle(outcome)
        self.enforce(self.evidence(demand, outcome))
        self.adapt(demand, outcome)
        self.recorder.record(demand, outcome)
        self.fire_events()

    @property
    def nodes(self) -> AgentSet:
        """The node agents (Mesa), one view per row of ``node_table``, made on first use."""
        if self._node_agents is None:
            self._node_agents = AgentSet([], random=self.random)
            self._add_node_agents(0)
        return self._node_agents

    @property
    def agents(self) -> AgentSet:
        """Every agent of the model (Mesa), node agents included."""
        _ = self.nodes
        return super().agents

    @property
    def agents_by_type(self) -> dict[type[mesa.Agent], AgentSet]:
        """The agents by class (Mesa), node agents included."""
        _ = self.nodes
        return super().agents_by_type

    @property
    def agent_types(self) -> list[type]:
        """The agent classes of the model (Mesa), node agents included."""
        _ = self.nodes
        return super().agent_types

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

    def evidence(self, demand: Demand, outcome: ServingResult) -> Evidence:
        """Policy violations among the step's served requests."""
        ok = outcome.served
        reaching = self.extraterritorial() | self.partner_matrix().any(axis=1)
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
            extraterritorial=self.extraterritorial(),
            partners=self.partner_matrix(),
        )
        self.enforcement_counts[:] = 0.0
        for agent in self.jurisdiction_list:
            agent.enforce(scope)
        self.market.protocol.daily(self)

    def adapt(self, demand: Demand, outcome: ServingResult) -> None:
        """Requesters learn; nodes adapt (moves, diffusion, revision, entry); profits are
        booked."""
        self.requesters.learn(demand, outcome, self.node_table.active, self.rng)
        adapt(self)
        policy = self.scenario.policy_dynamics
        if policy.enabled:
            self.policy_memory.observe(self, demand, outcome)
            if (self.step_index + 1) % policy.every_steps == 0:
                revision = signals(self)
                for agent in self.jurisdiction_list:
                    agent.revise_policy(revision)
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
        """(J, C) bool, read-only: category prohibited by jurisdiction, as in force now
        (the same array until a policy changes)."""
        key = tuple(frozenset(agent.prohibited) for agent in self.jurisdiction_list)
        if self._policy_cache is not None and self._policy_cache[0] == key:
            return self._policy_cache[1]
        out = np.zeros((len(self.jurisdiction_names), len(self.category_names)), dtype=bool)
        column = self.category_index
        for row, agent in zip(out, self.jurisdiction_list, strict=True):
            row[[column[c] for c in agent.prohibited if c in column]] = True
        out.flags.writeable = False  # the recorder keeps it
        self._policy_cache = (key, out)
        return out

    def extraterritorial(self) -> np.ndarray:
        """(J,) bool: jurisdictions with extraterritorial reach."""
        return np.array([a.enforcement.extraterritorial for a in self.jurisdiction_list])

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
        if self._node_agents is not None:
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
        self.market.grow(new.size)

    def _add_node_agents(self, first: int) -> None:
        agents = self._node_agents
        for index in range(first, self.node_table.size):
            agents.add(Node(self, index))

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
