"""Serving kernel: route each request, let the node serve or refuse, retry on refusal.

Pure functions on arrays, one entry per request. A request makes up to
``1 + persistence`` attempts. Behind a central gateway, an attempt may first be stopped
there (:func:`gateway_stops`). Otherwise it is routed
(:meth:`sim.engine.kernels.routing.RoutingTable.route`), must find room at the node
(:func:`sim.engine.kernels.routing.admit`), and is then refused with the node's refusal
probability for the request's category (model refusal, possibly defeated by a jailbreak,
combined with the node's compliance filter) or blocked by a KYC gate. A failed attempt is retried on
another node while attempts remain. Each request ends in
exactly one final status, so ``served + refused + dropped == emitted``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from sim.engine.kernels.routing import RoutingTable, admit

__all__ = [
    "DROPPED",
    "DROPPED_NODE",
    "Demand",
    "REFUSED",
    "REFUSED_NODE",
    "SERVED",
    "ServingResult",
    "ServingRules",
    "gateway_stops",
    "refusal_probability",
    "serve",
]

SERVED, REFUSED, DROPPED = 1, 2, 3  #: final status codes (``ServingResult.status``)

#: ``ServingResult.node`` of a request no node served: refused (by a node, a KYC gate or the
#: gateway), or dropped (no node had room, or none was reachable).
REFUSED_NODE, DROPPED_NODE = -1, -2


@dataclass(frozen=True)
class Demand:
    """One step's requests (length n each)."""

    requester: np.ndarray  #: requester index
    category: np.ndarray  #: category index
    cell: np.ndarray  #: (block, category) cell: ``block * C + category``, where the
    #: block is the requester's (residence x kind: ``jurisdiction * K + kind``)
    apparent: np.ndarray  #: jurisdiction the market sees (residence, or VPN exit)
    persistence: np.ndarray  #: retries allowed after a failed attempt
    jailbreak: np.ndarray  #: probability that an attempt carries a jailbreak
    verified: np.ndarray  #: bool, holds a (possibly forged) verified identity
    kyc_give_up: np.ndarray  #: probability of abandoning after a KYC gate
    preferred: np.ndarray  #: node tried first (the requester's remembered node), -1: none
    category_start: np.ndarray  #: (C+1,) requests come category by category: those of
    #: category c are ``category_start[c]:category_start[c+1]``

    @property
    def size(self) -> int:
        """Number of requests."""
        return int(self.requester.size)

    def of_categories(self, categories: np.ndarray, *arrays: np.ndarray) -> list[np.ndarray]:
        """Each of ``arrays`` (one entry per request) restricted to the requests in
        ``categories`` (ascending indices), in request order: a view where the categories
        are adjacent (their requests are one run), else a copy."""
        start = self.category_start.tolist()
        runs: list[list[int]] = []
        for c in categories.tolist():
            if runs and runs[-1][1] == start[c]:  # adjacent to the previous run: extend it
                runs[-1][1] = start[c + 1]
            else:
                runs.append([start[c], start[c + 1]])
        if len(runs) == 1:
            return [a[runs[0][0] : runs[0][1]] for a in arrays]
        return [np.concatenate([a[i:j] for i, j in runs] or [a[:0]]) for a in arrays]


@dataclass(frozen=True)
class ServingRules:
    """What each kind of node does with each category, as flat lookup arrays.

    A node's rules follow from a few of its traits (host, model kind, compliance), so the
    arrays have one row per *node type* and ``node_type`` gives each node's row (None:
    one row per node). ``T`` rows, ``C`` categories, ``J`` jurisdictions. Flat (X*C,)
    arrays are indexed ``x * C + category``. The tables the serving loop reads are then
    as small as the types, whatever the number of nodes.
    """

    n_categories: int
    refusal: np.ndarray  #: (T*C,) model refusal probability
    susceptibility: np.ndarray  #: (T,) jailbreak success probability of the model
    node_filter: np.ndarray  #: (T*C,) host filter catch probability (0 unless compliant)
    ext_filter: np.ndarray  #: (J*C,) filter imposed abroad (0 unless extraterritorial)
    compliant: np.ndarray  #: (T,) bool
    kyc_node: np.ndarray  #: (T,) bool, node gates KYC categories for everyone
    kyc_ext: np.ndarray  #: (J,) bool, apparent jurisdiction imposes KYC extraterritorially
    kyc_category: np.ndarray  #: (C,) bool, category behind KYC
    gateway_refusal: np.ndarray  #: (C,) probability a central gateway refuses (0: none)
    gateway_kyc: np.ndarray  #: (C,) bool, gateway serves only verified users
    node_type: np.ndarray | None = None  #: (N,) int, each node's row (None: row = node)

    def rows(self, node: np.ndarray) -> np.ndarray:
        """The row of the rules of each of ``node`` (ids >= 0)."""
        return node if self.node_type is None else self.node_type[node]

    @cached_property
    def pass_table(self) -> np.ndarray:
        """(F+1, 2, T*C) probability that an attempt passes (``1 - refusal_probability``):
        by the filter abroad it meets (row 0: none; row 1+f: that of the f-th jurisdiction
        filtering abroad), not jailbroken or jailbroken, node type and category."""
        n_types = self.susceptibility.size
        model = self.refusal * (1 - np.repeat(self.susceptibility, self.n_categories))
        rows = [[(1 - self.refusal) * (1 - self.node_filter), (1 - model) * (1 - self.node_filter)]]
        node = np.repeat(np.arange(n_types), self.n_categories)
        category = np.tile(np.arange(self.n_categories), n_types)
        for j in np.flatnonzero(self.pass_offset):
            apparent = np.full(node.size, j)
            rows.append(
                [
                    1.0
                    - refusal_probability(
                        node, category, apparent, np.full(node.size, jailbroken), self
                    )
                    for jailbroken in (False, True)
                ]
            )
        return np.array(rows, dtype=np.float64).reshape(len(rows), 2, node.size)

    @cached_property
    def pass_offset(self) -> np.ndarray:
        """(J,) offset into the flat :attr:`pass_table` of the row of requests appearing in
        each jurisdiction (0 unless it filters abroad); add ``T*C`` if jailbroken."""
        filtering = self.ext_filter.reshape(-1, self.n_categories).any(axis=1)
        row = np.zeros(filtering.size, dtype=np.int64)
        row[filtering] = 1 + np.arange(filtering.sum())
        return row * 2 * self.susceptibility.size * self.n_categories

    @cached_property
    def kyc_gate(self) -> np.ndarray:
        """(J*T,) bool, indexed ``apparent * T + node type``: an attempt meets a KYC gate
        at the node (the node gates its KYC categories for everyone, or the apparent
        jurisdiction imposes KYC abroad and the node complies)."""
        gate = self.kyc_node[None, :] | (self.kyc_ext[:, None] & self.compliant[None, :])
        return gate.ravel()

    @cached_property
    def gateway(self) -> bool:
        """Whether a central gateway stands in front of the nodes."""
        return bool(self.gateway_refusal.any() or self.gateway_kyc.any())

    @cached_property
    def extraterritorial(self) -> bool:
        """Whether any jurisdiction imposes a filter abroad."""
        return bool(self.ext_filter.any())

    @cached_property
    def kyc(self) -> bool:
        """Whether a node-level KYC gate can stop anything."""
        return bool((self.kyc_node.any() or self.kyc_ext.any()) and self.kyc_category.any())


@dataclass(frozen=True)
class ServingResult:
    """Final fate of each request (length n each) and step counters."""

    node: np.ndarray  #: int64 serving node; REFUSED_NODE or DROPPED_NODE if not served
    attempts: np.ndarray  #: int16, attempts made (>= 1)
    first_node: np.ndarray  #: int64 node of the first attempt (-1 here: none reached)
    retried: np.ndarray  #: requests that made more than one attempt (all others made one)
    kyc_blocked: int  #: attempts refused by a KYC gate
    reached: list[tuple[np.ndarray, np.ndarray]]  #: node and request of the attempts
    #: that reached a node, one pair per round
    n_cells: int  #: N * C
    n_categories: int  #: C
    category: np.ndarray  #: (n,) category of each request (the demand's)

    @cached_property
    def arrivals(self) -> np.ndarray:
        """(N*C,) attempts that reached each node, by category."""
        n_nodes = self.n_cells // max(self.n_categories, 1)
        return self.arrivals_by(np.arange(n_nodes), n_nodes)

    def arrivals_by(self, group: np.ndarray, n_groups: int) -> np.ndarray:
        """(G*C,) attempts that reached a node, by the node's ``group`` (N,) int in
        [0, G) and category: the sums of :attr:`arrivals` over each group's nodes,
        counted from the attempts."""
        n_cat = self.n_categories
        if not self.reached:
            return np.zeros(n_groups * n_cat, dtype=np.int64)
        cells = [group[node] * n_cat + self.category[request] for node, request in self.reached]
        return np.bincount(np.concatenate(cells), minlength=n_groups * n_cat)

    @cached_property
    def status(self) -> np.ndarray:
        """(n,) int8 final status: SERVED, REFUSED or DROPPED."""
        return np.select(
            [self.served, self.node == REFUSED_NODE], [SERVED, REFUSED], DROPPED
        ).astype(np.int8)

    @cached_property
    def served(self) -> np.ndarray:
        """(n,) bool: the request was served."""
        return self.node >= 0

    @cached_property
    def served_node(self) -> np.ndarray:
        """(s,) serving node of each served request, in request order."""
        return self.node[self.served]


def refusal_probability(
    node: np.ndarray,
    category: np.ndarray,
    apparent: np.ndarray,
    jailbroken: np.ndarray,
    rules: ServingRules,
) -> np.ndarray:
    """Probability that a node refuses an attempt on content grounds (``node``: the
    node's row in ``rules``, its type).

    ``1 - (1 - r_model) * (1 - r_filter)``, where ``r_model`` is the model's refusal
    probability, scaled by ``1 - susceptibility`` when the attempt is jailbroken, and
    ``r_filter`` the larger of the host filter and the apparent jurisdiction's
    extraterritorial filter (both only on compliant nodes).
    """
    c = rules.n_categories
    r_model = rules.refusal[node * c + category]
    r_model = np.where(jailbroken, r_model * (1.0 - rules.susceptibility[node]), r_model)
    r_filter = rules.node_filter[node * c + category]
    if rules.extraterritorial:
        extra = rules.ext_filter[apparent * c + category] * rules.compliant[node]
        r_filter = np.maximum(r_filter, extra)
    return 1.0 - (1.0 - r_model) * (1.0 - r_filter)


def gateway_stops(
    category: np.ndarray,
    verified: np.ndarray,
    give_up: np.ndarray,
    rules: ServingRules,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, int]:
    """A central gateway's decision before routing: its filter catches its prohibited
    categories with its recall (drawn again on every attempt) and its KYC gate stops
    unverified users on its KYC categories.

    Returns:
        ``(stopped, gave_up, stopped_for_kyc)``: which attempts the gateway refused, which
        of them the requester abandons (KYC friction), and how many were KYC stops.
    """
    kyc = rules.gateway_kyc[category] & ~verified
    stopped = kyc | (rng.random(category.size) < rules.gateway_refusal[category])
    gave_up = kyc & (rng.random(category.size) < give_up)
    return stopped, gave_up, int(kyc.sum())


def serve(
    demand: Demand,
    group: np.ndarray,
    rules: ServingRules,
    routing: RoutingTable,
    remaining: np.ndarray,
    rng: np.random.Generator,
) -> ServingResult:
    """Route, admit, serve or refuse every request, with retries on failure.

    Attempts are processed in rounds: every request's first attempt, then the retries
    of those that failed, and so on; a retry therefore meets the capacity left after
    the day's earlier rounds (retries queue behind first attempts).

    Args:
        demand: the step's requests.
        group: (n,) reach group of each request (see :mod:`sim.engine.kernels.reach`).
        rules: refusal, filter and KYC lookups.
        routing: the step's routing distributions.
        remaining: (N,) int capacity left this step; consumed in place.
        rng: the run's generator.

    Returns:
        Each request's serving node (or REFUSED_NODE, DROPPED_NODE: its final status),
        attempt count and first node, and the step's counters.
    """
    n, n_cat = demand.size, rules.n_categories
    # A request ends refused unless a node serves it or it is dropped.
    served_by = np.full(n, REFUSED_NODE, dtype=np.int64)
    attempts = np.ones(n, dtype=np.int16)
    first_node = np.full(n, -1, dtype=np.int64)
    kyc_blocked = 0
    check_kyc = rules.kyc
    arrived = []  # (node, request) of the attempts that reached a node, per round
    idx = np.arange(n, dtype=np.int64)
    last = np.broadcast_to(np.int64(-1), (n,))  # no node to avoid yet (read-only, no copy)
    remembering = bool((demand.preferred >= 0).any())
    if check_kyc:  # requests a KYC gate would stop: unverified, in a KYC category
        exposed = rules.kyc_category[demand.category] & ~demand.verified
    n_types = rules.susceptibility.size
    # Each request's offset into the flat pass table but for its node's type (category,
    # and the row of the filter abroad it meets).
    base = demand.category + rules.pass_offset[demand.apparent]
    # Only requests whose reach group has no node can be left without one.
    stranded = not routing.has_node.all() and not routing.has_node[group].all()
    cell_count = rules.susceptibility.size * n_cat
    retried = idx[:0]
    for round_ in range(int(demand.persistence.max(initial=0)) + 1):
        if idx.size == 0:
            break
        if round_:
            attempts[idx] = round_ + 1
            if round_ == 1:  # every later attempt is by one of these
                retried = idx
        pick = slice(None) if round_ == 0 else idx  # the pending requests' attributes
        offset, reach, jailbreak = base[pick], group[pick], demand.jailbreak[pick]
        carry = idx[:0]  # stopped at the gateway, trying again next round
        if rules.gateway:
            stop, quit_, stopped_for_kyc = gateway_stops(
                demand.category[pick], demand.verified[pick], demand.kyc_give_up[pick], rules, rng
            )
            kyc_blocked += stopped_for_kyc
            final = stop & ((round_ + 1 > demand.persistence[pick]) | quit_)  # refused
            carry = idx[stop & ~final]
            through = ~stop
            idx, last, offset, reach, jailbreak = (
                a[through] for a in (idx, last, offset, reach, jailbreak)
            )
        node = routing.route(reach, rng)
        if round_ == 0:  # go to the remembered node where possible
            if remembering:
                preferred = demand.preferred[idx]
                node = np.where(routing.reaches(reach, preferred), preferred, node)
            if idx.size == n:  # every request (idx is 0..n-1)
                first_node[:] = node
            else:
                first_node[idx] = node
        else:
            same = node == last  # last is -1 only for attempts the gateway carried over
            if rules.gateway:
                same &= node >= 0
            if same.any():  # a retry goes to another node: redraw once
                node[same] = routing.route(reach[same], rng)
        if stranded and not (reached := node >= 0).all():  # nowhere to go: no retry
            served_by[idx[~reached]] = DROPPED_NODE
            idx, node, offset, jailbreak = (a[reached] for a in (idx, node, offset, jailbreak))
        admitted = admit(node, remaining, rng)
        arrived.append((node, idx))
        row = rules.rows(node)  # the node's type
        key = row * n_cat
        key += offset  # into the flat pass table
        trying = (jailbreak > 0).nonzero()[0]
        if trying.size:
            hit = trying[rng.random(trying.size) < jailbreak[trying]]
            key[hit] += cell_count  # the jailbroken half of the row
        refused = rng.random(idx.size) >= np.take(rules.pass_table, key)
        quitting = idx[:0]
        if check_kyc:
            sub = (exposed[idx] & admitted).nonzero()[0]
            if sub.size:
                sub = sub[rules.kyc_gate[demand.apparent[idx[sub]] * n_types + row[sub]]]
                refused[sub] = True
                kyc_blocked += int(sub.size)
                quitting = sub[rng.random(sub.size) < demand.kyc_give_up[idx[sub]]]
        ok = admitted & ~refused
        whole = round_ == 0 and idx.size == n  # idx is 0..n-1: no index arrays needed
        if whole:
            np.copyto(served_by, node, where=ok)
        else:
            served_by[idx[ok]] = node[ok]
        # Failed attempts (a minority): give up, or retry next round.
        failed = (~ok).nonzero()[0]
        pending = failed if whole else idx[failed]
        final = round_ + 1 > demand.persistence[pending]
        if quitting.size:  # positions in idx, as failed are: a mask, not a set search
            gave_up = np.zeros(idx.size, dtype=bool)
            gave_up[quitting] = True
            final |= gave_up[failed]
        # Final failures were refused, or dropped where no node had room.
        served_by[pending[final & ~admitted[failed]]] = DROPPED_NODE
        retry = ~final
        idx, last = pending[retry], node[failed[retry]]
        if carry.size:  # stopped at the gateway: no node to avoid
            idx = np.concatenate([carry, idx])
            last = np.concatenate([np.full(carry.size, -1, dtype=np.int64), last])
    return ServingResult(
        node=served_by,
        attempts=attempts,
        first_node=first_node,
        retried=retried,
        kyc_blocked=kyc_blocked,
        reached=arrived,
        n_cells=remaining.size * n_cat,
        n_categories=n_cat,
        category=demand.category,
    )
