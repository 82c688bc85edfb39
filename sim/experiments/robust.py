"""The experiments behind a robustness analysis: a base scenario and policies, each run
in the same plausible futures with common random numbers.

Futures are drawn once, by Latin hypercube over the base scenario's uncertainty
catalogue (:mod:`sim.experiments.uncertainty`), leaving out every parameter a policy
sets (a lever is a choice, not an uncertainty: a future never overrides it). Each
scenario is one sweep of those futures; replication ``r`` of every future and every
scenario runs with the same seed, so a policy's effect in a future is a paired
difference.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from sim.experiments.experiment import Experiment, load_experiment
from sim.experiments.uncertainty import catalogue_for, draw_futures
from sim.results.runner import ScenarioLike, with_steps
from sim.scenario import load_scenario

__all__ = [
    "DESCRIPTIVE_FIELDS",
    "ROBUST_OUTCOMES",
    "RobustPlan",
    "lever_paths",
    "plan_robustness",
]

#: Outcomes compared in every future (run-level outcomes of the registry).
ROBUST_OUTCOMES = (
    "harmful_completed",
    "malicious_success_share",
    "policy_leakage",
    "benign_over_refusal",
    "dual_use_over_refusal",
    "enforcement_spend_usd",
)
#: Scenario fields that describe rather than act (never levers).
DESCRIPTIVE_FIELDS = ("name", "description", "question")


@dataclass(frozen=True)
class RobustPlan:
    """What a robustness analysis runs.

    Attributes:
        names: The base scenario's label first, then each policy's.
        experiments: One experiment of futures per label.
        futures: ``future`` and one column per uncertain parameter (its dotted path).
        levers: Paths some policy sets differently from the base (not varied).
    """

    names: list[str]
    experiments: dict[str, Experiment]
    futures: pd.DataFrame
    levers: list[str]


def lever_paths(base: Mapping[str, Any], policy: Mapping[str, Any], prefix: str = "") -> set[str]:
    """Dotted paths of every value ``policy`` sets differently from ``base`` (whole
    sub-mappings where one side has a key the other lacks)."""
    out: set[str] = set()
    for key in set(base) | set(policy):
        path = f"{prefix}{key}"
        if not prefix and key in DESCRIPTIVE_FIELDS:
            continue
        a, b = base.get(key), policy.get(key)
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            out |= lever_paths(a, b, f"{path}.")
        elif a != b:
            out.add(path)
    return out


def _covered(path: str, levers: set[str]) -> bool:
    """Whether a lever sets ``path`` or a mapping that holds it."""
    return any(path == lever or path.startswith(f"{lever}.") for lever in levers)


def plan_robustness(
    base: ScenarioLike,
    policies: Sequence[tuple[str, ScenarioLike]],
    *,
    futures: int = 100,
    seeds: int = 3,
    steps: int | None = None,
    seed: int = 0,
    outcomes: Sequence[str] = ROBUST_OUTCOMES,
) -> RobustPlan:
    """The futures and the experiments of a robustness analysis.

    Args:
        base: The base scenario.
        policies: (label, scenario) of each policy (a preset, a file, a mapping).
        futures: Futures drawn.
        seeds: Replications per future, common to every scenario.
        steps: Days per run (default: the base scenario's).
        seed: Seed of the futures and of the runs.
        outcomes: Run-level outcomes recorded.

    Raises:
        ScenarioError: a scenario is invalid.
        ValueError: no policy, repeated labels, or fewer than one future or seed.
    """
    if not policies:
        raise ValueError("name at least one policy to compare with the base")
    base_spec = with_steps(load_scenario(base), steps)
    base_data = base_spec.to_dict()
    names = [base_spec.name, *(label for label, _ in policies)]
    if len(set(names)) != len(names):
        raise ValueError(f"scenario labels must differ from each other and the base: {names}")
    datas = {base_spec.name: base_data}
    for label, policy in policies:
        data = with_steps(load_scenario(policy), base_spec.steps).to_dict()
        datas[label] = data
    levers = set().union(*(lever_paths(base_data, d) for d in datas.values()))
    catalogue = catalogue_for(base_spec)
    kept = tuple(p for p in catalogue.parameters if not _covered(p.path, levers))
    catalogue = dataclasses.replace(catalogue, parameters=kept)
    table = draw_futures(base_spec, futures, seed, catalogue=catalogue)
    rows = [
        {path: float(value) for path, value in row.items() if path != "future"}
        for row in table.to_dict("records")
    ]
    experiments = {
        label: load_experiment(
            {
                "name": f"robust_{label}",
                "description": f"{label} in {futures} futures of {base_spec.name}",
                "scenario": data,
                "futures": rows,
                "replications": seeds,
                "seed": seed,
                "common_random_numbers": True,
                "outcomes": list(outcomes),
            },
            source=f"robustness of {label}",
        )
        for label, data in datas.items()
    }
    return RobustPlan(names=names, experiments=experiments, futures=table, levers=sorted(levers))
