"""Benchmark scenarios generated in code from the baseline preset.

The large scenario keeps the baseline's categories, model kinds and requester kinds
and replaces its five jurisdictions with ``n_jurisdictions`` generated ones: each is a
copy of one of the baseline's regimes (cycled in order, so every kind of regime,
including geo-blocking and extraterritorial ones, is present), with requester and
hosting shares drawn from a fixed-seed Dirichlet distribution so the scenario is the
same on every run.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from sim.scenario import REQUESTER_KINDS, Scenario, load_raw, load_scenario, validate

#: Seed of the generator that draws the jurisdictions' shares (not the run's seed).
SHARE_SEED = 12345


def baseline_raw() -> dict[str, Any]:
    """The baseline preset as plain data (after ``extends:``), before validation."""
    raw, _ = load_raw("baseline")
    return raw


def mean_rate(raw: dict[str, Any]) -> float:
    """Expected requests per requester per day over the requester kinds."""
    kinds = raw["requesters"]["kinds"]
    return sum(kinds[k]["share"] * kinds[k]["requests_per_day"] for k in REQUESTER_KINDS)


def _shares(n: int, rng: np.random.Generator) -> list[float]:
    """n positive shares summing to 1 (rounded so the schema's 1e-6 tolerance holds)."""
    raw = rng.dirichlet(np.full(n, 2.0))
    raw = np.maximum(raw, 1e-4)
    raw = raw / raw.sum()
    out = [round(float(x), 9) for x in raw]
    out[-1] = round(1.0 - sum(out[:-1]), 9)
    return out


def generated_jurisdictions(n: int, template: dict[str, Any]) -> dict[str, Any]:
    """``n`` jurisdictions cycling through the template's regimes, with generated shares."""
    rng = np.random.default_rng(SHARE_SEED)
    kinds = list(template)
    req_shares, host_shares = _shares(n, rng), _shares(n, rng)
    out: dict[str, Any] = {}
    for i in range(n):
        kind = kinds[i % len(kinds)]
        jur = copy.deepcopy(template[kind])
        jur["description"] = f"Generated copy #{i} of the baseline's {kind} regime."
        jur["requester_share"] = req_shares[i]
        jur["hosting_share"] = host_shares[i]
        out[f"{kind}_{i:03d}"] = jur
    return out


def large_scenario(
    *,
    nodes: int = 10_000,
    jurisdictions: int = 50,
    requesters: int = 500_000,
    requests_per_step: float = 1_000_000,
    load_factor: float | None = None,
    steps: int = 10,
    name: str = "bench_large",
    market: dict[str, Any] | None = None,
) -> Scenario:
    """A scenario generated from the baseline with the given sizes.

    Args:
        nodes: Nodes at start.
        jurisdictions: Number of generated jurisdictions.
        requesters: Requester count.
        requests_per_step: Expected requests emitted per step; every kind's
            ``requests_per_day`` is scaled by one common factor to reach it.
        load_factor: Expected first-attempt demand over expected total capacity;
            None keeps the baseline's ratio (so capacity per node scales with demand
            per node, and the share of requests that find room stays comparable).
        steps: Steps of the scenario.
        name: Scenario name.
        market: Keys of the ``market`` block to set (a protocol and its options).
    """
    raw = baseline_raw()
    base_requests = raw["requesters"]["count"] * mean_rate(raw)
    base_capacity = raw["nodes"]["count"] * raw["nodes"]["capacity_per_day"]
    scale = requests_per_step / (requesters * mean_rate(raw))
    for profile in raw["requesters"]["kinds"].values():
        profile["requests_per_day"] = profile["requests_per_day"] * scale
    raw["requesters"]["count"] = int(requesters)
    ratio = base_requests / base_capacity if load_factor is None else load_factor
    raw["nodes"]["count"] = int(nodes)
    raw["nodes"]["capacity_per_day"] = requests_per_step / ratio / max(nodes, 1)
    raw["jurisdictions"] = generated_jurisdictions(jurisdictions, raw["jurisdictions"])
    raw["treaties"] = []
    raw["timeline"] = []
    raw["name"] = name
    raw["description"] = (
        f"Benchmark: {nodes:,} nodes in {jurisdictions} generated "
        f"jurisdictions, {requesters:,} requesters, about "
        f"{requests_per_step:,.0f} requests per step."
    )
    raw["steps"] = int(steps)
    _merge(raw.setdefault("market", {}), market or {})
    return validate(raw, source=f"<benchmark {name}>")


def sized_preset(
    preset: str,
    *,
    requesters: int | None = None,
    nodes: int | None = None,
    steps: int | None = None,
) -> Scenario:
    """A preset with its requester count, node count or steps replaced."""
    spec = load_scenario(preset)
    data = spec.to_dict()
    if requesters is not None:
        data["requesters"]["count"] = int(requesters)
    if nodes is not None:
        data["nodes"]["count"] = int(nodes)
    if steps is not None:
        data["steps"] = int(steps)
        data["timeline"] = [e for e in data["timeline"] if e["step"] < steps]
    return validate(data, source=f"<benchmark {preset}>")


#: The baseline's harmful categories: what a benchmark gateway refuses.
HARMFUL = ["phishing_fraud", "disinformation", "malware", "mass_harm_weapons"]

#: Market blocks of the protocols as the benchmarks run them: a gateway that refuses the
#: harmful categories, p2p discovery with its defaults, validators that probe as in the
#: protocol_self_governance preset.
PROTOCOL_MARKETS: dict[str, dict[str, Any]] = {
    "open": {"protocol": "open"},
    "gateway": {"protocol": "gateway", "gateway": {"prohibited": HARMFUL}},
    "p2p": {"protocol": "p2p"},
    "validators": {
        "protocol": "validators",
        "validators": {"probe_rate": 0.2, "penalty": 0.9, "emission_usd_per_subnet_day": 200},
    },
}


def _merge(into: dict[str, Any], changes: dict[str, Any]) -> None:
    """Set ``changes`` in ``into``, merging nested mappings."""
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = copy.deepcopy(value)


def described(description: dict[str, Any]) -> Scenario:
    """A scenario from a JSON-able description (what a benchmark worker is given):
    ``{"preset": name}`` with optional ``requesters``, ``nodes`` and ``steps`` (as
    :func:`sized_preset`) and blocks to merge into it (``market``, ``adaptation``,
    ``policy_dynamics``, ``treaties``); or ``{"large": {...}}``, the arguments of
    :func:`large_scenario`."""
    if "large" in description:
        return large_scenario(**description["large"])
    spec = sized_preset(
        description["preset"],
        requesters=description.get("requesters"),
        nodes=description.get("nodes"),
        steps=description.get("steps"),
    )
    blocks = {
        k: v
        for k, v in description.items()
        if k in ("market", "adaptation", "policy_dynamics", "treaties")
    }
    if not blocks:
        return spec
    data = spec.to_dict()
    _merge(data, blocks)
    return validate(data, source=f"<benchmark {description['preset']}>")
