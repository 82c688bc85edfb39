"""Jurisdictions and treaties: diffusion of prohibitions, reactions, treaty growth, joint
audits."""

from __future__ import annotations

import pandas as pd

import sim
from tests.conftest import tiny_scenario

SEEDS = range(5)


def three_regimes(**policy) -> dict:
    """j0 and j1 prohibit harm and enforce; j2 does not. Residents use foreign nodes."""
    spec = tiny_scenario(jurisdictions=3, nodes=90, requesters=1500, steps=60, capacity=100)
    for name in ("j0", "j1"):
        spec["jurisdictions"][name]["prohibited"] = ["harm"]
        spec["jurisdictions"][name]["enforcement"] = {
            "audit_rate": 0.05,
            "detection_probability": 0.5,
        }
    spec["policy_dynamics"] = {"enabled": True, "every_steps": 10, **policy}
    return spec


def events(spec: dict, seed: int, kind: str) -> pd.DataFrame:
    ev = sim.run(spec, seed=seed).events
    return ev[ev["event"] == kind]


def test_brussels_effect_spreads_a_prohibition_to_trading_partners():
    spec = three_regimes(diffusion_rate=1.0, treaty_weight=0.0)
    for seed in SEEDS:
        adopted = events(spec, seed, "policy_adoption")
        assert list(adopted["jurisdiction"].unique()) == ["j2"]
        jur = sim.run(spec, seed=seed).jurisdictions
        assert jur.query("jurisdiction == 'j2'")["prohibited_categories"].iloc[-1] == 1


def test_without_diffusion_no_prohibition_spreads():
    spec = three_regimes(diffusion_rate=0.0)
    for seed in SEEDS:
        assert events(spec, seed, "policy_adoption").empty


def test_treaty_partners_drive_diffusion_when_trade_does_not():
    spec = three_regimes(diffusion_rate=1.0, treaty_weight=1.0)
    assert all(events(spec, s, "policy_adoption").empty for s in SEEDS)  # no partners
    spec["treaties"] = [["j0", "j2"]]
    assert all(len(events(spec, s, "policy_adoption")) == 1 for s in SEEDS)


def test_harm_above_threshold_tightens_enforcement():
    spec = three_regimes(harm_threshold_per_1000=0.0)
    res = sim.run(spec, seed=1)
    tightened = res.events[res.events["event"] == "policy_tightened"]
    assert set(tightened["jurisdiction"]) == {"j0", "j1", "j2"}
    audits = res.jurisdictions.groupby("step")["audits"].sum()
    assert audits.iloc[-10:].mean() > audits.iloc[:10].mean()
    quiet = sim.run(three_regimes(harm_threshold_per_1000=None), seed=1).events
    assert (quiet["event"] != "policy_tightened").all()


def test_losing_the_hosting_industry_relaxes_enforcement():
    spec = three_regimes(hosting_loss_threshold=0.1)
    spec["timeline"] = [
        {"step": 2, "kind": "node_shock", "action": "remove", "fraction": 0.5, "jurisdiction": "j0"}
    ]
    relaxed = events(spec, 0, "policy_relaxed")
    assert list(relaxed["jurisdiction"].unique()) == ["j0"]


def test_treaties_grow_with_cross_border_traffic():
    spec = three_regimes(treaty_growth_rate=1.0)
    spec["treaties"] = [["j0", "j1"]]
    for seed in SEEDS:
        joined = events(spec, seed, "treaty_joined")
        assert list(joined["jurisdiction"]) == ["j2"]


def test_treaty_growth_without_a_treaty_changes_nothing():
    grow = three_regimes(treaty_growth_rate=1.0)
    still = three_regimes(treaty_growth_rate=0.0)
    for seed in SEEDS:
        a, b = sim.run(grow, seed=seed), sim.run(still, seed=seed)
        pd.testing.assert_frame_equal(a.metrics, b.metrics)
        pd.testing.assert_frame_equal(a.events, b.events)


def test_treaty_partners_audit_nodes_serving_their_residents_jointly():
    """Without extraterritorial reach, j0 audits only domestic nodes; with a treaty it
    also audits j1's nodes that served its residents."""

    def audits_by_j0(treaty: bool, seed: int) -> int:
        spec = three_regimes()
        spec["policy_dynamics"]["enabled"] = False
        spec["jurisdictions"]["j0"]["enforcement"]["audit_rate"] = 1.0
        if treaty:
            spec["treaties"] = [["j0", "j1"]]
        jur = sim.run(spec, seed=seed).jurisdictions
        return jur.query("jurisdiction == 'j0'")["audits"].sum()

    for seed in SEEDS:
        assert audits_by_j0(True, seed) > 1.5 * audits_by_j0(False, seed)


def test_frontier_reports_each_setting_with_confidence_intervals():
    from sim.experiments.frontier import frontier

    spec = three_regimes()
    spec["policy_dynamics"]["enabled"] = False
    spec["steps"] = 10
    table = frontier(spec, "jurisdictions.*.enforcement.audit_rate", [0.0, 1.0], seeds=3)
    assert list(table["value"]) == [0.0, 1.0]
    assert (table["harm_completion_rate_ci_low"] <= table["harm_completion_rate"]).all()
    assert (table["harm_completion_rate"] <= table["harm_completion_rate_ci_high"]).all()
    assert table["harm_prevented"].iloc[0] == 0
    assert table["enforcement_spend_usd"].iloc[0] == 0


def test_set_path_wildcards_set_every_key_and_typos_fail():
    import pytest

    from sim.scenario import ScenarioError, set_path

    data = {"jurisdictions": {"a": {"x": 1}, "b": {"x": 2}}}
    assert set_path(data, "jurisdictions.*.x", 5) == 2
    assert data == {"jurisdictions": {"a": {"x": 5}, "b": {"x": 5}}}
    with pytest.raises(ScenarioError, match="no field 'c'"):
        set_path(data, "jurisdictions.c.x", 1)


def test_initial_treaties_stay_distinct_and_grow_separately():
    spec = tiny_scenario(jurisdictions=4, nodes=80, requesters=1500, steps=20, capacity=100)
    spec["treaties"] = [["j0", "j1"], ["j2", "j3"]]
    model = sim.build_model(spec)
    names = {
        frozenset(t)
        for _, _, t in [
            (a, b, frozenset(d["treaties"])) for a, b, d in model.treaties.edges(data=True)
        ]
    }
    assert names == {frozenset({"treaty 1"}), frozenset({"treaty 2"})}
    spec["policy_dynamics"] = {"enabled": True, "every_steps": 5, "treaty_growth_rate": 1.0}
    joined = sim.run(spec, seed=1).events.query("event == 'treaty_joined'")
    assert set(joined["detail"].str.split(" \\(").str[0]) <= {"treaty 1", "treaty 2"}
    assert len(joined) >= 2


def test_an_enforcement_budget_caps_audits_and_spend():
    """Audits cost audit_cost_usd each and the budget pays for floor(budget / cost) a
    day: with every node audited otherwise, the budget binds exactly."""
    spec = three_regimes()
    spec["policy_dynamics"]["enabled"] = False
    spec["jurisdictions"]["j0"]["enforcement"].update(
        audit_rate=1.0, audit_cost_usd=100.0, budget_usd_per_day=250.0
    )
    jur = sim.run(spec, steps=5).jurisdictions.query("jurisdiction == 'j0'")
    assert (jur["audits"] == 2).all()
    assert (jur["enforcement_spend_usd"] == 200.0).all()
