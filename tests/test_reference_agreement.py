"""The vectorised engine agrees with an independent plain-Mesa reference implementation.

Property: ``sim`` (arrays, one kernel call per step) and ``benchmarks.reference`` (one
Mesa agent per requester, node and jurisdiction, one random draw at a time) implement
the same rules, so on the same scenario their headline metrics are draws from the same
distribution. Each implementation is run over 8 seeds; for every metric, the per-run
average over the steps is taken, and the two means over seeds must satisfy::

    |mean_engine - mean_reference| <= 4 * SE(difference) + atol

where ``SE(difference) = sqrt(s_e^2 / n_e + s_r^2 / n_r)`` from the between-seed spread
of each implementation, and ``atol`` is a small absolute tolerance per metric.

Retry timing: the engine makes every request's first attempt before any retry (retries
come in later rounds, when nodes already carry the day's first attempts). The
reference does the same with ``retry_timing="rounds"``; its default, a request retried
at once, differs from the engine only where node capacity binds (see
``test_retry_timing_is_irrelevant_when_capacity_is_ample``).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import sim
from benchmarks.reference import ReferenceModel
from benchmarks.scenarios import sized_preset
from sim.engine.requesters import Requesters
from sim.scenario import validate

SEEDS = range(8)
STEPS = 10

#: metric -> absolute tolerance added to 4 standard errors.
RATES = {
    "harm_completion_rate": 0.01,
    "benign_over_refusal": 0.002,
    "dual_use_over_refusal": 0.005,
    "cross_border_share": 0.005,
    "malicious_success_share": 0.01,
    "policy_leakage": 0.01,
}
COUNTS = (
    "requests_emitted",
    "requests_served",
    "requests_refused",
    "requests_dropped",
    "kyc_blocked",
)


def small_classroom(**changes) -> sim.Scenario:
    """classroom_demo with 2,000 requesters and 500 nodes, ``STEPS`` steps, with
    ``changes`` given as dotted paths (``"nodes.capacity_per_day": 1000``)."""
    spec = sized_preset("classroom_demo", requesters=2_000, nodes=500, steps=STEPS)
    data = spec.to_dict()
    for path, value in changes.items():
        *parents, leaf = path.split(".")
        node = data
        for p in parents:
            node = node[p]
        node[leaf] = value
    return validate(data, source="<test>")


def sensitive_classroom() -> sim.Scenario:
    """classroom_demo tilted so that every rule moves the metrics: a fifth of requesters
    malicious and retrying only once (so refusals are seldom undone by retries), an extra
    category prohibited only by the (extraterritorial, KYC-mandating) EU-like regime,
    heavy enforcement everywhere and a treaty at the start."""
    spec = small_classroom()
    kinds = spec.requesters.kinds
    changes = {
        "requesters.kinds.malicious.share": 0.2,
        "requesters.kinds.benign.share": round(0.8 - kinds["dual_use"].share, 9),
        "requesters.kinds.malicious.persistence": 1,
        "jurisdictions.eu.prohibited": [*spec.jurisdictions["eu"].prohibited, "disinformation"],
        "jurisdictions.eu.enforcement.kyc_mandate": True,
        "nodes.count": 1_000,
        "treaties": [["eu", "us"]],
    }
    for jur in ("eu", "us", "cn", "row"):
        changes |= {
            f"jurisdictions.{jur}.enforcement.audit_rate": 0.3,
            f"jurisdictions.{jur}.enforcement.detection_probability": 0.8,
            f"jurisdictions.{jur}.enforcement.takedown_probability": 0.5,
        }
    return small_classroom(**changes)


def per_seed_means(spec: sim.Scenario, metrics: list[str], **reference_options):
    """(seeds, metrics) arrays of per-run step averages for engine and reference."""
    engine, reference = [], []
    for seed in SEEDS:
        table = sim.run(spec, seed=seed).metrics
        engine.append([np.nanmean(table[m].to_numpy(dtype=float)) for m in metrics])
        table = ReferenceModel(spec, seed=seed, **reference_options).run()
        reference.append([np.nanmean(table[m].to_numpy(dtype=float)) for m in metrics])
    return np.array(engine), np.array(reference)


def assert_agree(spec: sim.Scenario, tolerances: dict[str, float], **reference_options):
    metrics = list(tolerances)
    engine, reference = per_seed_means(spec, metrics, **reference_options)
    failures = []
    for i, name in enumerate(metrics):
        e, r = engine[:, i], reference[:, i]
        se = math.sqrt(e.var(ddof=1) / e.size + r.var(ddof=1) / r.size)
        diff = e.mean() - r.mean()
        if abs(diff) > 4 * se + tolerances[name]:
            failures.append(
                f"{name}: engine {e.mean():.5g} vs reference {r.mean():.5g} "
                f"(diff {diff:.3g}, 4 SE {4 * se:.3g}, atol {tolerances[name]})"
            )
    assert not failures, "engine and reference disagree:\n" + "\n".join(failures)


def count_tolerances(spec: sim.Scenario) -> dict[str, float]:
    """1% of the expected requests per step (at least 1) for every count metric."""
    rate = sum(p.share * p.requests_per_day for p in spec.requesters.kinds.values())
    atol = max(1.0, 0.01 * spec.requesters.count * rate)
    return {name: atol for name in COUNTS}


def test_headline_metrics_agree_on_classroom_demo():
    spec = small_classroom()
    assert_agree(spec, RATES | count_tolerances(spec), retry_timing="rounds")


def test_every_rule_agrees_on_a_sensitive_variant():
    spec = sensitive_classroom()
    tolerances = (
        RATES
        | count_tolerances(spec)
        | {"active_nodes": 1.0, "audits": 0.5, "violations_detected": 0.5, "takedowns": 0.3}
    )
    assert_agree(spec, tolerances, retry_timing="rounds")


def test_retry_timing_is_irrelevant_when_capacity_is_ample():
    """With capacity far above demand no attempt is turned away, so the reference's
    default (immediate retries, as a typical Mesa model is written) must agree too."""
    spec = small_classroom(**{"nodes.capacity_per_day": 10_000})
    assert_agree(spec, RATES | count_tolerances(spec), retry_timing="immediate")


def test_reference_populations_match_the_engine():
    spec = small_classroom()
    engine = Requesters.create(spec, np.random.default_rng(0))
    reference = ReferenceModel(spec, seed=0)
    names = list(spec.jurisdictions)
    kinds = ("benign", "dual_use", "malicious")
    engine_cells = sorted(zip(engine.jurisdiction.tolist(), engine.kind.tolist(), strict=True))
    reference_cells = sorted(
        (names.index(a.jurisdiction.name), kinds.index(a.kind)) for a in reference.requesters
    )
    assert engine_cells == reference_cells
    engine_nodes = np.bincount(
        sim.build_model(spec, seed=0).node_table.jurisdiction, minlength=len(names)
    )
    reference_nodes = np.bincount(
        [names.index(n.jurisdiction.name) for n in reference.node_list], minlength=len(names)
    )
    assert engine_nodes.tolist() == reference_nodes.tolist()


@pytest.mark.parametrize("retry_timing", ["immediate", "rounds"])
def test_reference_accounts_for_every_request(retry_timing):
    table = ReferenceModel(small_classroom(), seed=1, retry_timing=retry_timing).run()
    total = table["requests_served"] + table["requests_refused"] + table["requests_dropped"]
    assert (total == table["requests_emitted"]).all()
    assert (table["attempts"] >= table["requests_emitted"]).all()


def test_reference_refuses_scenarios_beyond_the_core_rules():
    """Agreement is only claimed for the core rules; anything else is refused loudly."""
    spec = small_classroom(**{"adaptation.enabled": True})
    with pytest.raises(NotImplementedError, match="adaptation.enabled"):
        ReferenceModel(spec)
