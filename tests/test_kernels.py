"""Array kernels against reference computations."""

from __future__ import annotations

import dataclasses

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.engine.kernels import routing
from sim.engine.kernels.enforcement import Evidence, audit_scope, gather_evidence
from sim.engine.kernels.routing import GUIDE_RESOLUTION, RoutingTable, admit
from sim.engine.kernels.run_sums import Runs
from sim.engine.kernels.serving import (
    DROPPED,
    DROPPED_NODE,
    REFUSED,
    REFUSED_NODE,
    SERVED,
    ServingRules,
    refusal_probability,
)
from sim.engine.model import DiriskModel
from sim.engine.network import Adjacency
from sim.engine.recording import concentration, hhi
from sim.engine.requesters import Requesters
from sim.scenario import load_scenario
from tests.conftest import tiny_scenario


@settings(max_examples=50, deadline=None)
@given(
    n_nodes=st.integers(1, 60),
    n_groups=st.integers(1, 4),
    draws=st.sampled_from([200, 3000]),  # the direct search and the guide-table walk
    seed=st.integers(0, 2**32 - 1),
)
def test_guide_table_draws_equal_searchsorted_on_the_cdf(n_nodes, n_groups, draws, seed):
    rng = np.random.default_rng(seed)
    weights = rng.lognormal(size=n_nodes) * (rng.random(n_nodes) < 0.7)
    reachable = rng.random((n_groups, n_nodes)) < 0.6
    table = RoutingTable.build(weights, reachable)
    group = rng.integers(0, n_groups, draws)
    node = table.route(group, np.random.default_rng(seed))
    u = np.minimum(np.random.default_rng(seed).random(draws), 1 - 1e-9)
    for g in range(n_groups):
        w = np.where(reachable[g], weights, 0.0)
        mine = group == g
        if w.sum() == 0:
            assert (node[mine] == -1).all()
            continue
        cdf = np.cumsum(w) / w.sum()
        expected = np.searchsorted(cdf, u[mine], side="right")
        assert (node[mine] == expected).all()
        assert (w[node[mine]] > 0).all()


@settings(max_examples=50, deadline=None)
@given(n_nodes=st.integers(1, 60), n_groups=st.integers(1, 4), seed=st.integers(0, 2**32 - 1))
def test_guide_cells_point_at_the_first_entry_of_their_cell(n_nodes, n_groups, seed):
    """Each group has an entry per node it can draw (one entry of node -1 if none), and
    guide cell base[g] + k is the index of the first entry of g whose value g + r has
    floor(r * cells[g]) >= k: a lower bound of the answer of every draw in that cell."""
    rng = np.random.default_rng(seed)
    weights = rng.lognormal(size=n_nodes) * (rng.random(n_nodes) < 0.7)
    reachable = rng.random((n_groups, n_nodes)) < 0.6
    table = RoutingTable.build(weights, reachable)
    start = 0
    for g in range(n_groups):
        drawable = np.flatnonzero(reachable[g] & (weights > 0))
        entries = max(drawable.size, 1)
        assert table.cells[g] == GUIDE_RESOLUTION * entries
        values = table.table[start : start + entries]
        nodes = table.node[start : start + entries]
        assert (nodes == (drawable if drawable.size else [-1])).all()
        assert values[-1] == g + 1.0 and (np.diff(values) >= 0).all()
        cell = np.floor((values - g) * table.cells[g]).astype(np.int64)
        for k in range(int(table.cells[g]) + 1):
            assert table.guide[table.base[g] + k] == start + (cell < k).sum()
        start += entries
    assert start == table.table.size


def test_routing_frequencies_follow_the_weights():
    weights = np.array([1.0, 2.0, 0.0, 7.0])
    table = RoutingTable.build(weights, np.ones((1, 4), dtype=bool))
    node = table.route(np.zeros(200_000, dtype=np.int64), np.random.default_rng(0))
    assert np.bincount(node, minlength=4) / node.size == pytest.approx(weights / 10, abs=0.005)


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_nodes=st.integers(1, 30))
def test_admit_fills_each_node_exactly_to_its_remaining_capacity(seed, n_nodes):
    rng = np.random.default_rng(seed)
    remaining = rng.integers(0, 5, n_nodes)
    node = rng.integers(0, n_nodes, rng.integers(0, 100))
    before = remaining.copy()
    admitted = admit(node, remaining, rng)
    load = np.bincount(node, minlength=n_nodes)
    assert (np.bincount(node[admitted], minlength=n_nodes) == np.minimum(load, before)).all()
    assert (remaining == before - np.minimum(load, before)).all()


def random_rules(rng: np.random.Generator, n_nodes: int, n_cat: int, n_jur: int) -> ServingRules:
    compliant = rng.random(n_nodes) < 0.5
    return ServingRules(
        n_categories=n_cat,
        refusal=rng.random(n_nodes * n_cat),
        susceptibility=rng.random(n_nodes),
        node_filter=rng.random(n_nodes * n_cat) * np.repeat(compliant, n_cat),
        ext_filter=rng.random(n_jur * n_cat) * (rng.random(n_jur * n_cat) < 0.5),
        compliant=compliant,
        kyc_node=rng.random(n_nodes) < 0.3,
        kyc_ext=rng.random(n_jur) < 0.3,
        kyc_category=rng.random(n_cat) < 0.5,
        gateway_refusal=rng.random(n_cat),
        gateway_kyc=rng.random(n_cat) < 0.2,
    )


def test_pass_table_equals_one_minus_the_refusal_formula_everywhere():
    """The serving loop's one lookup (pass_offset of the apparent jurisdiction, plus N*C
    if jailbroken, plus node * C + category) gives 1 - refusal_probability, for requests
    appearing in jurisdictions that filter abroad and in those that do not."""
    rng = np.random.default_rng(0)
    n_nodes, n_cat, n_jur = 20, 5, 3
    rules = random_rules(rng, n_nodes, n_cat, n_jur)
    ext = rng.random((n_jur, n_cat))
    ext[1] = 0.0  # jurisdiction 1 imposes no filter abroad
    rules = ServingRules(**{**rules.__dict__, "ext_filter": ext.ravel()})
    node, category, apparent, jailbroken = (
        a.ravel()
        for a in np.meshgrid(
            np.arange(n_nodes), np.arange(n_cat), np.arange(n_jur), [False, True], indexing="ij"
        )
    )
    key = node * n_cat + category + rules.pass_offset[apparent] + jailbroken * n_nodes * n_cat
    p = refusal_probability(node, category, apparent, jailbroken, rules)
    assert rules.pass_offset[1] == 0
    assert np.take(rules.pass_table, key) == pytest.approx(1 - p, abs=1e-15)


def test_refusal_probability_is_a_probability():
    rng = np.random.default_rng(1)
    rules = random_rules(rng, 30, 6, 4)
    node, category = rng.integers(0, 30, 1000), rng.integers(0, 6, 1000)
    p = refusal_probability(node, category, rng.integers(0, 4, 1000), rng.random(1000) < 0.5, rules)
    assert ((p >= 0) & (p <= 1)).all()


def test_kyc_gate_table_equals_its_definition_for_every_jurisdiction_and_node():
    """kyc_gate[j * N + n]: the node gates KYC categories itself, or j imposes KYC abroad
    and the node complies."""
    rules = random_rules(np.random.default_rng(2), 30, 4, 5)
    for j in range(5):
        for n in range(30):
            expected = rules.kyc_node[n] or (rules.kyc_ext[j] and rules.compliant[n])
            assert rules.kyc_gate[j * 30 + n] == expected


@settings(max_examples=40, deadline=None)
@given(shape=st.tuples(st.integers(1, 5), st.integers(1, 8)), seed=st.integers(0, 2**32 - 1))
def test_hhi_is_the_sum_of_squared_shares_row_by_row(shape, seed):
    """hhi over the last axis equals 10,000 x sum(share^2) for each row (0 for an empty
    row), lies in [10,000 / n, 10,000] for a non-empty row of n sellers, and
    concentration(sum of squares, total) gives the same number."""
    rng = np.random.default_rng(seed)
    volume = rng.integers(0, 5, shape) * (rng.random(shape) < 0.7)
    got = hhi(volume)
    for row, value in zip(volume, got, strict=True):
        total = row.sum()
        expected = 0.0 if total == 0 else 10_000 * ((row / total) ** 2).sum()
        assert value == pytest.approx(expected, rel=1e-12, abs=1e-9)
        if total:
            assert 10_000 / row.size - 1e-9 <= value <= 10_000 + 1e-9
    squares = (volume.astype(float) ** 2).sum(axis=1)
    assert concentration(squares, volume.sum(axis=1)) == pytest.approx(got, rel=1e-12, abs=1e-9)


def test_audit_scope_follows_the_reach_rules():
    """Jurisdiction j reaches its own nodes, and foreign nodes that served its apparent
    residents: all of them if extraterritorial, else those hosted by a treaty partner. A
    domestic node violated if it served what its host prohibits; a foreign one if it
    served j's residents what j prohibits."""
    host = np.array([0, 0, 1, 2, 2])
    # jurisdiction 0 is extraterritorial; 1 and 2 are treaty partners; nobody else links
    extraterritorial = np.array([True, False, False])
    partners = np.zeros((3, 3), dtype=bool)
    partners[1, 2] = partners[2, 1] = True
    foreign_reach = np.array(
        [
            [False, False, True, True, False],  # 0's residents were served by nodes 2, 3
            [True, False, False, False, True],  # 1's residents: node 0 (host 0), node 4 (host 2)
            [False, False, False, False, False],
        ]
    )
    evidence = Evidence(
        host_violations=np.array([1, 0, 0, 2, 0]),
        foreign_violations=np.array([[0, 0, 1, 0, 0], [3, 0, 0, 0, 1], [0, 0, 0, 0, 0]]),
        foreign_reach=foreign_reach,
    )
    active = np.ones(5, dtype=bool)
    scope = audit_scope(
        evidence, host=host, active=active, extraterritorial=extraterritorial, partners=partners
    )
    assert scope.in_reach.tolist() == [
        [True, True, True, True, False],  # own nodes 0, 1 + every foreign node that served
        [False, False, True, False, True],  # own node 2 + node 4 (partner 2), not node 0
        [False, False, False, True, True],  # own nodes only
    ]
    assert scope.violated.tolist() == [
        [True, False, True, False, False],  # node 0 by its host's rules; node 2 by 0's
        [True, False, False, False, True],  # node 2 domestic: clean; nodes 0 and 4 by 1's
        [False, False, False, True, False],  # node 3 by its host's rules
    ]


def test_audit_scope_leaves_inactive_nodes_out_of_every_reach():
    """A node that is not active (taken down, exited, relocating) is audited by nobody."""
    host = np.array([0, 1, 1])
    evidence = Evidence(
        host_violations=np.array([1, 1, 1]),
        foreign_violations=np.ones((2, 3), dtype=np.int64),
        foreign_reach=np.ones((2, 3), dtype=bool),
    )
    scope = audit_scope(
        evidence,
        host=host,
        active=np.array([True, False, True]),
        extraterritorial=np.array([True, True]),
        partners=np.zeros((2, 2), dtype=bool),
    )
    assert not scope.in_reach[:, 1].any()
    assert scope.in_reach[:, [0, 2]].all()


@pytest.fixture(scope="module")
def population() -> Requesters:
    spec = load_scenario("classroom_demo")
    return Requesters.create(spec, np.random.default_rng(0))


@settings(max_examples=50, deadline=None)
@given(
    sizes=st.lists(st.integers(0, 6), min_size=1, max_size=6),
    seed=st.integers(0, 2**32 - 1),
)
def test_block_counts_are_distinct_requesters_per_block_even_around_empty_blocks(
    population, sizes, seed
):
    rng = np.random.default_rng(seed)
    start = np.r_[0, np.cumsum(sizes)]
    n = int(start[-1])
    known = np.where(rng.random(n) < 0.5, rng.integers(0, 9, n), -1)
    req = dataclasses.replace(
        population,
        block_start=start,
        known=known,
        kind=np.zeros(n, dtype=np.int64),
        kind_memory=np.full(3, 0.5),  # people can know a node
    )
    groups = [rng.integers(0, n, rng.integers(0, 12)) if n else np.zeros(0, int) for _ in "ab"]
    block = np.repeat(np.arange(len(sizes)), sizes)
    expected = [
        [np.unique(g[block[g] == b]).size for g in groups] + [int((known[block == b] >= 0).sum())]
        for b in range(len(sizes))
    ]
    for _ in range(2):  # the flag buffer is left clean for the next count
        got = np.column_stack(
            [req.block_counts(*((g, None) for g in groups)), req.knowing_counts()]
        )
        assert got.tolist() == expected
    # More rows than any call before (the buffer grows), flagged groups: distinct
    # requesters among the requests whose flag is set.
    flag = rng.random(groups[0].size) < 0.5
    counted = req.block_counts(*((g, None) for g in groups), (groups[0], flag))
    assert counted[:, :2].tolist() == [row[:2] for row in expected]
    assert counted[:, 2].tolist() == [
        np.unique(groups[0][flag & (block[groups[0]] == b)]).size for b in range(len(sizes))
    ]


def _gateway_world() -> dict:
    spec = tiny_scenario(refusal=0.3, persistence=3)
    spec["market"] = {"protocol": "gateway", "gateway": {"prohibited": ["harm"]}}
    spec["market"]["gateway"]["filter_recall"] = 0.5  # carried over to the next round
    return spec


@pytest.mark.parametrize(
    "scenario",
    ["classroom_demo", "defence_in_depth", _gateway_world(), tiny_scenario(capacity=1)],
)
def test_demand_cells_and_retried_requests_match_their_definitions(scenario):
    model = DiriskModel(load_scenario(scenario), seed=4)
    for _ in range(3):
        demand = model.requesters.emit(model.rng)
        outcome = model.market.serve(demand)
        # Requests come category by category, so a category's requests are one run.
        assert (np.diff(demand.category) >= 0).all()
        assert np.array_equal(
            demand.category_start,
            np.r_[
                0, np.cumsum(np.bincount(demand.category, minlength=demand.category_start.size - 1))
            ],
        )
        assert np.array_equal(demand.cell % (demand.category_start.size - 1), demand.category)
        chosen = np.flatnonzero(model.rng.random(demand.category_start.size - 1) < 0.5)
        mine = np.isin(demand.category, chosen)
        who, served = demand.of_categories(chosen, demand.requester, outcome.served)
        assert np.array_equal(who, demand.requester[mine])
        assert np.array_equal(served, outcome.served[mine])
        # The node tells the final status: served there, refused (-1) or dropped (-2).
        assert np.array_equal(outcome.served, outcome.status == SERVED)
        assert np.array_equal(outcome.node == REFUSED_NODE, outcome.status == REFUSED)
        assert np.array_equal(outcome.node == DROPPED_NODE, outcome.status == DROPPED)
        # Only the retried made more than one attempt.
        assert np.array_equal(np.sort(outcome.retried), np.flatnonzero(outcome.attempts > 1))


def _one_step(scenario: dict):
    model = DiriskModel(load_scenario(scenario), seed=3)
    demand = model.requesters.emit(model.rng)
    return demand, model.market.serve(demand)


def test_a_request_no_node_will_serve_ends_refused():
    demand, outcome = _one_step(tiny_scenario(refusal=1.0, persistence=2))
    assert demand.size > 0 and (outcome.node == REFUSED_NODE).all()
    assert (outcome.attempts == 3).all()


def test_requests_beyond_the_capacity_end_dropped():
    demand, outcome = _one_step(tiny_scenario(capacity=1, nodes=40))
    assert outcome.served.sum() == 40  # one request per node
    assert (outcome.node[~outcome.served] == DROPPED_NODE).all()


def test_a_gateway_stop_ends_refused_and_lets_the_rest_through():
    spec = tiny_scenario()
    spec["market"] = {"protocol": "gateway", "gateway": {"prohibited": ["harm"]}}
    spec["market"]["gateway"]["filter_recall"] = 1.0
    demand, outcome = _one_step(spec)
    harm = demand.category == 1
    assert harm.any() and (outcome.node[harm] == REFUSED_NODE).all()
    assert outcome.served[~harm].all()


def test_block_counts_of_a_block_beyond_uint16_are_exact(population):
    """Flags and sums are uint16 while every block fits; a bigger block's flags are
    bools, counted block by block."""
    sizes = [70_000, 3]
    n = sum(sizes)
    req = dataclasses.replace(
        population,
        block_start=np.r_[0, np.cumsum(sizes)],
        known=np.zeros(n, dtype=np.int64),  # everybody knows a node
        kind=np.zeros(n, dtype=np.int64),
        kind_memory=np.full(3, 0.5),
    )
    everyone = np.arange(n)
    served = everyone % 2 == 0
    got = req.block_counts((everyone, None), (everyone, served))
    assert got.tolist() == [[70_000, 35_000], [3, 2]]
    assert req.knowing_counts().ravel().tolist() == sizes


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.integers(0, 4), max_size=7),
    rows=st.integers(1, 3),
    seed=st.integers(0, 2**32 - 1),
)
def test_run_sums_equal_the_sum_of_each_run_and_zero_for_empty_runs(sizes, rows, seed):
    values = np.random.default_rng(seed).integers(0, 100, (rows, sum(sizes))).astype(np.uint16)
    edges = np.r_[0, np.cumsum(sizes)].astype(int)
    expected = [
        [int(row[a:b].sum()) for a, b in zip(edges[:-1], edges[1:], strict=True)] for row in values
    ]
    got = Runs.of(sizes).sums(values)
    assert got.dtype == np.uint16 and got.tolist() == expected


def test_neighbour_mean_is_the_mean_over_each_nodes_neighbours_even_before_isolated_ones():
    """The last nodes without neighbours must not cut the previous node's neighbours short."""
    graph = nx.Graph([(0, 1), (0, 2), (1, 2)])
    graph.add_nodes_from([3, 4])  # isolated, last
    values = np.array([1.0, 3.0, 5.0, 7.0, 9.0])
    mean = Adjacency.of(graph, 5).neighbour_mean(values)
    assert mean.tolist() == [4.0, 3.0, 2.0, 0.0, 0.0]


def full_table_route(weights, reachable, group, u):
    """Reference: search the shifted cumulative weights over all N nodes of every group
    (zero weights included), as a table of G x N entries."""
    n_groups, n_nodes = reachable.shape
    cum = np.cumsum(np.where(reachable, weights, 0.0), axis=1)
    totals = cum[:, -1]
    has = totals > 0
    shifted = np.where(has[:, None], cum / np.where(has, totals, 1.0)[:, None], 1.0)
    table = (shifted + np.arange(n_groups, dtype=np.float64)[:, None]).ravel()
    node = np.where(has[:, None], np.arange(n_nodes), -1).ravel()
    x = np.minimum(u, 1.0 - 1e-9) + group if n_groups > 1 else u
    return node[np.searchsorted(table, x, side="right")]


@settings(max_examples=40, deadline=None)
@given(
    n_nodes=st.integers(1, 3000),
    n_groups=st.integers(1, 6),
    reach=st.sampled_from([0.002, 0.05, 0.9]),  # sparse neighbourhoods to nearly all
    draws=st.sampled_from([300, 5000]),
    seed=st.integers(0, 2**32 - 1),
)
def test_routing_equals_the_search_over_every_nodes_cumulative_weight(
    n_nodes, n_groups, reach, draws, seed
):
    """Entries only for the nodes a group can draw give the node of the full table's
    search, draw for draw, sparse or dense, with empty groups and zero weights."""
    rng = np.random.default_rng(seed)
    weights = rng.lognormal(size=n_nodes) * (rng.random(n_nodes) < 0.8)
    reachable = rng.random((n_groups, n_nodes)) < reach
    group = rng.integers(0, n_groups, draws)
    got = RoutingTable.build(weights, reachable).route(group, np.random.default_rng(seed))
    u = np.random.default_rng(seed).random(draws)
    assert (got == full_table_route(weights, reachable, group, u)).all()


def test_rules_by_node_type_equal_the_rules_built_for_each_node():
    """The serving loop reads one row per node type (host, model kind, compliance): every
    lookup equals that of rules with one row per node, as they were built before."""
    model = DiriskModel(load_scenario("defence_in_depth"), seed=3)  # KYC, filters abroad
    for _ in range(3):
        model.step()
    market, nodes = model.market, model.node_table
    typed = market.serving_rules()
    filters = market.filter_matrix()
    extraterritorial = model.extraterritorial()
    kyc = np.array([a.enforcement.kyc_mandate for a in model.jurisdiction_agents])
    per_node = ServingRules(
        n_categories=len(model.category_names),
        refusal=model.refusal[nodes.model].ravel(),
        susceptibility=model.susceptibility[nodes.model],
        node_filter=(filters[nodes.jurisdiction] * nodes.compliant[:, None]).ravel(),
        ext_filter=(filters * extraterritorial[:, None]).ravel(),
        compliant=nodes.compliant,
        kyc_node=nodes.compliant & kyc[nodes.jurisdiction],
        kyc_ext=kyc & extraterritorial,
        kyc_category=model.kyc_category,
        gateway_refusal=market.protocol.gateway_refusal,
        gateway_kyc=market.protocol.gateway_kyc,
    )
    n_cat, n_jur = len(model.category_names), len(model.jurisdiction_names)
    node, category, apparent, jailbroken = (
        a.ravel()
        for a in np.meshgrid(
            np.arange(nodes.size), np.arange(n_cat), np.arange(n_jur), [0, 1], indexing="ij"
        )
    )
    row, n_types = typed.rows(node), typed.susceptibility.size
    assert typed.pass_offset.any()  # some jurisdiction filters abroad
    typed_key = row * n_cat + category + typed.pass_offset[apparent] + jailbroken * n_types * n_cat
    node_key = node * n_cat + category + per_node.pass_offset[apparent]
    node_key += jailbroken * nodes.size * n_cat
    assert (np.take(typed.pass_table, typed_key) == np.take(per_node.pass_table, node_key)).all()
    gate = per_node.kyc_gate[apparent * nodes.size + node]
    assert gate.any() and (typed.kyc_gate[apparent * n_types + row] == gate).all()


def test_arrivals_by_group_are_the_sums_of_arrivals_over_each_groups_nodes():
    """Attempts by host and category, counted from the attempts, equal the per-node
    counts summed over each host's nodes."""
    model = DiriskModel(load_scenario("eu_ai_act"), seed=2)
    model.step()
    demand = model.requesters.emit(model.rng)
    outcome = model.market.serve(demand)
    nodes, n_cat = model.node_table, len(model.category_names)
    n_jur = len(model.jurisdiction_names)
    per_node = outcome.arrivals.reshape(nodes.size, n_cat)
    expected = np.zeros((n_jur, n_cat), dtype=np.int64)
    np.add.at(expected, nodes.jurisdiction, per_node)
    got = outcome.arrivals_by(nodes.jurisdiction, n_jur).reshape(n_jur, n_cat)
    assert expected.sum() > 0 and (got == expected).all()


def admit_reference(node, remaining, rng):
    """The admission of every node's load at once (bincount over all nodes)."""
    load = np.bincount(node, minlength=remaining.size)
    over = load > remaining
    admitted = np.ones(node.size, dtype=bool)
    if over.any():
        crowded = np.flatnonzero(over[node])
        crowded = crowded[np.argsort(node[crowded] + rng.random(crowded.size))]
        load_over = load[over]
        limit = np.cumsum(load_over) - load_over + remaining[over]
        admitted[crowded] = np.arange(crowded.size) < np.repeat(limit, load_over)
    remaining -= np.minimum(load, remaining)
    return admitted


@settings(max_examples=80, deadline=None)
@given(
    n_nodes=st.sampled_from([1, 50, 400, 20_000, 70_000]),
    attempts=st.integers(0, 600),
    seed=st.integers(0, 2**32 - 1),
)
def test_admit_of_few_attempts_equals_the_count_over_every_node(n_nodes, attempts, seed):
    """A round of few attempts counts only the nodes they reach: the same admissions,
    remaining capacity and draws as counting every node."""
    rng = np.random.default_rng(seed)
    remaining = rng.integers(0, 3, n_nodes)
    node = rng.integers(0, min(n_nodes, 200), attempts)  # some crowded nodes
    mine, theirs = remaining.copy(), remaining.copy()
    ours = admit(node, mine, np.random.default_rng(seed + 1))
    reference = admit_reference(node, theirs, np.random.default_rng(seed + 1))
    assert (ours == reference).all() and (mine == theirs).all()


@settings(max_examples=120, deadline=None)
@given(
    n_nodes=st.sampled_from([1, 50, 400, 20_000, 70_000]),
    attempts=st.integers(0, 3_000),
    reached=st.sampled_from([3, 30, 300]),
    full=st.floats(0.0, 1.0),
    margin=st.sampled_from([routing.CUT_MARGIN, -6]),
    sort_all_below=st.sampled_from([routing.SORT_ALL_BELOW, 0]),
    seed=st.integers(0, 2**32 - 1),
)
def test_admit_orders_only_the_attempts_that_can_get_in(
    n_nodes, attempts, reached, full, margin, sort_all_below, seed
):
    """Attempts at a full node, and at a crowded node those whose uniform is above the
    cut, are turned away without being put in order (a node with fewer attempts below
    the cut than its room orders all of them; a negative margin forces that often, and
    a threshold of 0 chooses among few crowded attempts too): the same admissions,
    remaining capacity and generator state afterwards as ordering every crowded
    attempt."""
    rng = np.random.default_rng(seed)
    remaining = np.where(rng.random(n_nodes) < full, 0, rng.integers(1, 6, n_nodes))
    node = rng.integers(0, min(n_nodes, reached), attempts)
    mine, theirs = remaining.copy(), remaining.copy()
    ours_rng, their_rng = np.random.default_rng(seed + 1), np.random.default_rng(seed + 1)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(routing, "CUT_MARGIN", margin)
        patch.setattr(routing, "SORT_ALL_BELOW", sort_all_below)
        ours = admit(node, mine, ours_rng)
    reference = admit_reference(node, theirs, their_rng)
    assert (ours == reference).all() and (mine == theirs).all()
    assert ours_rng.random() == their_rng.random()


@settings(max_examples=40, deadline=None)
@given(n_served=st.integers(0, 300), seed=st.integers(0, 2**32 - 1))
def test_evidence_counts_violations_and_flags_reach_as_by_counting(n_served, seed):
    """Foreign reach is a flag per (apparent jurisdiction, node) where any count is
    positive; the violation counts are those of a bincount over the served requests."""
    rng = np.random.default_rng(seed)
    n_nodes, n_jur, n_cat = 40, 4, 5
    host = rng.integers(0, n_jur, n_nodes)
    prohibited = rng.random((n_jur, n_cat)) < 0.4
    extraterritorial = rng.random(n_jur) < 0.6
    node = rng.integers(0, n_nodes, n_served)
    category = rng.integers(0, n_cat, n_served)
    group = rng.integers(0, n_jur, n_served)
    evidence = gather_evidence(
        node, category, group, host=host, prohibited=prohibited, extraterritorial=extraterritorial
    )
    foreign = extraterritorial[group] & (host[node] != group)
    cell = group[foreign] * n_nodes + node[foreign]
    counts = np.bincount(cell, minlength=n_jur * n_nodes).reshape(n_jur, n_nodes)
    banned = prohibited[group[foreign], category[foreign]]
    violations = np.bincount(cell[banned], minlength=n_jur * n_nodes).reshape(n_jur, n_nodes)
    assert (evidence.foreign_reach == (counts > 0)).all()
    assert (evidence.foreign_violations == violations).all()
    host_banned = prohibited[host[node], category]
    assert (evidence.host_violations == np.bincount(node[host_banned], minlength=n_nodes)).all()
