"""Serving kernel: route each request, let the node serve or refuse, retry on refusal.

Pure functions on arrays, one entry per request. A request makes up to
``1 + persistence`` attempts. Each attempt is routed (:meth:`sim.routing.RoutingTable.route`),
must find room at the node (:func:`sim.routing.admit`), and is then refused with the node's
refusal probability for the request's category (model refusal, possibly defeated by a
jailbreak, combined with the node's compliance filter) or blocked by a KYC gate. A
failed attempt is retried on another node while attempts remain. Each request ends in
exactly one final status, so ``served + refused + dropped == emitted``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.routing import RoutingTable, admit

SERVED, REFUSED, DROPPED = 1, 2, 3
STATUS_NAMES = {SERVED: "served", REFUSED: "refused", DROPPED: "dropped"}


@dataclass(frozen=True)
class Demand:
    """One step's requests (length n each)."""

    requester: np.ndarray  #: requester index
    category: np.ndarray  #: category index
    apparent: np.ndarray  #: jurisdiction the market sees (residence, or VPN exit)
    persistence: np.ndarray  #: retries allowed after a failed attempt
    jailbreak: np.ndarray  #: probability that an attempt carries a jailbreak
    verified: np.ndarray  #: bool, holds a (possibly forged) verified identity
    kyc_give_up: np.ndarray  #: probability of abandoning after a KYC gate
    preferred: np.ndarray  #: node tried first (the requester's remembered node), -1: none

    @property
    def size(self) -> int:
        """Number of requests."""
        return int(self.requester.size)


@dataclass(frozen=True)
class ServingRules:
    """What each node does with each category, as flat lookup arrays.

    ``N`` nodes, ``C`` categories, ``J`` jurisdictions. Flat (X*C,) arrays are indexed
    ``x * C + category``.
    """

    n_categories: int
    refusal: np.ndarray  #: (N*C,) model refusal probability
    susceptibility: np.ndarray  #: (N,) jailbreak success probability of the node's model
    node_filter: np.ndarray  #: (N*C,) host filter catch probability (0 unless compliant)
    ext_filter: np.ndarray  #: (J*C,) filter imposed abroad (0 unless extraterritorial)
    compliant: np.ndarray  #: (N,) bool
    kyc_node: np.ndarray  #: (N,) bool, node gates KYC categories for everyone
    kyc_ext: np.ndarray  #: (J,) bool, apparent jurisdiction imposes KYC extraterritorially
    kyc_category: np.ndarray  #: (C,) bool, category behind KYC
    gateway_refusal: np.ndarray  #: (C,) probability a central gateway refuses (0: none)
    gateway_kyc: np.ndarray  #: (C,) bool, gateway serves only verified users

    @property
    def extraterritorial(self) -> bool:
        """Whether any jurisdiction imposes a filter abroad."""
        return bool(self.ext_filter.any())

    @property
    def kyc(self) -> bool:
        """Whether any KYC gate can stop anything."""
        return bool(((self.kyc_node.any() or self.kyc_ext.any()) and self.kyc_category.any())
                    or self.gateway_kyc.any())


@dataclass(frozen=True)
class Outcome:
    """Final fate of each request (length n each) and step counters."""

    status: np.ndarray  #: int8, SERVED, REFUSED or DROPPED
    node: np.ndarray  #: int64 serving node, -1 unless served
    attempts: np.ndarray  #: int16, attempts made (>= 1)
    first_node: np.ndarray  #: int64 node of the first attempt (-1: none reached)
    kyc_blocked: int  #: attempts refused by a KYC gate
    arrivals: np.ndarray  #: (N*C,) attempts that reached each node, by category


def refusal_probability(node: np.ndarray, category: np.ndarray, apparent: np.ndarray,
                        jailbroken: np.ndarray, rules: ServingRules) -> np.ndarray:
    """Probability that an attempt is refused on content grounds.

    ``1 - (1 - r_model) * (1 - r_filter) * (1 - r_gateway)``, where ``r_model`` is the
    model's refusal probability, scaled by ``1 - susceptibility`` when the attempt is
    jailbroken, ``r_filter`` the larger of the host filter and the apparent
    jurisdiction's extraterritorial filter (both only on compliant nodes), and
    ``r_gateway`` a central gateway's filter.
    """
    c = rules.n_categories
    r_model = rules.refusal[node * c + category]
    r_model = np.where(jailbroken, r_model * (1.0 - rules.susceptibility[node]), r_model)
    r_filter = rules.node_filter[node * c + category]
    if rules.extraterritorial:
        extra = rules.ext_filter[apparent * c + category] * rules.compliant[node]
        r_filter = np.maximum(r_filter, extra)
    return 1.0 - (1.0 - r_model) * (1.0 - r_filter) * (1.0 - rules.gateway_refusal[category])


def kyc_blocks(node: np.ndarray, category: np.ndarray, apparent: np.ndarray,
               verified: np.ndarray, rules: ServingRules) -> np.ndarray:
    """True where a KYC gate stops an attempt without a verified identity: a gated node
    or jurisdiction on a KYC category, or the gateway on one of its KYC categories."""
    gated = rules.kyc_node[node] | (rules.kyc_ext[apparent] & rules.compliant[node])
    return ((gated & rules.kyc_category[category]) | rules.gateway_kyc[category]) & ~verified


def serve(demand: Demand, group: np.ndarray, rules: ServingRules, routing: RoutingTable,
          remaining: np.ndarray, rng: np.random.Generator) -> Outcome:
    """Route, admit, serve or refuse every request, with retries on failure.

    Args:
        demand: the step's requests.
        group: (n,) reach group of each request (see :mod:`sim.market`).
        rules: refusal, filter and KYC lookups.
        routing: the step's routing distributions.
        remaining: (N,) int capacity left this step; consumed in place.
        rng: the run's generator.

    Returns:
        The final status, serving node and attempt count of each request.
    """
    n = demand.size
    status = np.zeros(n, dtype=np.int8)
    served_by = np.full(n, -1, dtype=np.int64)
    attempts = np.zeros(n, dtype=np.int16)
    last_node = np.full(n, -1, dtype=np.int64)
    first_node = np.full(n, -1, dtype=np.int64)
    kyc_blocked = 0
    check_kyc = rules.kyc
    reached_cells = []
    pending = np.arange(n, dtype=np.int64)
    first_round = True
    while pending.size:
        apparent, reach = demand.apparent[pending], group[pending]
        node = routing.route(reach, rng)
        if first_round:  # go to the remembered node where possible
            node = np.where(routing.reaches(reach, demand.preferred), demand.preferred, node)
            first_node[:] = node
        else:
            same = (node == last_node[pending]) & (node >= 0)
            if same.any():  # a retry goes to another node: redraw once
                node[same] = routing.route(reach[same], rng)
        attempts[pending] += 1
        reached = node >= 0
        status[pending[~reached]] = DROPPED  # nowhere to go: retrying cannot help
        tried, node, apparent = pending[reached], node[reached], apparent[reached]
        last_node[tried] = node
        admitted = admit(node, remaining, rng)
        category = demand.category[tried]
        reached_cells.append(node * rules.n_categories + category)
        jailbroken = rng.random(tried.size) < demand.jailbreak[tried]
        p_refuse = refusal_probability(node, category, apparent, jailbroken, rules)
        refused = rng.random(tried.size) < p_refuse
        gave_up = np.zeros(tried.size, dtype=bool)
        if check_kyc:
            blocked = kyc_blocks(node, category, apparent, demand.verified[tried], rules) & admitted
            refused |= blocked
            kyc_blocked += int(blocked.sum())
            gave_up = blocked & (rng.random(tried.size) < demand.kyc_give_up[tried])
        ok = admitted & ~refused
        status[tried[ok]] = SERVED
        served_by[tried[ok]] = node[ok]
        failed = ~ok
        out_of_tries = (attempts[tried] > demand.persistence[tried]) | gave_up
        final = failed & out_of_tries
        status[tried[final]] = np.where(admitted[final], REFUSED, DROPPED)
        pending = tried[failed & ~out_of_tries]
        first_round = False
    cells = np.concatenate(reached_cells) if reached_cells else np.zeros(0, dtype=np.int64)
    arrivals = np.bincount(cells, minlength=remaining.size * rules.n_categories)
    return Outcome(status=status, node=served_by, attempts=attempts, first_node=first_node,
                   kyc_blocked=kyc_blocked, arrivals=arrivals)
