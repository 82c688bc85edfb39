"""A plain-Mesa reference implementation of dirisk's core rules.

This is the model written the way a typical Mesa user would write it: one
:class:`mesa.Agent` per requester, per node and per jurisdiction, Python loops in
``step()``, one random draw at a time (``model.random`` for the stdlib draws,
``model.rng`` for the Poisson and log-normal ones), and a :class:`mesa.DataCollector`
for the per-step numbers. It exists for two reasons:

* **correctness**: it implements the same rules as the vectorised engine (``sim/``)
  independently, so the two can be compared statistically
  (``tests/test_reference_agreement.py``);
* **speed**: it is the yardstick the engine's speed is measured against
  (``python -m benchmarks``).

The rules (one step = one day):

1. Each requester draws ``Poisson(requests_per_day)`` requests and a category for each
   from its kind's ``category_mix``. Requesters act in random order.
2. A request makes up to ``1 + persistence`` attempts. Each attempt picks a node at
   random among the active nodes reachable from the requester's *apparent*
   jurisdiction (all active nodes, or only domestic ones where that jurisdiction
   geo-blocks), with probability proportional to ``capacity x price^-elasticity``.
   A retry that draws the node just tried redraws once.
3. The node admits the attempt if it has capacity left this step (an admitted attempt
   uses one unit of capacity whether served or refused); otherwise the attempt fails
   and counts as dropped if it was the last.
4. An admitted attempt is refused by a KYC gate (compliant node hosted where KYC is
   mandated, or compliant node serving an apparent resident of an extraterritorial
   KYC jurisdiction; KYC category; requester not verified), or else with probability
   ``1 - (1 - r_model) (1 - r_filter)``: ``r_model`` is the model kind's refusal
   probability, times ``1 - jailbreak_susceptibility`` when the attempt carries a
   jailbreak (probability ``jailbreak_attempt``); ``r_filter`` is, on compliant nodes
   only, the larger of the host's filter and the apparent jurisdiction's filter if that
   one is extraterritorial. A filter catches prohibited categories at
   ``filter_recall`` and categories that ``resemble`` a prohibited one at
   ``filter_false_positive``.
5. A request that finds no reachable node is dropped at once. Otherwise its final
   status is served, or (attempts exhausted) refused if the last attempt was admitted
   and dropped if not.
6. Each jurisdiction, in scenario order, audits the active nodes in its reach
   (domestic ones, plus foreign nodes that served its apparent residents this step:
   any of them with extraterritorial reach, otherwise those hosted by a treaty partner,
   as joint audits): ``Binomial(candidates, audit_rate)`` audits capped
   by budget, a uniformly random subset; an audited node that violated its rules this
   step (served a category prohibited by the host, for domestic nodes, or by the
   auditor to its apparent residents, for foreign ones) is detected with
   ``detection_probability``, fined ``max(fine_min, share x annualised revenue)`` and,
   if hosted here or in a treaty partner, taken down with ``takedown_probability``.
7. Timeline events fire at the end of their step.

Retry timing (``retry_timing``): by default a refused or turned-away request is retried
at once, before the next request is sent ("immediate", the way a sequential Mesa model
is naturally written). The engine instead makes every request's first attempt before
any retry, so retries meet nodes already loaded by the whole day's first attempts;
``retry_timing="rounds"`` reproduces that (attempt rounds, each in random order). The
two agree wherever capacity does not bind; where it does, rounds turn more retries away
(more dropped, fewer refused requests).

It is a benchmark and a test oracle, not part of the product.
"""

from __future__ import annotations

import math
from collections import defaultdict

import mesa

from sim.engine.requesters import apportion
from sim.scenario import REQUESTER_KINDS, Scenario, load_scenario

SERVED, REFUSED, FULL = "served", "refused", "full"
DAYS_PER_YEAR = 365.0

#: Headline numbers collected every step (the DataCollector's model reporters).
HEADLINE = (
    "requests_emitted",
    "requests_served",
    "requests_refused",
    "requests_dropped",
    "attempts",
    "harmful_requests",
    "harmful_completed",
    "harm_completion_rate",
    "benign_over_refusal",
    "dual_use_over_refusal",
    "malicious_success_share",
    "cross_border_share",
    "policy_leakage",
    "kyc_blocked",
    "active_nodes",
    "audits",
    "violations_detected",
    "takedowns",
    "fines_usd",
)


def _ratio(num: float, den: float) -> float:
    return num / den if den > 0 else math.nan


class JurisdictionAgent(mesa.Agent):
    """An enforcement regime with a content policy."""

    def __init__(self, model: ReferenceModel, name: str, index: int, spec) -> None:
        super().__init__(model)
        self.name = name
        self.index = index
        self.spec = spec
        self.prohibited = set(spec.prohibited)
        self.enforcement = spec.enforcement.model_copy()
        self.filter = {}
        self.audits = self.detections = self.takedowns = 0
        self.fines = 0.0

    def update_filter(self) -> None:
        """Catch probability of this jurisdiction's compliance filter, per category."""
        nodes = self.model.scenario.nodes
        for name, cat in self.model.scenario.categories.items():
            if name in self.prohibited:
                self.filter[name] = nodes.filter_recall
            elif any(other in self.prohibited for other in cat.resembles):
                self.filter[name] = nodes.filter_false_positive
            else:
                self.filter[name] = 0.0

    def enforce(self) -> None:
        """Audit nodes in reach, fine detected violators, take down what it can."""
        model = self.model
        e = self.enforcement
        self.audits = self.detections = self.takedowns = 0
        self.fines = 0.0
        candidates = []
        for node in model.node_list:
            if not node.active:
                continue
            if node.jurisdiction is self:
                candidates.append((node, node.host_violations > 0))
            elif self in node.foreign_served and (
                e.extraterritorial or model.treaty_partners(self, node.jurisdiction)
            ):
                candidates.append((node, node.foreign_violations.get(self, 0) > 0))
        if not candidates:
            return
        n_audits = int(model.rng.binomial(len(candidates), e.audit_rate))
        if e.budget_usd_per_day is not None and e.audit_cost_usd > 0:
            n_audits = min(n_audits, math.floor(e.budget_usd_per_day / e.audit_cost_usd))
        self.audits = n_audits
        for node, violated in self.random.sample(candidates, n_audits):
            if not (violated and self.random.random() < e.detection_probability):
                continue
            self.detections += 1
            fine = max(e.fine_min_usd, e.fine_share_of_annual_revenue * node.annual_revenue())
            node.fines_total += fine
            self.fines += fine
            can_take_down = node.jurisdiction is self or model.treaty_partners(
                self, node.jurisdiction
            )
            if can_take_down and self.random.random() < e.takedown_probability:
                node.active = False
                node.status = "taken_down"
                self.takedowns += 1


class NodeAgent(mesa.Agent):
    """A compute node serving one model kind."""

    def __init__(
        self, model: ReferenceModel, jurisdiction: JurisdictionAgent, *, born: int = -1
    ) -> None:
        super().__init__(model)
        spec = model.scenario.nodes
        self.jurisdiction = jurisdiction
        mix = jurisdiction.spec.model_mix
        kinds = list(mix)
        self.model_kind = self.random.choices(kinds, weights=[mix[k] for k in kinds])[0]
        self.compliant = self.random.random() < jurisdiction.spec.compliance_share
        self.capacity = max(
            1, round(spec.capacity_per_day * model.rng.lognormal(0.0, spec.capacity_dispersion))
        )
        self.price = spec.price_usd_per_request * model.rng.lognormal(0.0, spec.price_dispersion)
        self.born = born
        self.active = True
        self.status = "active"
        self.remaining = 0
        self.served_total = 0
        self.revenue_total = 0.0
        self.fines_total = 0.0
        self.host_violations = 0
        self.foreign_violations: dict[JurisdictionAgent, int] = {}
        self.foreign_served: set[JurisdictionAgent] = set()

    def routing_weight(self) -> float:
        """capacity x price^-price_elasticity x quality^quality_elasticity."""
        market = self.model.scenario.market
        quality = self.model.scenario.models[self.model_kind].quality
        return (
            self.capacity
            * self.price**-market.price_elasticity
            * quality**market.quality_elasticity
        )

    def start_day(self) -> None:
        """Reset the day's capacity and evidence."""
        self.remaining = self.capacity if self.active else 0
        self.host_violations = 0
        self.foreign_violations = {}
        self.foreign_served = set()

    def annual_revenue(self) -> float:
        """Mean daily revenue since joining (today included), annualised."""
        days = max(1, self.model.step_index + 1 - max(self.born, 0))
        return self.revenue_total / days * DAYS_PER_YEAR

    def handle(self, requester: RequesterAgent, category: str) -> str:
        """Serve or refuse one attempt: SERVED, REFUSED, or FULL (no capacity left)."""
        if self.remaining <= 0:
            return FULL
        self.remaining -= 1
        model = self.model
        apparent = requester.apparent
        host = self.jurisdiction
        # KYC gate
        if category in model.kyc_categories and not requester.verified and self.compliant:
            ae = apparent.enforcement
            if host.enforcement.kyc_mandate or (ae.kyc_mandate and ae.extraterritorial):
                model.tally["kyc_blocked"] += 1
                return REFUSED
        kind = model.scenario.models[self.model_kind]
        r_model = kind.refusal[category]
        if self.random.random() < requester.profile.jailbreak_attempt:
            r_model *= 1.0 - kind.jailbreak_susceptibility
        r_filter = 0.0
        if self.compliant:
            r_filter = host.filter[category]
            if apparent.enforcement.extraterritorial:
                r_filter = max(r_filter, apparent.filter[category])
        p_refuse = 1.0 - (1.0 - r_model) * (1.0 - r_filter)
        if self.random.random() < p_refuse:
            return REFUSED
        # served: book revenue and evidence
        self.served_total += 1
        self.revenue_total += self.price
        if category in host.prohibited:
            self.host_violations += 1
        if apparent is not host:
            self.foreign_served.add(apparent)
            if category in apparent.prohibited:
                self.foreign_violations[apparent] = self.foreign_violations.get(apparent, 0) + 1
        return SERVED


class RequesterAgent(mesa.Agent):
    """A person or organisation sending requests."""

    def __init__(self, model: ReferenceModel, jurisdiction: JurisdictionAgent, kind: str) -> None:
        super().__init__(model)
        self.jurisdiction = jurisdiction
        self.kind = kind
        self.profile = model.scenario.requesters.kinds[kind]
        self.vpn = self.random.random() < self.profile.vpn_use
        self.apparent = jurisdiction
        if self.vpn:
            exits = [
                j
                for j in model.jurisdiction_list
                if j is not jurisdiction and not j.enforcement.geo_block_foreign
            ]
            weights = [j.spec.hosting_share for j in exits]
            if sum(weights) > 0:
                self.apparent = self.random.choices(exits, weights=weights)[0]
        self.verified = self.random.random() < self.profile.kyc_verified
        mix = self.profile.category_mix
        self.categories = list(mix)
        self.category_weights = [mix[c] for c in self.categories]

    def step(self) -> None:
        """Send today's requests; with immediate retries, see each one through."""
        n = self.model.rng.poisson(self.profile.requests_per_day)
        if n == 0:
            return
        model = self.model
        for category in self.random.choices(self.categories, weights=self.category_weights, k=n):
            request = Request(self, category)
            model.requests.append(request)
            if model.retry_timing == "immediate":
                while request.status is None:
                    request.attempt()


class Request:
    """One request and its attempts so far."""

    __slots__ = ("requester", "category", "attempts", "last", "status", "node")

    def __init__(self, requester: RequesterAgent, category: str) -> None:
        self.requester = requester
        self.category = category
        self.attempts = 0
        self.last: NodeAgent | None = None
        self.status: str | None = None  # served / refused / dropped once final
        self.node: NodeAgent | None = None

    def attempt(self) -> None:
        """Make one attempt; set ``status`` if it is the last."""
        requester = self.requester
        model = requester.model
        node = model.pick_node(requester.apparent)
        self.attempts += 1
        model.tally["attempts"] += 1
        if node is None:
            self.status = "dropped"
            return
        if node is self.last:  # a retry goes to another node: redraw once
            node = model.pick_node(requester.apparent)
        self.last = node
        result = node.handle(requester, self.category)
        if result == SERVED:
            self.status, self.node = SERVED, node
        elif self.attempts > requester.profile.persistence:
            self.status = "refused" if result == REFUSED else "dropped"


class ReferenceModel(mesa.Model):
    """The reference model: requesters, nodes and jurisdictions as Mesa agents.

    Args:
        scenario: A validated scenario (or a preset name / path) using only the core
            rules (see :func:`unsupported_features`).
        seed: Seed of ``model.random`` and ``model.rng`` (default: the scenario's).
        retry_timing: "immediate" (default) or "rounds"; see the module docstring.
    """

    def __init__(
        self, scenario: Scenario | str, *, seed: int | None = None, retry_timing: str = "immediate"
    ) -> None:
        if retry_timing not in ("immediate", "rounds"):
            raise ValueError(f"retry_timing must be 'immediate' or 'rounds', got {retry_timing!r}")
        self.retry_timing = retry_timing
        scenario = load_scenario(scenario)
        unsupported = unsupported_features(scenario)
        if unsupported:
            raise NotImplementedError(
                "the reference implements the core rules only; this scenario uses: "
                + ", ".join(unsupported)
            )
        self.seed = scenario.seed if seed is None else int(seed)
        super().__init__(rng=self.seed)
        self.scenario = scenario
        self.step_index = -1
        self.kyc_categories = set(scenario.kyc_categories())
        self.jurisdiction_list = [
            JurisdictionAgent(self, name, i, spec)
            for i, (name, spec) in enumerate(scenario.jurisdictions.items())
        ]
        self.by_name = {j.name: j for j in self.jurisdiction_list}
        self.treaties: set[frozenset[str]] = set()
        for group in scenario.treaties:
            self.sign_treaty(group)
        hosting = [j.spec.hosting_share for j in self.jurisdiction_list]
        self.node_list: list[NodeAgent] = []
        for jur, count in zip(
            self.jurisdiction_list, apportion(scenario.nodes.count, hosting), strict=True
        ):
            self.node_list += [NodeAgent(self, jur) for _ in range(int(count))]
        resident = [j.spec.requester_share for j in self.jurisdiction_list]
        kind_shares = [scenario.requesters.kinds[k].share for k in REQUESTER_KINDS]
        for jur, count in zip(
            self.jurisdiction_list, apportion(scenario.requesters.count, resident), strict=True
        ):
            for kind, n in zip(REQUESTER_KINDS, apportion(int(count), kind_shares), strict=True):
                for _ in range(int(n)):
                    RequesterAgent(self, jur, kind)
        self.requesters = self.agents_by_type[RequesterAgent]
        self.jurisdiction_set = mesa.agent.AgentSet(self.jurisdiction_list, random=self.random)
        self.events_at = defaultdict(list)
        for event in scenario.timeline:
            self.events_at[event.step].append(event)
        self.tally: defaultdict = defaultdict(int)
        self.routes: dict = {}
        self.datacollector = mesa.DataCollector(
            model_reporters={name: (lambda m, name=name: m.headline[name]) for name in HEADLINE}
        )

    # ------------------------------------------------------------------ schedule

    def step(self) -> None:
        """One day: requesters send, nodes serve, jurisdictions enforce, events fire."""
        self.step_index = self.steps - 1
        for node in self.node_list:
            node.start_day()
        for jur in self.jurisdiction_list:
            jur.update_filter()
        self.routes = {}
        self.tally = defaultdict(int)
        self.requests: list[Request] = []
        self.requesters.shuffle_do("step")
        if self.retry_timing == "rounds":
            pending = self.requests
            while pending:
                self.random.shuffle(pending)
                for request in pending:
                    request.attempt()
                pending = [r for r in pending if r.status is None]
        self.count_requests()
        self.jurisdiction_set.do("enforce")
        self.headline = self.compute_headline()
        self.datacollector.collect(self)
        for event in self.events_at.get(self.step_index, []):
            self.apply_event(event)

    def run(self, steps: int | None = None):
        """Run ``steps`` steps (default: the scenario's) and return the per-step table."""
        for _ in range(self.scenario.steps if steps is None else steps):
            self.step()
        return self.datacollector.get_model_vars_dataframe()

    def pick_node(self, apparent: JurisdictionAgent) -> NodeAgent | None:
        """A node reachable from ``apparent``, weighted by routing weight (None: no node)."""
        route = self.routes.get(apparent)
        if route is None:
            if apparent.enforcement.geo_block_foreign:
                nodes = [n for n in self.node_list if n.active and n.jurisdiction is apparent]
            else:
                nodes = [n for n in self.node_list if n.active]
            cum, total = [], 0.0
            for n in nodes:
                total += n.routing_weight()
                cum.append(total)
            route = self.routes[apparent] = (nodes, cum, total)
        nodes, cum, total = route
        if total <= 0:
            return None
        return self.random.choices(nodes, cum_weights=cum)[0]

    def count_requests(self) -> None:
        """Tally the step's requests by kind and final status."""
        tally = self.tally
        seeking: set[RequesterAgent] = set()
        completed: set[RequesterAgent] = set()
        categories = self.scenario.categories
        for request in self.requests:
            requester, kind = request.requester, request.requester.kind
            tally["emitted", kind] += 1
            tally[request.status, kind] += 1
            if request.status == SERVED and request.node.jurisdiction is not requester.jurisdiction:
                tally["served_foreign"] += 1
            if request.category in requester.jurisdiction.prohibited:
                tally["prohibited_requests"] += 1
                tally["prohibited_served"] += request.status == SERVED
            if kind == "malicious" and categories[request.category].harmful:
                seeking.add(requester)
                tally["harmful_requests"] += 1
                if request.status == SERVED:
                    completed.add(requester)
                    tally["harmful_completed"] += 1
        tally["malicious_seeking"] = len(seeking)
        tally["malicious_completed"] = len(completed)

    def compute_headline(self) -> dict[str, float]:
        """This step's headline numbers from the tallies."""
        t = self.tally
        kinds = REQUESTER_KINDS
        emitted = sum(t["emitted", k] for k in kinds)
        served = sum(t[SERVED, k] for k in kinds)
        return dict(
            requests_emitted=emitted,
            requests_served=served,
            requests_refused=sum(t["refused", k] for k in kinds),
            requests_dropped=sum(t["dropped", k] for k in kinds),
            attempts=t["attempts"],
            harmful_requests=t["harmful_requests"],
            harmful_completed=t["harmful_completed"],
            harm_completion_rate=_ratio(t["harmful_completed"], t["harmful_requests"]),
            benign_over_refusal=_ratio(t["refused", "benign"], t["emitted", "benign"]),
            dual_use_over_refusal=_ratio(t["refused", "dual_use"], t["emitted", "dual_use"]),
            malicious_success_share=_ratio(t["malicious_completed"], t["malicious_seeking"]),
            cross_border_share=_ratio(t["served_foreign"], served),
            policy_leakage=_ratio(t["prohibited_served"], t["prohibited_requests"]),
            kyc_blocked=t["kyc_blocked"],
            active_nodes=sum(1 for n in self.node_list if n.active),
            audits=sum(j.audits for j in self.jurisdiction_list),
            violations_detected=sum(j.detections for j in self.jurisdiction_list),
            takedowns=sum(j.takedowns for j in self.jurisdiction_list),
            fines_usd=sum(j.fines for j in self.jurisdiction_list),
        )

    # ------------------------------------------------------------------ treaties & events

    def sign_treaty(self, members) -> None:
        """Link every pair of members."""
        members = list(members)
        for a in members:
            for b in members:
                if a != b:
                    self.treaties.add(frozenset((a, b)))

    def treaty_partners(self, a: JurisdictionAgent, b: JurisdictionAgent) -> bool:
        """Whether two jurisdictions are linked by a treaty."""
        return a is not b and frozenset((a.name, b.name)) in self.treaties

    def apply_event(self, event) -> None:
        """Apply one timeline event."""
        if event.kind == "policy_change":
            jur = self.by_name[event.jurisdiction]
            jur.prohibited |= set(event.prohibit)
            jur.prohibited -= set(event.allow)
        elif event.kind == "enforcement_change":
            jur = self.by_name[event.jurisdiction]
            jur.enforcement = jur.enforcement.model_copy(
                update=event.changes.model_dump(exclude_none=True)
            )
        elif event.kind == "treaty_signed":
            self.sign_treaty(event.jurisdictions)
        elif event.kind == "model_release":
            scope = None if event.jurisdictions is None else set(event.jurisdictions)
            for node in self.node_list:
                if node.active and (scope is None or node.jurisdiction.name in scope):
                    if self.random.random() < event.adoption_share:
                        node.model_kind = event.model
        elif event.kind == "node_shock":
            scope = (
                [self.by_name[event.jurisdiction]]
                if event.jurisdiction is not None
                else self.jurisdiction_list
            )
            active = [n for n in self.node_list if n.active and n.jurisdiction in scope]
            n = event.count + round(event.fraction * len(active))
            if event.action == "remove":
                for node in self.random.sample(active, min(n, len(active))):
                    node.active = False
                    node.status = "exited"
            else:
                shares = [j.spec.hosting_share for j in scope]
                if sum(shares) == 0:
                    shares = [1.0] * len(scope)
                for jur, count in zip(scope, apportion(n, shares), strict=True):
                    self.node_list += [
                        NodeAgent(self, jur, born=self.step_index + 1) for _ in range(int(count))
                    ]


def unsupported_features(scenario: Scenario) -> list[str]:
    """Features of ``scenario`` beyond the core rules this reference implements."""
    found = []
    adaptation = getattr(scenario, "adaptation", None)
    if adaptation is not None and getattr(adaptation, "enabled", False):
        found.append("adaptation.enabled")
    if scenario.market.protocol != "open":
        found.append(f"market.protocol={scenario.market.protocol}")
    policy = getattr(scenario, "policy_dynamics", None)
    if policy is not None and getattr(policy, "enabled", False):
        found.append("policy_dynamics.enabled")
    for kind_name, profile in scenario.requesters.kinds.items():
        for field in ("kyc_give_up", "memory", "loyalty", "word_of_mouth"):
            if getattr(profile, field, 0.0):
                found.append(f"requesters.kinds.{kind_name}.{field}")
    for name, kind in scenario.models.items():
        if not getattr(kind, "available", True):
            found.append(f"models.{name}.available=false")
    for i, event in enumerate(scenario.timeline):
        if event.kind == "model_release" and (
            getattr(event, "innovation", 0.0)
            or getattr(event, "imitation", 0.0)
            or getattr(event, "variants", None)
        ):
            found.append(f"timeline.{i}: model diffusion (innovation/imitation/variants)")
    return found
