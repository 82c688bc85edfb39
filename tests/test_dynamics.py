"""Node dynamics: choice kernels, their limits, and the direction each mechanism moves
the outcome, over several seeds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import sim
from sim.engine.kernels.adaptation import (
    Costs,
    MarketSignals,
    expected_profit,
    fermi_copy,
    logit_choice,
    option_grid,
)
from tests.conftest import tiny_scenario

SEEDS = range(5)


def one_jurisdiction_market(**overrides) -> MarketSignals:
    values = dict(
        arrivals=np.array([[10.0, 0.0]]),
        refusal=np.array([[0.0, 0.0], [1.0, 1.0]]),
        filters=np.array([[0.0, 0.0]]),
        prohibited=np.array([[False, False]]),
        hosting_cost=np.array([2.0]),
        licence_cost=np.array([0.0]),
        audit_rate=np.array([0.0]),
        detection=np.array([0.0]),
        fine_share=np.array([0.0]),
        fine_min=np.array([0.0]),
        takedown=np.array([0.0]),
        available=np.array([True, True]),
        quality_factor=np.array([1.0, 1.0]),
    )
    values.update(overrides)
    return MarketSignals(**values)


COSTS = Costs(compliance_cost_share=0.1, relocation_cost=0.0, switch_cost=0.0, horizon=10.0)
NEW = (np.array([-1]), np.array([-1]), np.array([-1]))


def test_expected_profit_matches_a_hand_computation():
    """10 arrivals per unit weight, weight 1, capacity 4, price 1.5: a model that never
    refuses serves 4 (capacity-bound), earns 6, pays 2 hosting; complying costs 10% of
    revenue; a model that always refuses earns nothing."""
    profit = expected_profit(
        np.array([1.0]), np.array([4]), np.array([1.5]), NEW, one_jurisdiction_market(), COSTS
    )[0]
    oj, om, oc = option_grid(1, 2)
    expected = {
        (0, 0, False): 4.0,
        (0, 0, True): 6 * 0.9 - 2,
        (0, 1, False): -2.0,
        (0, 1, True): -2.0,
    }
    for o, value in expected.items():
        assert profit[(oj == o[0]) & (om == o[1]) & (oc == o[2])][0] == pytest.approx(value)


def test_expected_fines_are_audit_times_detection_times_fine_times_violation():
    market = one_jurisdiction_market(
        prohibited=np.array([[True, False]]),
        audit_rate=np.array([0.1]),
        detection=np.array([0.5]),
        fine_min=np.array([100.0]),
    )
    profit = expected_profit(np.array([1.0]), np.array([100]), np.array([1.0]), NEW, market, COSTS)[
        0
    ]
    violation = 1 - np.exp(-10.0)  # 10 prohibited requests served per day
    assert profit[0] == pytest.approx(10 - 2 - 0.1 * 0.5 * violation * 100)


def test_lower_quality_models_expect_proportionally_fewer_arrivals():
    """Quality factor 0.5 halves a node's routing weight, so below capacity it serves
    half as much: 10 arrivals at weight 1 become 5."""
    market = one_jurisdiction_market(
        quality_factor=np.array([1.0, 0.5]), refusal=np.array([[0.0, 0.0], [0.0, 0.0]])
    )
    profit = expected_profit(np.array([1.0]), np.array([100]), np.array([1.0]), NEW, market, COSTS)[
        0
    ]
    assert profit[0] == pytest.approx(10 - 2) and profit[2] == pytest.approx(5 - 2)


def test_infinite_rationality_picks_the_highest_expected_profit():
    rng = np.random.default_rng(0)
    utility = rng.normal(size=(200, 7))
    allowed = rng.random((200, 7)) < 0.6
    allowed[:, 0] = True
    choice = logit_choice(utility, allowed, np.inf, rng)
    assert (choice == np.where(allowed, utility, -np.inf).argmax(axis=1)).all()


def test_large_rationality_approaches_the_best_option():
    rng = np.random.default_rng(1)
    utility = np.tile([0.0, 1.0, 0.5], (5000, 1))
    choice = logit_choice(utility, np.ones_like(utility, bool), 50.0, rng)
    assert (choice == 1).mean() > 0.99


def test_zero_rationality_chooses_uniformly_among_allowed_options():
    rng = np.random.default_rng(2)
    utility = np.tile([5.0, 0.0, -5.0, 1.0], (20_000, 1))
    allowed = np.tile([True, True, False, True], (20_000, 1))
    counts = np.bincount(logit_choice(utility, allowed, 0.0, rng), minlength=4) / 20_000
    assert counts[2] == 0
    assert counts[[0, 1, 3]] == pytest.approx(1 / 3, abs=0.02)


def test_logit_probabilities_follow_the_softmax():
    rng = np.random.default_rng(3)
    utility = np.tile([0.0, 0.1], (40_000, 1))
    share = (logit_choice(utility, np.ones_like(utility, bool), 10.0, rng) == 1).mean()
    assert share == pytest.approx(np.e / (1 + np.e), abs=0.01)


def test_fermi_copies_a_better_peer_more_often_than_a_worse_one():
    rng = np.random.default_rng(4)
    own, scale = np.zeros(10_000), np.ones(10_000)
    better = fermi_copy(own, own + 0.2, scale, 10.0, rng).mean()
    worse = fermi_copy(own, own - 0.2, scale, 10.0, rng).mean()
    assert better == pytest.approx(1 / (1 + np.exp(-2)), abs=0.02)
    assert worse == pytest.approx(1 / (1 + np.exp(2)), abs=0.02)


# ------------------------------------------------------------------ in the engine


def enforcing_world(*, adapt: bool, **adaptation) -> dict:
    """j0 enforces hard against a prohibited category its permissive nodes serve; j1
    (a haven) does not."""
    spec = tiny_scenario(
        jurisdictions=2, nodes=100, requesters=1500, steps=60, malicious_share=0.2, capacity=40
    )
    spec["models"]["permissive"] = {
        "refusal": {"chat": 0.0, "harm": 0.0},
        "jailbreak_susceptibility": 1.0,
    }
    for jur in spec["jurisdictions"].values():
        jur["model_mix"] = {"m": 0.0, "permissive": 1.0}
    spec["jurisdictions"]["j0"]["prohibited"] = ["harm"]
    spec["jurisdictions"]["j0"]["enforcement"] = {
        "audit_rate": 0.3,
        "detection_probability": 0.9,
        "fine_min_usd": 50.0,
        "takedown_probability": 0.02,
    }
    spec["adaptation"] = {
        "enabled": adapt,
        "every_steps": 1,
        "revision_rate": 0.2,
        "rationality": 20.0,
        **adaptation,
    }
    return spec


def node_share_in_j0(spec: dict, seed: int) -> float:
    nodes = sim.run(spec, seed=seed).nodes
    last = nodes[nodes["step"] == nodes["step"].max()]
    by = last.groupby("jurisdiction", observed=True)["nodes_active"].sum()
    return by["j0"] / by.sum()


def test_adapting_nodes_relocate_away_from_enforcement():
    moved = [
        node_share_in_j0(
            enforcing_world(adapt=True, can_comply=False, can_switch_model=False, can_exit=False), s
        )
        for s in SEEDS
    ]
    fixed = [node_share_in_j0(enforcing_world(adapt=False), s) for s in SEEDS]
    assert max(moved) < min(fixed)


def test_adapting_nodes_comply_when_they_cannot_leave():
    def compliance(adapt: bool, seed: int) -> float:
        spec = enforcing_world(
            adapt=adapt, can_relocate=False, can_switch_model=False, can_exit=False
        )
        m = sim.run(spec, seed=seed).metrics
        return m["compliance_rate"].iloc[-10:].mean()

    adapted = [compliance(True, s) for s in SEEDS]
    assert min(adapted) > max(compliance(False, s) for s in SEEDS)
    assert np.mean(adapted) > 0.3


def test_relocated_nodes_are_offline_for_the_delay_and_logged():
    spec = enforcing_world(
        adapt=True,
        can_comply=False,
        can_switch_model=False,
        can_exit=False,
        relocation_delay_steps=5,
    )
    res = sim.run(spec, seed=0)
    moves = res.events[res.events["event"] == "relocation"]
    assert len(moves) > 0
    relocating = res.nodes.groupby("step")["nodes_relocating"].sum()
    assert relocating.max() > 0
    snapshot = res.node_states
    assert set(snapshot["status"]) <= {"active", "relocating", "taken_down", "exited"}


def test_nodes_exit_when_every_option_loses_money():
    spec = enforcing_world(adapt=True, can_relocate=False, can_switch_model=False, can_comply=False)
    for jur in spec["jurisdictions"].values():
        jur["hosting_cost_usd_per_day"] = 1_000.0
    m = sim.run(spec, seed=1).metrics
    assert m["active_nodes"].iloc[-1] < 0.2 * m["active_nodes"].iloc[0]


def test_entry_adds_nodes_when_nodes_are_profitable():
    spec = enforcing_world(adapt=True, entry_rate=0.05)
    for jur in spec["jurisdictions"].values():
        jur["hosting_cost_usd_per_day"] = 0.0
    res = sim.run(spec, seed=2)
    assert (res.events["event"] == "entry").sum() > 0
    assert len(res.node_states) > 100


def test_adaptation_is_deterministic_for_a_seed():
    spec = enforcing_world(adapt=True, rule="mix", entry_rate=0.02)
    a, b = sim.run(spec, seed=9), sim.run(spec, seed=9)
    pd.testing.assert_frame_equal(a.nodes, b.nodes)
    pd.testing.assert_frame_equal(a.events, b.events)


def test_imitation_spreads_the_more_profitable_behaviour():
    """Defiant nodes in a world whose filter costs revenue earn more; imitators copy
    them, so compliance falls from its start."""
    spec = tiny_scenario(jurisdictions=1, nodes=200, requesters=3000, steps=60, capacity=40)
    jur = spec["jurisdictions"]["j0"]
    jur["prohibited"] = ["chat"]
    jur["compliance_share"] = 0.5
    spec["adaptation"] = {
        "enabled": True,
        "every_steps": 1,
        "revision_rate": 0.3,
        "rule": "imitation",
        "imitation_sensitivity": 50.0,
    }
    finals = [sim.run(spec, seed=s).metrics["compliance_rate"].iloc[-1] for s in SEEDS]
    assert max(finals) < 0.3


# ------------------------------------------------------------------ releases


def release_world(innovation: float, imitation: float, variants: bool = True) -> dict:
    spec = tiny_scenario(nodes=300, steps=40)
    for name in ("open", "open_abliterated"):
        spec["models"][name] = {
            "refusal": {"chat": 0.0, "harm": 0.0},
            "jailbreak_susceptibility": 1.0,
            "available": False,
        }
    event = {
        "step": 0,
        "kind": "model_release",
        "model": "open",
        "innovation": innovation,
        "imitation": imitation,
    }
    if variants:
        event["variants"] = [{"model": "open_abliterated", "delay_steps": 10}]
    spec["timeline"] = [event]
    return spec


def adopters(spec: dict, seed: int, model: str) -> pd.Series:
    nodes = sim.run(spec, seed=seed).nodes
    return nodes[nodes["model"] == model].groupby("step")["nodes_active"].sum()


def test_without_innovation_or_imitation_no_variant_spreads():
    spec = release_world(0.0, 0.0)
    for seed in SEEDS:
        assert adopters(spec, seed, "open_abliterated").sum() == 0
        assert adopters(spec, seed, "open").sum() == 0


def test_pure_innovation_follows_the_geometric_adoption_curve():
    """With imitation 0, a node adopts with probability p each day independently."""
    p = 0.05
    spec = release_world(p, 0.0, variants=False)
    share = np.mean([adopters(spec, s, "open").iloc[-1] / 300 for s in SEEDS])
    assert share == pytest.approx(1 - (1 - p) ** 39, abs=0.04)  # days 1..39 after release


def test_imitation_speeds_adoption_over_the_network():
    slow = np.mean([adopters(release_world(0.01, 0.0), s, "open").iloc[20] for s in SEEDS])
    fast = np.mean([adopters(release_world(0.01, 0.5), s, "open").iloc[20] for s in SEEDS])
    assert fast > 2 * slow


def test_variants_appear_only_after_their_delay():
    res = sim.run(release_world(0.2, 0.3), seed=0)
    variant = (
        res.nodes[res.nodes["model"] == "open_abliterated"].groupby("step")["nodes_active"].sum()
    )
    assert variant.loc[:10].sum() == 0
    assert variant.iloc[-1] > 0
    released = res.events[(res.events["event"] == "model_release")]
    assert list(released["step"]) == [0, 10]


def test_abliteration_wave_raises_the_permissive_node_share():
    spec = release_world(0.02, 0.3)
    spec["models"]["m"]["refusal"] = {"chat": 0.05, "harm": 0.99}
    shares = [sim.run(spec, seed=s).metrics["permissive_node_share"] for s in SEEDS]
    assert all(s.iloc[-1] > s.iloc[0] + 0.3 for s in shares)


def test_entry_happens_every_day_not_only_on_revision_days():
    spec = enforcing_world(adapt=True, entry_rate=0.05, every_steps=7)
    for jur in spec["jurisdictions"].values():
        jur["hosting_cost_usd_per_day"] = 0.0
    steps = sim.run(spec, seed=3).events.query("event == 'entry'")["step"]
    assert ((steps + 1) % 7 != 0).any()


def test_a_node_taken_down_books_its_fine_in_that_days_profit():
    spec = enforcing_world(adapt=False)
    spec["jurisdictions"]["j0"]["enforcement"].update(
        takedown_probability=1.0, audit_rate=1.0, detection_probability=1.0
    )
    res = sim.run(spec, seed=0)
    first = res.nodes[(res.nodes["step"] == 0) & (res.nodes["jurisdiction"] == "j0")]
    assert first["nodes_taken_down"].sum() > 0
    assert first["profit_usd"].sum() < first["revenue_usd"].sum() - first["fines_usd"].sum() + 1e-9
