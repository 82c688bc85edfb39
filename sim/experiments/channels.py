"""Channels of leakage: named counterfactuals, each switching one mechanism off.

A channel is a transform of a scenario mapping that removes one way harm or prohibited
demand gets served (VPN evasion, retries, jailbreaks, permissive models, havens, open
borders, forged identities, requester learning, the market protocol, node adaptation),
leaving everything else as it is. Attribution (``dirisk attribute``) runs every
coalition of channels on and off and splits an outcome among them (Shapley values).

Transforms act on the scenario at the start of the run: timeline events and policy
dynamics still fire as written. A channel that does not apply to a scenario (nothing to
switch off) says why, and is reported as not applying, never as a zero contribution.
Adding a channel is one entry in :data:`CHANNELS`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

__all__ = [
    "CHANNELS",
    "PERMISSIVE_THRESHOLD",
    "Channel",
    "applicability",
    "channel",
    "switch_off",
]

#: A model kind is permissive when it refuses harmful categories less than half the time
#: (the rule of ``sim.engine.model.permissive_kinds``, applied to the scenario mapping).
PERMISSIVE_THRESHOLD = 0.5

Scenario = dict[str, Any]


@dataclass(frozen=True)
class Channel:
    """One mechanism of leakage and how to switch it off.

    Attributes:
        name: The channel's name (``--channels``).
        label: Readable name for tables and figures.
        off: What the world looks like with the channel switched off (one sentence).
        why_not: ``why_not(scenario)`` is "" when the channel applies, otherwise why
            there is nothing to switch off.
        remove: ``remove(scenario)`` switches the mechanism off, in place.
    """

    name: str
    label: str
    off: str
    why_not: Callable[[Scenario], str]
    remove: Callable[[Scenario], None]


def _profiles(data: Scenario, kinds: Iterable[str] | None = None) -> Iterator[dict[str, Any]]:
    """Every requester profile of the given kinds: the population's and each
    jurisdiction's overrides (which may leave a field unset: None)."""
    wanted = set(kinds) if kinds is not None else None
    for kind, profile in data["requesters"]["kinds"].items():
        if wanted is None or kind in wanted:
            yield profile
    for spec in data["jurisdictions"].values():
        for kind, profile in (spec.get("requesters") or {}).items():
            if profile is not None and (wanted is None or kind in wanted):
                yield profile


def _any_positive(data: Scenario, field: str, kinds: Iterable[str] | None = None) -> bool:
    return any((p.get(field) or 0) > 0 for p in _profiles(data, kinds))


def _zero(field: str, kinds: Iterable[str] | None = None) -> Callable[[Scenario], None]:
    def remove(data: Scenario) -> None:
        for profile in _profiles(data, kinds):
            if profile.get(field) is not None:
                profile[field] = 0
        return None

    return remove


def _unless(condition: Callable[[Scenario], bool], reason: str) -> Callable[[Scenario], str]:
    return lambda data: "" if condition(data) else reason


def _harmful(data: Scenario) -> list[str]:
    return [name for name, c in data["categories"].items() if c.get("harmful")]


def _harm_refusal(model: dict[str, Any], harmful: list[str]) -> float:
    values = [model["refusal"].get(c, 0.0) for c in harmful]
    return sum(values) / len(values) if values else 1.0


def _permissive(data: Scenario) -> list[str]:
    harmful = _harmful(data)
    return [
        name
        for name, model in data["models"].items()
        if harmful and _harm_refusal(model, harmful) < PERMISSIVE_THRESHOLD
    ]


def _reference_model(data: Scenario) -> str | None:
    """The aligned kind permissive kinds are made to refuse like: the kind called
    ``aligned`` if there is one, else the kind that refuses harmful categories most."""
    models = data["models"]
    if "aligned" in models and "aligned" not in _permissive(data):
        return "aligned"
    others = [m for m in models if m not in _permissive(data)]
    harmful = _harmful(data)
    return max(others, key=lambda m: _harm_refusal(models[m], harmful)) if others else None


def _refuse_as_aligned(data: Scenario) -> None:
    reference = _reference_model(data)
    assert reference is not None  # the channel applies only when there is one
    refusal = data["models"][reference]["refusal"]
    for name in _permissive(data):
        data["models"][name]["refusal"] = dict(refusal)


def _havens(data: Scenario) -> list[str]:
    return [j for j, s in data["jurisdictions"].items() if s["enforcement"]["audit_rate"] == 0]


def _median_enforcer(data: Scenario) -> str | None:
    """The enforcing jurisdiction with the median audit rate (the lower median)."""
    enforcing = sorted(
        (s["enforcement"]["audit_rate"], j)
        for j, s in data["jurisdictions"].items()
        if s["enforcement"]["audit_rate"] > 0
    )
    return enforcing[(len(enforcing) - 1) // 2][1] if enforcing else None


def _enforce_like_the_median(data: Scenario) -> None:
    median = data["jurisdictions"][_median_enforcer(data)]
    for name in _havens(data):
        haven = data["jurisdictions"][name]
        haven["enforcement"] = copy.deepcopy(median["enforcement"])
        haven["prohibited"] = list(median["prohibited"])
        haven["compliance_share"] = median["compliance_share"]


def _prohibiting(data: Scenario) -> list[str]:
    return [j for j, s in data["jurisdictions"].items() if s["prohibited"]]


def _open_to_foreign_nodes(data: Scenario) -> list[str]:
    return [
        j
        for j in _prohibiting(data)
        if not data["jurisdictions"][j]["enforcement"]["geo_block_foreign"]
    ]


def _geo_block(data: Scenario) -> None:
    for name in _prohibiting(data):
        data["jurisdictions"][name]["enforcement"]["geo_block_foreign"] = True


def _kyc_gated(data: Scenario) -> bool:
    market = data["market"]
    mandated = any(s["enforcement"]["kyc_mandate"] for s in data["jurisdictions"].values())
    gateway = market["protocol"] == "gateway" and bool(market["gateway"]["kyc_categories"])
    categories = market.get("kyc_categories")
    gated = categories is None or bool(categories)
    return (mandated and gated) or gateway


def _forget(data: Scenario) -> None:
    for profile in data["requesters"]["kinds"].values():
        for field in ("memory", "loyalty", "word_of_mouth"):
            profile[field] = 0


def _learns(data: Scenario) -> bool:
    return any(
        (p.get(f) or 0) > 0
        for p in data["requesters"]["kinds"].values()
        for f in ("memory", "loyalty", "word_of_mouth")
    )


def _open_protocol(data: Scenario) -> None:
    data["market"]["protocol"] = "open"


def _static_nodes(data: Scenario) -> None:
    data["adaptation"]["enabled"] = False


_DEFINITIONS = (
    Channel(
        "vpn",
        "VPN evasion",
        "nobody appears in another jurisdiction (VPN use 0 for every requester)",
        _unless(lambda d: _any_positive(d, "vpn_use"), "nobody uses a VPN"),
        _zero("vpn_use"),
    ),
    Channel(
        "retries",
        "retries after refusal",
        "no retries after a refusal or a full node (persistence 0)",
        _unless(lambda d: _any_positive(d, "persistence"), "nobody retries"),
        _zero("persistence"),
    ),
    Channel(
        "jailbreaks",
        "jailbreaks",
        "no jailbreak attempts",
        _unless(
            lambda d: (
                _any_positive(d, "jailbreak_attempt")
                and any(m["jailbreak_susceptibility"] > 0 for m in d["models"].values())
            ),
            "nobody attempts a jailbreak, or no model can be jailbroken",
        ),
        _zero("jailbreak_attempt"),
    ),
    Channel(
        "permissive_models",
        "permissive models",
        "uncensored, abliterated and base kinds refuse as the aligned kind does",
        _unless(
            lambda d: bool(_permissive(d)) and _reference_model(d) is not None,
            "no permissive model kind, or no aligned kind to refuse like",
        ),
        _refuse_as_aligned,
    ),
    Channel(
        "havens",
        "havens",
        "jurisdictions without audits enforce, prohibit and comply as the median enforcing "
        "jurisdiction does",
        _unless(
            lambda d: bool(_havens(d)) and _median_enforcer(d) is not None,
            "every jurisdiction audits, or none does",
        ),
        _enforce_like_the_median,
    ),
    Channel(
        "cross_border",
        "open borders",
        "every jurisdiction that prohibits a category geo-blocks foreign nodes (VPNs still work)",
        _unless(
            lambda d: bool(_open_to_foreign_nodes(d)),
            "every prohibiting jurisdiction already geo-blocks",
        ),
        _geo_block,
    ),
    Channel(
        "kyc_forgery",
        "forged identities",
        "forged identities no longer pass KYC gates (no malicious requester is verified)",
        _unless(
            lambda d: _any_positive(d, "kyc_verified", ["malicious"]) and _kyc_gated(d),
            "no KYC gate, or no malicious requester passes one",
        ),
        _zero("kyc_verified", ["malicious"]),
    ),
    Channel(
        "requester_learning",
        "requester learning",
        "no memory of serving nodes, no loyalty, no word of mouth",
        _unless(_learns, "requesters do not learn"),
        _forget,
    ),
    Channel(
        "protocol",
        "market protocol",
        "the market routes as the open protocol does",
        _unless(lambda d: d["market"]["protocol"] != "open", "the market is open already"),
        _open_protocol,
    ),
    Channel(
        "node_adaptation",
        "node adaptation",
        "nodes do not relocate, switch model, change compliance, exit or enter",
        _unless(lambda d: bool(d["adaptation"]["enabled"]), "nodes do not adapt"),
        _static_nodes,
    ),
)

#: Every channel by name, in the order they are reported and applied.
CHANNELS: dict[str, Channel] = {c.name: c for c in _DEFINITIONS}


def channel(name: str) -> Channel:
    """The channel called ``name`` (KeyError naming the known ones otherwise)."""
    try:
        return CHANNELS[name]
    except KeyError:
        raise KeyError(f"no channel {name!r}; expected one of {list(CHANNELS)}") from None


def applicability(data: Scenario, names: Iterable[str] | None = None) -> dict[str, str]:
    """For each channel (default: all), "" if it applies to the scenario mapping ``data``,
    else why not."""
    return {n: channel(n).why_not(data) for n in (names if names is not None else CHANNELS)}


def switch_off(data: Scenario, names: Iterable[str]) -> Scenario:
    """A copy of the scenario mapping ``data`` with the named channels switched off (in
    the registry's order, so the result does not depend on the order given)."""
    off = set(names)
    for name in off:
        channel(name)
    out = copy.deepcopy(data)
    for name, spec in CHANNELS.items():
        if name in off:
            spec.remove(out)
    return out
