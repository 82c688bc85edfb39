"""The policy-cost frontier: harm completed against over-refusal of legitimate users as
one policy lever is turned, over replications with common random numbers."""

from __future__ import annotations

import copy
from collections.abc import Sequence

import pandas as pd

from sim.common.seeds import replication_seeds
from sim.common.stats import ci_columns
from sim.results.runner import ScenarioLike, run
from sim.scenario import load_scenario, set_path, validate

#: Outcomes summarised per setting (run-level values, then mean and 95% CI over seeds).
OUTCOMES = (
    "harm_completion_rate",
    "harmful_completed",
    "malicious_success_share",
    "benign_over_refusal",
    "dual_use_over_refusal",
    "policy_leakage",
    "cross_border_share",
    "enforcement_spend_usd",
)


def run_outcomes(metrics: pd.DataFrame) -> dict[str, float]:
    """Run-level values of :data:`OUTCOMES` from a metrics table: totals for counts
    and money, ratios of totals for rates, means over steps for shares of actors."""
    total = metrics.sum(numeric_only=True)

    def ratio(num: str, den: str) -> float:
        return float(total[num] / total[den]) if total[den] else float("nan")

    return {
        "harm_completion_rate": ratio("harmful_completed", "harmful_requests"),
        "harmful_completed": float(total["harmful_completed"]),
        "malicious_success_share": float(metrics["malicious_success_share"].mean()),
        "benign_over_refusal": float(metrics["benign_over_refusal"].mean()),
        "dual_use_over_refusal": float(metrics["dual_use_over_refusal"].mean()),
        "policy_leakage": ratio("prohibited_served", "prohibited_requests"),
        "cross_border_share": float(metrics["cross_border_share"].mean()),
        "enforcement_spend_usd": float(total["enforcement_spend_usd"]),
    }


def frontier(
    scenario: ScenarioLike,
    parameter: str | Sequence[str],
    values: Sequence[float],
    *,
    seeds: int | Sequence[int] = 5,
    steps: int | None = None,
) -> pd.DataFrame:
    """Run a scenario at each value of a policy lever and summarise the trade-off.

    Args:
        scenario: The scenario (path, preset, mapping or Scenario).
        parameter: Dotted path(s) set to each value together, ``*`` for every key at a
            level (e.g. ``"jurisdictions.*.enforcement.audit_rate"``).
        values: The settings, from least to most strict.
        seeds: Replications (a count, derived from the scenario seed) or explicit seeds;
            every setting uses the same seeds (common random numbers).
        steps: Days per run (default: the scenario's).

    Returns:
        One row per setting: ``value``, and for each outcome its mean, ``_ci_low`` and
        ``_ci_high`` (95%, normal approximation over seeds); plus ``harm_prevented``
        (harmful requests completed at the first setting minus at this one, per run) and
        ``spend_per_harm_prevented_usd`` (extra enforcement spend over the first setting
        per harmful request prevented; NaN where nothing was prevented).
    """
    base = load_scenario(scenario).to_dict()
    paths = [parameter] if isinstance(parameter, str) else list(parameter)
    seed_list = (
        replication_seeds(base["seed"], seeds)
        if isinstance(seeds, int)
        else [int(s) for s in seeds]
    )
    rows = []
    for value in values:
        data = copy.deepcopy(base)
        for path in paths:
            set_path(data, path, value)
        spec = validate(data, source=f"<{', '.join(paths)} = {value}>")
        runs = pd.DataFrame(
            [run_outcomes(run(spec, seed=s, steps=steps).metrics) for s in seed_list]
        )
        row: dict[str, float] = {"value": value, "replications": len(seed_list)}
        for name in OUTCOMES:
            row |= ci_columns(name, runs[name])
        rows.append(row)
    table = pd.DataFrame(rows)
    prevented = table["harmful_completed"].iloc[0] - table["harmful_completed"]
    extra_spend = table["enforcement_spend_usd"] - table["enforcement_spend_usd"].iloc[0]
    table["harm_prevented"] = prevented
    table["spend_per_harm_prevented_usd"] = extra_spend / prevented.where(prevented > 0)
    return table
