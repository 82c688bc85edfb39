"""Properties of the engine: determinism, exact request accounting, analytic limits."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sim
from sim.engine.nodes import Node
from sim.results.runner import build_model, run_metrics, with_steps
from sim.scenario import load_scenario
from tests.conftest import tiny_scenario


@pytest.fixture(scope="module")
def classroom() -> sim.Results:
    return sim.run("classroom_demo", seed=3, steps=25)


def test_same_seed_gives_identical_tables():
    a = sim.run("classroom_demo", seed=11, steps=15)
    b = sim.run("classroom_demo", seed=11, steps=15)
    for name, frame in a.tables().items():
        pd.testing.assert_frame_equal(frame, getattr(b, name), obj=name)


def test_different_seeds_give_different_tables():
    a = sim.run("classroom_demo", seed=1, steps=10)
    b = sim.run("classroom_demo", seed=2, steps=10)
    assert not a.metrics.equals(b.metrics)


def test_seed_defaults_to_the_scenario_seed():
    spec = load_scenario("classroom_demo")
    assert sim.run(spec, steps=2).meta["seed"] == spec.seed


def test_every_request_ends_served_refused_or_dropped(classroom):
    r = classroom.requests
    assert (r["emitted"] == r["served"] + r["refused"] + r["dropped"]).all()
    m = classroom.metrics
    assert (
        m["requests_emitted"]
        == m["requests_served"] + m["requests_refused"] + m["requests_dropped"]
    ).all()


def test_flows_and_nodes_account_for_every_served_request(classroom):
    served = classroom.metrics.set_index("step")["requests_served"]
    assert (
        classroom.flows.groupby("step")["served"]
        .sum()
        .reindex(served.index, fill_value=0)
        .equals(served)
    )
    assert classroom.nodes.groupby("step")["served"].sum().equals(served)


def test_attempts_at_least_one_per_request_and_at_most_persistence_plus_one(classroom):
    r = classroom.requests
    assert (r["attempts"] >= r["emitted"]).all()
    spec = load_scenario("classroom_demo")
    for kind, profile in spec.requesters.kinds.items():
        sub = r[r["requester_kind"] == kind]
        assert (sub["attempts"] <= sub["emitted"] * (profile.persistence + 1)).all()


def test_shares_and_rates_are_probabilities(classroom):
    m = classroom.metrics
    for col in (
        "harm_completion_rate",
        "malicious_success_share",
        "benign_over_refusal",
        "dual_use_over_refusal",
        "cross_border_share",
        "policy_leakage",
        "permissive_node_share",
        "compliance_rate",
        "prohibited_served_abroad_share",
    ):
        values = m[col].dropna()
        assert ((values >= 0) & (values <= 1)).all(), col
    assert ((m["hhi_nodes"] >= 0) & (m["hhi_nodes"] <= 10_000)).all()


@st.composite
def small_scenarios(draw):
    n_jur = draw(st.integers(1, 3))
    spec = tiny_scenario(
        refusal=draw(st.floats(0, 1)),
        persistence=draw(st.integers(0, 3)),
        jurisdictions=n_jur,
        nodes=draw(st.integers(0, 25)),
        requesters=draw(st.integers(0, 150)),
        capacity=draw(st.floats(1, 6)),
        malicious_share=draw(st.floats(0, 1)),
        steps=3,
    )
    spec["nodes"]["capacity_dispersion"] = draw(st.floats(0, 1))
    for jur in spec["jurisdictions"].values():
        jur["prohibited"] = draw(st.lists(st.sampled_from(["chat", "harm"]), unique=True))
        jur["compliance_share"] = draw(st.floats(0, 1))
        jur["enforcement"] = {
            "audit_rate": draw(st.floats(0, 1)),
            "detection_probability": draw(st.floats(0, 1)),
            "takedown_probability": draw(st.floats(0, 1)),
            "geo_block_foreign": draw(st.booleans()),
            "extraterritorial": draw(st.booleans()),
            "kyc_mandate": draw(st.booleans()),
        }
    for profile in spec["requesters"]["kinds"].values():
        profile["vpn_use"] = draw(st.floats(0, 1))
        profile["jailbreak_attempt"] = draw(st.floats(0, 1))
        profile["kyc_verified"] = draw(st.floats(0, 1))
    spec["seed"] = draw(st.integers(0, 2**32 - 1))
    return spec


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=small_scenarios())
def test_requests_are_conserved_and_capacity_respected_in_any_small_world(spec):
    """Whatever the world, every emitted request ends in exactly one final state, no
    node serves more than its capacity, and flows add up to what was served."""
    res = sim.run(spec)
    r = res.requests
    assert (r["emitted"] == r["served"] + r["refused"] + r["dropped"]).all()
    assert (r[["served", "refused", "dropped"]] >= 0).all().all()
    served = r.groupby("step")["served"].sum()
    states = res.node_states
    assert (served <= states["capacity"].sum()).all()
    assert (states["served_total"] <= states["capacity"] * spec["steps"]).all()
    assert res.nodes.groupby("step")["served"].sum().equals(served)
    flows = res.flows.groupby("step")["served"].sum().reindex(served.index, fill_value=0)
    assert flows.equals(served)


@pytest.mark.parametrize(("p", "k"), [(0.5, 0), (0.5, 2), (0.8, 3), (0.3, 1)])
def test_harm_served_share_converges_to_one_minus_p_to_the_k_plus_one(p, k):
    """With one model kind refusing with probability p, no enforcement and persistence
    k, a request is served unless all k+1 independent attempts are refused."""
    spec = tiny_scenario(refusal=p, persistence=k, requesters=2000, steps=10)
    m = sim.run(spec, seed=5).metrics
    n = int(m["harmful_requests"].sum())
    expected = 1 - p ** (k + 1)
    observed = m["harmful_completed"].sum() / n
    tolerance = 4 * math.sqrt(expected * (1 - expected) / n)  # 4 binomial standard errors
    assert abs(observed - expected) <= tolerance


def test_mean_attempts_to_success_matches_the_truncated_geometric_mean():
    p, k = 0.6, 3
    spec = tiny_scenario(refusal=p, persistence=k, requesters=2000, steps=10)
    m = sim.run(spec, seed=8).metrics
    tries = np.arange(1, k + 2)
    weights = p ** (tries - 1) * (1 - p)
    expected = float((tries * weights).sum() / weights.sum())
    observed = m["mean_attempts_malicious"].mean()
    assert observed == pytest.approx(expected, rel=0.03)


def test_without_malicious_requesters_no_harm_is_completed():
    spec = tiny_scenario(malicious_share=0.0)
    m = sim.run(spec).metrics
    assert m["harmful_completed"].sum() == 0
    assert m["malicious_success_share"].isna().all()


def test_a_category_every_node_refuses_is_never_served():
    spec = tiny_scenario(refusal=0.0, persistence=3)
    spec["models"]["m"]["refusal"]["harm"] = 1.0
    res = sim.run(spec)
    harm = res.requests[res.requests["category"] == "harm"]
    assert harm["emitted"].sum() > 0
    assert harm["served"].sum() == 0
    chat = res.requests[res.requests["category"] == "chat"]
    assert chat["served"].sum() == chat["emitted"].sum()


def test_jailbreaks_defeat_refusal_at_the_susceptibility_rate():
    """A certain jailbreak against a model refusing with p=1 and susceptibility s gets
    through with probability s per attempt."""
    spec = tiny_scenario(refusal=1.0, requesters=2000)
    spec["models"]["m"]["jailbreak_susceptibility"] = 0.3
    spec["requesters"]["kinds"]["malicious"]["jailbreak_attempt"] = 1.0
    m = sim.run(spec, seed=2).metrics
    n = m["harmful_requests"].sum()
    rate = m["harmful_completed"].sum() / n
    assert abs(rate - 0.3) <= 4 * math.sqrt(0.3 * 0.7 / n)


def test_geo_blocking_keeps_residents_on_domestic_nodes():
    spec = tiny_scenario(jurisdictions=3)
    spec["jurisdictions"]["j0"]["enforcement"] = {"geo_block_foreign": True}
    flows = sim.run(spec).flows
    from_j0 = flows[flows["origin"] == "j0"]
    assert from_j0["served"].sum() > 0
    assert (from_j0["destination"] == "j0").all()


def test_vpn_users_escape_geo_blocking():
    spec = tiny_scenario(jurisdictions=3)
    spec["jurisdictions"]["j0"]["enforcement"] = {"geo_block_foreign": True}
    for profile in spec["requesters"]["kinds"].values():
        profile["vpn_use"] = 1.0
    flows = sim.run(spec).flows
    from_j0 = flows[flows["origin"] == "j0"].groupby("destination", observed=True)["served"].sum()
    # Appearing abroad, they reach every node: two thirds of them are foreign.
    assert from_j0.drop("j0").sum() / from_j0.sum() == pytest.approx(2 / 3, abs=0.05)


def test_compliance_filter_blocks_prohibited_category_at_its_recall():
    spec = tiny_scenario(jurisdictions=1, requesters=2000)
    jur = spec["jurisdictions"]["j0"]
    jur["prohibited"] = ["harm"]
    jur["compliance_share"] = 1.0
    m = sim.run(spec, seed=4).metrics
    n = m["harmful_requests"].sum()
    rate = m["harmful_completed"].sum() / n
    assert abs(rate - 0.1) <= 4 * math.sqrt(0.1 * 0.9 / n)  # recall 0.9, persistence 0


def test_kyc_gate_stops_unverified_requests_in_gated_categories():
    spec = tiny_scenario(jurisdictions=1, requesters=1000)
    jur = spec["jurisdictions"]["j0"]
    jur["compliance_share"] = 1.0
    jur["enforcement"] = {"kyc_mandate": True}
    spec["requesters"]["kinds"]["malicious"]["kyc_verified"] = 0.0
    m = sim.run(spec).metrics
    assert m["harmful_requests"].sum() > 0
    assert m["harmful_completed"].sum() == 0
    assert m["kyc_blocked"].sum() == m["harmful_requests"].sum()


def test_capacity_shortage_drops_requests_and_fills_nodes():
    spec = tiny_scenario(nodes=10, requesters=1000, capacity=5)
    res = sim.run(spec)
    m = res.metrics
    assert (m["requests_dropped"] > 0).all()
    assert (m["requests_served"] == 10 * 5).all()


def test_certain_audits_find_and_take_down_every_domestic_violator():
    spec = tiny_scenario(jurisdictions=1, nodes=20)
    spec["jurisdictions"]["j0"]["prohibited"] = ["harm"]
    spec["jurisdictions"]["j0"]["enforcement"] = {
        "audit_rate": 1.0,
        "detection_probability": 1.0,
        "takedown_probability": 1.0,
        "fine_share_of_annual_revenue": 0.1,
    }
    res = sim.run(spec)
    first = res.metrics.iloc[0]
    assert first["takedowns"] == first["violations_detected"] > 0
    assert first["fines_usd"] > 0
    assert res.metrics["active_nodes"].iloc[-1] < 20
    takedowns = res.events[res.events["event"] == "takedown"]
    assert len(takedowns) == res.metrics["takedowns"].sum()


def test_a_treaty_lets_a_partner_take_down_foreign_violators():
    def world(treaty: bool) -> dict:
        spec = tiny_scenario(jurisdictions=2, nodes=30, requesters=600, steps=4)
        spec["jurisdictions"]["j0"]["prohibited"] = ["harm"]
        spec["jurisdictions"]["j0"]["enforcement"] = {
            "audit_rate": 1.0,
            "detection_probability": 1.0,
            "takedown_probability": 1.0,
            "extraterritorial": True,
        }
        if treaty:
            spec["treaties"] = [["j0", "j1"]]
        return spec

    def foreign_takedowns(spec: dict) -> int:
        events = sim.run(spec).events
        return int((events["event"].eq("takedown") & events["detail"].eq("hosted in j1")).sum())

    assert foreign_takedowns(world(treaty=False)) == 0
    assert foreign_takedowns(world(treaty=True)) > 0


def test_timeline_events_fire_at_their_step_and_are_logged():
    res = sim.run("classroom_demo", seed=1)
    ev = res.events.set_index("event")
    assert ev.loc["enforcement_change", "step"] == 19
    assert ev.loc["treaty_signed", "step"] == 39
    partners = res.jurisdictions.query("jurisdiction == 'us'").set_index("step")["treaty_partners"]
    assert partners[39] == 0 and partners[40] == 2  # in force from the next step


def test_policy_change_event_changes_what_is_prohibited():
    spec = tiny_scenario(jurisdictions=1, steps=4)
    spec["timeline"] = [
        {"step": 1, "kind": "policy_change", "jurisdiction": "j0", "prohibit": ["harm"]}
    ]
    jur = sim.run(spec).jurisdictions.set_index("step")
    assert list(jur["prohibited_categories"]) == [0, 0, 1, 1]
    assert jur.loc[3, "policy"] == "harm"


def test_node_shock_adds_and_removes_nodes():
    spec = tiny_scenario(nodes=20, steps=4)
    spec["timeline"] = [
        {"step": 0, "kind": "node_shock", "action": "remove", "count": 5},
        {"step": 1, "kind": "node_shock", "action": "add", "count": 8, "jurisdiction": "j1"},
    ]
    m = sim.run(spec).metrics
    # Events fire at the end of their step: in effect from the next one.
    assert list(m["active_nodes"]) == [20, 15, 23, 23]


def test_model_release_switches_nodes_to_the_released_model():
    spec = tiny_scenario(nodes=100, steps=3)
    spec["models"]["open"] = {
        "refusal": {"chat": 0.0, "harm": 0.0},
        "jailbreak_susceptibility": 1.0,
    }
    spec["timeline"] = [
        {"step": 0, "kind": "model_release", "model": "open", "adoption_share": 1.0}
    ]
    nodes = sim.run(spec).nodes
    last = nodes[nodes["step"] == 2].groupby("model", observed=True)["nodes_active"].sum()
    assert last["open"] == 100 and last["m"] == 0


def test_node_agents_are_views_onto_the_arrays():
    model = sim.build_model("classroom_demo", steps=3)
    model.step()
    agent = model.nodes[7]
    table = model.node_table
    assert agent.jurisdiction == model.jurisdiction_names[table.jurisdiction[7]]
    assert agent.capacity == table.capacity[7]
    assert len(model.nodes) == table.size
    assert {a.name for a in model.jurisdiction_agents} == set(model.jurisdiction_names)


def test_baseline_reproduces_the_calibration_of_refusal():
    """Aligned models refuse 5-15% of the everyday (benign) mix and over 95% of clearly
    harmful requests; uncensored models refuse under 1% of the everyday mix."""
    spec = load_scenario("baseline")
    mix = spec.requesters.kinds["benign"].category_mix

    def everyday_refusal(model: str) -> float:
        refusal = spec.models[model].refusal
        return sum(share * refusal[c] for c, share in mix.items())

    assert 0.05 <= everyday_refusal("aligned") <= 0.15
    assert everyday_refusal("uncensored") < 0.01
    assert everyday_refusal("abliterated") < 0.01
    aligned = spec.models["aligned"].refusal
    assert (
        min(
            aligned[c]
            for c, cat in spec.categories.items()
            if cat.harmful and c != "disinformation"
        )
        > 0.95
    )


@pytest.mark.parametrize(
    ("model", "low", "high"),
    [("aligned", 0.05, 0.15), ("uncensored", 0.0, 0.01), ("abliterated", 0.0, 0.01)],
)
def test_baseline_models_refuse_the_everyday_mix_at_the_calibrated_rate(model, low, high):
    """Measured in the engine, not only read from the file: send the benign everyday mix
    to a world of one model kind without filters, KYC or retries."""
    spec = load_scenario("baseline").to_dict()
    for jur in spec["jurisdictions"].values():
        jur["model_mix"] = {name: float(name == model) for name in spec["models"]}
        jur["compliance_share"] = 0.0
    for profile in spec["requesters"]["kinds"].values():
        profile["persistence"] = 0
    spec["nodes"]["capacity_per_day"] = 1000
    m = sim.run(spec, seed=1, steps=5).metrics
    assert low <= m["benign_over_refusal"].mean() <= high


def test_run_metrics_is_the_metrics_table_of_the_full_run():
    """Sweeps keep only the headline table; it must be the one a full run returns."""
    full = sim.run("classroom_demo", seed=5, steps=12).metrics
    spec = with_steps(load_scenario("classroom_demo"), 12)
    pd.testing.assert_frame_equal(run_metrics(spec, seed=5), full)


def test_served_abroad_equals_the_flows_between_different_jurisdictions(classroom):
    """served_foreign (requests table) and the flows table are derived apart at table
    time; per step, origin and category they must tell the same service abroad."""
    r = classroom.requests.groupby(["step", "jurisdiction", "category"], observed=True)
    abroad = r["served_foreign"].sum()
    f = classroom.flows[classroom.flows["origin"] != classroom.flows["destination"]]
    flows = f.groupby(["step", "origin", "category"], observed=True)["served"].sum()
    flows.index = flows.index.set_names(abroad.index.names)
    assert abroad.sum() > 0
    pd.testing.assert_series_equal(
        abroad[abroad > 0], flows[flows > 0].astype(abroad.dtype), check_names=False
    )


def test_tables_before_any_step_are_empty_with_the_run_columns_and_types():
    """A model's tables before its first day (e.g. read by a DataCollector) hold no rows,
    and the same columns and types as after a run."""
    model = build_model("classroom_demo", steps=2)
    empty = model.recorder.tables()
    assert len(model.recorder.headline(first=-1)) == 0
    model.step()
    full = model.recorder.tables()
    for name, table in full.items():
        assert len(empty[name]) == 0, name
        pd.testing.assert_series_equal(empty[name].dtypes, table.dtypes, obj=name)


def test_node_agents_made_on_first_use_have_the_ids_of_agents_made_at_start():
    """Node agents are made when first asked for, before or after nodes enter, with the
    ids they would have had if made with the model: after the jurisdictions', in node
    order; Mesa's agent registry includes them."""
    spec = load_scenario("classroom_demo").to_dict()
    spec["timeline"].append({"step": 1, "kind": "node_shock", "action": "add", "count": 40})
    early = sim.build_model(spec, steps=4)
    first_ids = [a.unique_id for a in early.nodes]
    late = sim.build_model(spec, steps=4)
    for _ in range(4):
        early.step()
        late.step()
    assert late.node_table.size == early.node_table.size > len(first_ids)
    n_jur = len(late.jurisdiction_names)
    for model in (early, late):
        ids = [a.unique_id for a in model.nodes]
        assert ids == list(range(n_jur + 1, n_jur + 1 + model.node_table.size))
        assert [a.index for a in model.nodes] == list(range(model.node_table.size))
        assert len(model.agents) == n_jur + model.node_table.size
        assert len(model.agents_by_type[Node]) == model.node_table.size
