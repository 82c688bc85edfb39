"""Every preset validates and runs; each preset's headline claim holds over several seeds.

Claims are checked at a reduced size (6,000 requesters, 600 nodes, 120 days) against a
counterfactual that differs only in the policy the preset is about. Where a claim is
weaker than a preset's story suggests, the test states what the model actually shows.
"""

from __future__ import annotations

import numpy as np
import pytest

import sim
from sim.scenario import list_presets, load_scenario

PRESETS = (
    "baseline",
    "classroom_demo",
    "eu_ai_act",
    "us_state_patchwork",
    "political_filter",
    "haven_emerges",
    "abliteration_wave",
    "global_treaty",
    "trusted_access_kyc",
    "protocol_self_governance",
    "defence_in_depth",
    "compliance_everywhere",
)
SEEDS = range(3)
STEPS = 120


def test_every_named_preset_is_listed():
    assert set(PRESETS) <= set(list_presets())


@pytest.mark.parametrize("name", PRESETS)
def test_preset_validates_states_its_question_and_runs(name):
    spec = load_scenario(name)
    assert spec.description and spec.question
    if name not in ("baseline", "classroom_demo"):
        raw = (sim.scenario.preset_path(name)).read_text()
        assert "extends: baseline" in raw
    res = sim.run(spec, steps=10, seed=1)
    r = res.requests
    assert (r["emitted"] == r["served"] + r["refused"] + r["dropped"]).all()


def small(preset: str, steps: int = STEPS) -> dict:
    spec = load_scenario(preset).to_dict()
    spec["requesters"]["count"], spec["nodes"]["count"], spec["steps"] = 6000, 600, steps
    spec["timeline"] = [e for e in spec["timeline"] if e["step"] < steps]
    return spec


def tail(res: sim.Results, column: str, days: int = 30) -> float:
    return float(res.metrics[column].iloc[-days:].mean())


def runs(spec: dict) -> list[sim.Results]:
    return [sim.run(spec, seed=s) for s in SEEDS]


def test_unilateral_strict_policy_moves_nodes_and_leaks_abroad_without_proportional_harm_fall():
    """eu_ai_act against the same adaptive world with the EU's baseline rules: EU-hosted
    nodes leave, more of EU residents' prohibited demand is served abroad, and global
    harm completion falls by less than a fifth."""
    strict = runs(small("eu_ai_act"))
    before = small("eu_ai_act")
    before["jurisdictions"]["eu"] = small("baseline")["jurisdictions"]["eu"]
    mild = runs(before)

    def eu_nodes(r: sim.Results) -> int:
        return int(
            r.nodes.query(f"step == {STEPS - 1} and jurisdiction == 'eu'")["nodes_active"].sum()
        )

    def abroad(r: sim.Results) -> float:
        q = r.requests.query("jurisdiction == 'eu' and prohibited_at_residence and step >= 90")
        return q["served_foreign"].sum() / q["served"].sum()

    assert max(eu_nodes(r) for r in strict) < min(eu_nodes(r) for r in mild)
    assert np.mean([abroad(r) for r in strict]) > np.mean([abroad(r) for r in mild])
    harm_strict = np.mean([tail(r, "harm_completion_rate") for r in strict])
    harm_mild = np.mean([tail(r, "harm_completion_rate") for r in mild])
    assert harm_strict > 0.8 * harm_mild


def test_abliteration_wave_raises_the_permissive_node_share():
    for r in runs(small("abliteration_wave")):
        share = r.metrics["permissive_node_share"]
        assert share.iloc[-1] > share.iloc[18] + 0.03  # release at the end of day 19


def test_defence_in_depth_lowers_malicious_success_and_raises_dual_use_over_refusal():
    layered, base = runs(small("defence_in_depth")), runs(small("baseline"))
    assert max(tail(r, "malicious_success_share") for r in layered) < min(
        tail(r, "malicious_success_share") for r in base
    )
    assert min(tail(r, "dual_use_over_refusal") for r in layered) > max(
        tail(r, "dual_use_over_refusal") for r in base
    )


def test_political_filter_leaks_mainly_through_vpns_at_survey_rates():
    """At survey VPN rates (about a third of residents) roughly 40% of prohibited
    political requests from the filtering regime get served, against about a quarter
    from filter and retry leakage alone: VPNs roughly double the leak, but most of the
    demand is still refused (the filter is dented, not largely bypassed)."""

    def served_share(spec: dict) -> float:
        shares = []
        for r in runs(spec):
            q = r.requests.query("jurisdiction == 'cn' and category == 'political_speech'")
            shares.append(q["served"].sum() / q["emitted"].sum())
        return float(np.mean(shares))

    with_vpn, without = (
        served_share(small("political_filter", 40)),
        served_share(small("baseline", 40)),
    )
    assert with_vpn > without + 0.1
    assert 0.3 < with_vpn < 0.6


def test_a_haven_opening_draws_nodes_and_raises_harm():
    for r in runs(small("haven_emerges", 150)):
        haven = r.nodes[r.nodes["jurisdiction"] == "haven"].groupby("step")["nodes_active"].sum()
        assert haven.loc[:59].sum() == 0
        assert haven.iloc[-1] > 0.15 * r.metrics["active_nodes"].iloc[-1]
        harm = r.metrics["harm_completion_rate"]
        assert harm.iloc[-30:].mean() > harm.iloc[30:59].mean()


def test_a_treaty_grows_beyond_its_founders():
    grown = [r.metrics["treaty_links"].iloc[-1] > 1 for r in runs(small("global_treaty"))]
    assert sum(grown) >= 2


def test_validator_probing_lowers_harm_below_the_baseline():
    probed, base = runs(small("protocol_self_governance")), runs(small("baseline"))
    assert max(tail(r, "harm_completion_rate") for r in probed) < min(
        tail(r, "harm_completion_rate") for r in base
    )


def test_compliance_everywhere_holds_the_policy_at_a_cost_to_legitimate_users():
    """Node-side compliance everywhere at least halves the baseline's policy leakage over
    common seeds, and legitimate users pay for it in refusals."""
    from sim.experiments.compare import compare

    result = compare("baseline", "compliance_everywhere", seeds=3, steps=60)
    rows = result.summary.set_index("metric")
    leakage = rows.loc["policy_leakage"]
    assert leakage["verdict"] == "B lower" and leakage["mean_b"] <= leakage["mean_a"] / 2
    for cost in ("benign_over_refusal", "dual_use_over_refusal"):
        assert rows.loc[cost, "verdict"] == "B higher"


def test_the_scenario_catalogue_covers_every_preset():
    """docs/SCENARIOS.md is generated by sim.output.catalogue; a new preset must be added by
    regenerating it."""
    from pathlib import Path

    text = (Path(__file__).parents[1] / "docs" / "SCENARIOS.md").read_text()
    for name in list_presets():
        assert f"## {name}" in text, name


def test_catalogue_key_numbers_come_from_runs():
    from sim.output.catalogue import RUN_OUTCOMES, TAIL_OUTCOMES, key_numbers

    numbers = key_numbers("classroom_demo", seeds=2)
    assert list(numbers) == [*TAIL_OUTCOMES, *RUN_OUTCOMES]
    for name in TAIL_OUTCOMES:
        mean, half = numbers[name]
        assert np.isfinite(mean) and half >= 0
