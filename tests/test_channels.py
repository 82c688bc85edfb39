"""Each channel switches off exactly its mechanism, and says when it does not apply."""

from __future__ import annotations

import pytest

from sim.experiments.channels import CHANNELS, applicability, switch_off
from sim.scenario import list_presets, load_scenario, validate


def baseline() -> dict:
    return load_scenario("baseline").to_dict()


def changed_paths(a: object, b: object, path: str = "") -> set[str]:
    """Dotted paths where two mappings differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        out: set[str] = set()
        for key in set(a) | set(b):
            out |= changed_paths(a.get(key), b.get(key), f"{path}.{key}" if path else key)
        return out
    return set() if a == b else {path}


@pytest.mark.parametrize("name", list(CHANNELS))
@pytest.mark.parametrize("preset", sorted(list_presets()))
def test_switching_a_channel_off_gives_a_valid_scenario(name, preset):
    data = load_scenario(preset).to_dict()
    if applicability(data, [name])[name]:
        return
    validate(switch_off(data, [name]), source=f"{preset} without {name}")


EXPECTED_CHANGES = {
    "vpn": r"vpn_use",
    "retries": r"persistence",
    "jailbreaks": r"jailbreak_attempt",
    "permissive_models": r"models\.(base|uncensored|abliterated)\.refusal\.",
    "havens": r"jurisdictions\.haven\.(enforcement|prohibited|compliance_share)",
    "cross_border": r"jurisdictions\.(eu|us|row)\.enforcement\.geo_block_foreign",
    "kyc_forgery": r"requesters\.kinds\.malicious\.kyc_verified",
}


@pytest.mark.parametrize("name", list(EXPECTED_CHANGES))
def test_a_channel_changes_only_its_own_mechanism(name):
    import re

    data = baseline()
    changed = changed_paths(data, switch_off(data, [name]))
    assert changed, f"{name} changed nothing"
    assert all(re.search(EXPECTED_CHANGES[name], path) for path in changed), changed


def test_switched_off_mechanisms_are_gone():
    off = switch_off(baseline(), ["vpn", "retries", "kyc_forgery"])
    kinds = off["requesters"]["kinds"]
    assert all(k["vpn_use"] == 0 and k["persistence"] == 0 for k in kinds.values())
    assert kinds["malicious"]["kyc_verified"] == 0 and kinds["benign"]["kyc_verified"] > 0
    overrides = [p for j in off["jurisdictions"].values() for p in (j["requesters"] or {}).values()]
    assert all(p is None or p["vpn_use"] in (None, 0) for p in overrides)


def test_permissive_kinds_refuse_as_the_aligned_kind_does():
    off = switch_off(baseline(), ["permissive_models"])
    for kind in ("base", "uncensored", "abliterated"):
        assert off["models"][kind]["refusal"] == off["models"]["aligned"]["refusal"]


def test_havens_enforce_like_the_median_enforcing_jurisdiction():
    data = baseline()
    rates = sorted(
        (j["enforcement"]["audit_rate"], n)
        for n, j in data["jurisdictions"].items()
        if j["enforcement"]["audit_rate"] > 0
    )
    median = rates[(len(rates) - 1) // 2][1]
    off = switch_off(data, ["havens"])
    assert (
        off["jurisdictions"]["haven"]["enforcement"] == data["jurisdictions"][median]["enforcement"]
    )


def test_channels_that_do_not_apply_say_why():
    data = baseline()
    reasons = applicability(data)
    assert reasons["protocol"] == "the market is open already"
    assert reasons["node_adaptation"] == "nodes do not adapt"
    assert reasons["vpn"] == "" and reasons["retries"] == ""
    assert applicability(load_scenario("protocol_self_governance").to_dict())["protocol"] == ""


def test_switching_off_does_not_depend_on_the_order_given():
    data = baseline()
    assert switch_off(data, ["havens", "cross_border"]) == switch_off(
        data, ["cross_border", "havens"]
    )


def test_an_unknown_channel_names_the_known_ones():
    with pytest.raises(KeyError, match="expected one of"):
        switch_off(baseline(), ["teleportation"])
