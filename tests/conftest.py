"""Shared builders for small, fully specified scenarios."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest


def tiny_scenario(
    *,
    refusal: float = 0.0,
    persistence: int = 0,
    jurisdictions: int = 2,
    nodes: int = 40,
    requesters: int = 400,
    capacity: float = 10_000,
    malicious_share: float = 0.5,
    steps: int = 5,
) -> dict[str, Any]:
    """A minimal valid scenario: two categories (chat, harm), one model kind refusing
    both with probability ``refusal``, no enforcement, no filters, no VPN, no KYC."""
    names = [f"j{i}" for i in range(jurisdictions)]
    share = 1.0 / jurisdictions
    profile = {
        "requests_per_day": 2.0,
        "persistence": persistence,
        "vpn_use": 0.0,
        "jailbreak_attempt": 0.0,
        "kyc_verified": 0.0,
    }
    return {
        "name": "tiny",
        "seed": 7,
        "steps": steps,
        "categories": {"chat": {"harmful": False}, "harm": {"harmful": True}},
        "models": {
            "m": {"refusal": {"chat": refusal, "harm": refusal}, "jailbreak_susceptibility": 0.0}
        },
        "jurisdictions": {
            n: {
                "requester_share": share,
                "hosting_share": share,
                "hosting_cost_usd_per_day": 1.0,
                "model_mix": {"m": 1.0},
            }
            for n in names
        },
        "requesters": {
            "count": requesters,
            "kinds": {
                "benign": {
                    **profile,
                    "share": (1 - malicious_share) / 2,
                    "category_mix": {"chat": 1.0},
                },
                "dual_use": {
                    **profile,
                    "share": (1 - malicious_share) / 2,
                    "category_mix": {"chat": 1.0},
                },
                "malicious": {**profile, "share": malicious_share, "category_mix": {"harm": 1.0}},
            },
        },
        "nodes": {
            "count": nodes,
            "capacity_per_day": capacity,
            "capacity_dispersion": 0.0,
            "price_usd_per_request": 1.0,
            "filter_recall": 0.9,
            "filter_false_positive": 0.1,
        },
    }


@pytest.fixture
def tiny() -> dict[str, Any]:
    """A fresh copy of the default tiny scenario."""
    return copy.deepcopy(tiny_scenario())


#: A tiny grid experiment: 3 audit rates x 2 filter recalls, 2 replications, 10 days.
TINY_EXPERIMENT = {
    "name": "t",
    "description": "Audits against filters, in a tiny world.",
    "scenario": "classroom_demo",
    "steps": 10,
    "overrides": {"requesters": {"count": 500}, "nodes": {"count": 60}},
    "factors": [
        {"name": "audit_rate", "path": "jurisdictions.*.enforcement.audit_rate", "range": [0, 0.2]},
        {"name": "filter_recall", "path": "nodes.filter_recall", "values": [0.5, 0.9]},
    ],
    "design": {"kind": "grid", "levels": 3},
    "replications": 2,
    "seed": 1,
}


@pytest.fixture(scope="session", autouse=True)
def sweep_roots_for_tests(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The explorer may open sweeps in pytest's temporary folders and the checkout (its
    default is the current directory only); tests of the confinement override it."""
    import os

    roots = [str(tmp_path_factory.getbasetemp()), str(Path(__file__).resolve().parents[1])]
    os.environ["DIRISK_APP_SWEEP_ROOTS"] = os.pathsep.join(roots)


@pytest.fixture(scope="session")
def sweep_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny experiment's sweep, in a folder of sweeps of its own (read-only)."""
    from sim.experiments.experiment import load_experiment
    from sim.experiments.sweep import sweep

    root = tmp_path_factory.mktemp("sweeps") / "tiny"
    sweep(load_experiment(TINY_EXPERIMENT), root, workers=1)
    return root


def _analytic_evaluation(batch: Any) -> Any:
    """Outcomes of candidates with known trade-offs, in place of the sweep engine: audits
    lower harm and leakage and cost money, KYC lowers harm and costs a fixed amount, and
    later futures are worse."""
    import pandas as pd

    rows = []
    for index, levers in enumerate(batch.candidates):
        audit, kyc = levers["audit_rate"] / 0.1, float(levers["kyc_mandate"])
        for future in batch.futures["future"]:
            worse = 1 + int(future) / 10
            rows.append(
                {
                    "candidate": index,
                    "future": int(future),
                    "harmful_completed": 1_000 * (1 - 0.8 * audit) * (1 - 0.2 * kyc) * worse,
                    "policy_leakage": 0.4 * (1 - 0.5 * audit) * worse,
                    "enforcement_spend_usd": 5_000 * audit + 1_500 * kyc,
                }
            )
    return pd.DataFrame(rows)


@pytest.fixture(scope="session")
def optimize_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished policy search of classroom_demo over an audit rate and a KYC switch,
    scored by an analytic evaluation (no runs), with its re-evaluation (read-only)."""
    from sim.experiments.optimize import optimize

    root = tmp_path_factory.mktemp("optimize") / "search"
    optimize(
        "classroom_demo",
        {
            "levers": [
                {
                    "name": "audit_rate",
                    "path": "jurisdictions.*.enforcement.audit_rate",
                    "bounds": [0.0, 0.1],
                },
                {
                    "name": "kyc_mandate",
                    "path": "jurisdictions.*.enforcement.kyc_mandate",
                    "type": "bool",
                },
            ]
        },
        root,
        objectives=["harmful_completed:min", "policy_leakage:min"],
        futures=3,
        generations=4,
        population=8,
        seed=3,
        evaluate=_analytic_evaluation,
    )
    return root
