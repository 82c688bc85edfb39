"""Requester adaptation: learning and sharing serving nodes, displacement, KYC friction."""

from __future__ import annotations

import numpy as np

import sim
from tests.conftest import tiny_scenario

SEEDS = range(5)


def sparse_permissive_world(**malicious) -> dict:
    """10% of nodes serve harm; malicious actors try once per request."""
    spec = tiny_scenario(nodes=200, requesters=2000, steps=40, malicious_share=0.3, capacity=100)
    spec["models"]["m"]["refusal"] = {"chat": 0.0, "harm": 1.0}
    spec["models"]["open"] = {
        "refusal": {"chat": 0.0, "harm": 0.0},
        "jailbreak_susceptibility": 1.0,
    }
    for jur in spec["jurisdictions"].values():
        jur["model_mix"] = {"m": 0.9, "open": 0.1}
    spec["requesters"]["kinds"]["malicious"].update(malicious)
    return spec


def harm_rate(spec: dict, seed: int, steps: slice) -> float:
    m = sim.run(spec, seed=seed).metrics.iloc[steps]
    return m["harmful_completed"].sum() / m["harmful_requests"].sum()


def test_learning_malicious_actors_succeed_more_over_time():
    spec = sparse_permissive_world(memory=1.0, loyalty=0.95)
    for seed in SEEDS:
        early, late = harm_rate(spec, seed, slice(0, 3)), harm_rate(spec, seed, slice(-5, None))
        assert late > early + 0.3
    plain = sparse_permissive_world()
    assert min(harm_rate(spec, s, slice(-5, None)) for s in SEEDS) > max(
        harm_rate(plain, s, slice(-5, None)) for s in SEEDS
    )


def test_without_memory_or_word_of_mouth_nobody_learns_a_node():
    spec = sparse_permissive_world(memory=0.0, word_of_mouth=0.0, loyalty=1.0)
    m = sim.run(spec).metrics
    assert (m["malicious_knowing_share"] == 0).all()
    plain = sim.run(sparse_permissive_world()).metrics
    assert (plain["harm_completion_rate"] - m["harm_completion_rate"]).abs().max() < 0.15


def test_word_of_mouth_spreads_knowledge_faster():
    def knowing_at(spec: dict, seed: int, step: int) -> float:
        return sim.run(spec, seed=seed).metrics["malicious_knowing_share"].iloc[step]

    alone = sparse_permissive_world(memory=0.3, loyalty=0.9)
    shared = sparse_permissive_world(memory=0.3, loyalty=0.9, word_of_mouth=0.5)
    assert min(knowing_at(shared, s, 5) for s in SEEDS) > max(
        knowing_at(alone, s, 5) for s in SEEDS
    )


def test_over_refused_legitimate_users_are_displaced_to_permissive_nodes():
    """Dual-use users whom aligned nodes refuse remember the permissive nodes that serve
    them: the share of their service from permissive nodes rises (the cost side)."""

    def world(memory: float) -> dict:
        spec = sparse_permissive_world()
        spec["requesters"]["kinds"]["dual_use"].update(
            category_mix={"harm": 1.0}, persistence=2, memory=memory, loyalty=0.95 * (memory > 0)
        )
        return spec

    def permissive_share(spec: dict, seed: int) -> float:
        return sim.run(spec, seed=seed).metrics["dual_use_served_permissive_share"].iloc[-5:].mean()

    learned = [permissive_share(world(1.0), s) for s in SEEDS]
    assert min(learned) > 0.99
    m = sim.run(world(1.0), seed=0).metrics
    assert (
        m["mean_attempts_dual_use"].iloc[-5:].mean() < m["mean_attempts_dual_use"].iloc[:2].mean()
    )


def test_kyc_give_up_ends_a_request_at_the_gate():
    spec = tiny_scenario(jurisdictions=1, requesters=1000, persistence=3)
    jur = spec["jurisdictions"]["j0"]
    jur["compliance_share"] = 1.0
    jur["enforcement"] = {"kyc_mandate": True}
    spec["requesters"]["kinds"]["malicious"]["kyc_give_up"] = 1.0
    res = sim.run(spec)
    harm = res.requests[res.requests["category"] == "harm"]
    assert (harm["attempts"] == harm["emitted"]).all()  # one attempt each, then gave up
    spec["requesters"]["kinds"]["malicious"]["kyc_give_up"] = 0.0
    harm = sim.run(spec).requests.query("category == 'harm'")
    assert (harm["attempts"] == 4 * harm["emitted"]).all()


def test_learning_is_deterministic_for_a_seed():
    spec = sparse_permissive_world(memory=0.5, loyalty=0.5, word_of_mouth=0.2)
    a, b = sim.run(spec, seed=3).metrics, sim.run(spec, seed=3).metrics
    assert a.equals(b)
    assert np.isfinite(a["malicious_knowing_share"]).all()
