"""The policy-cost frontier: harm completed against over-refusal of legitimate users as
one policy lever is turned, over replications with common random numbers."""

from __future__ import annotations

import copy
from collections.abc import Sequence

import pandas as pd

from sim.common.seeds import replication_seeds
from sim.common.stats import ci_columns
from sim.results.outcomes import FRONTIER_OUTCOMES, outcome_values
from sim.results.runner import ScenarioLike, run
from sim.scenario import load_scenario, set_path, validate

__all__ = ["frontier"]


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
        ``_ci_high`` (95%, Student's t over seeds); plus ``harm_prevented``
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
            [
                outcome_values(run(spec, seed=s, steps=steps).metrics, FRONTIER_OUTCOMES)
                for s in seed_list
            ]
        )
        row: dict[str, float] = {"value": value, "replications": len(seed_list)}
        for name in FRONTIER_OUTCOMES:
            row |= ci_columns(name, runs[name])
        rows.append(row)
    table = pd.DataFrame(rows)
    prevented = table["harmful_completed"].iloc[0] - table["harmful_completed"]
    extra_spend = table["enforcement_spend_usd"] - table["enforcement_spend_usd"].iloc[0]
    table["harm_prevented"] = prevented
    table["spend_per_harm_prevented_usd"] = extra_spend / prevented.where(prevented > 0)
    return table
