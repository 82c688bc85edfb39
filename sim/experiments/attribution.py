"""The experiment behind an attribution: every coalition of channels on and off, over
common random numbers.

Each applicable channel (:mod:`sim.experiments.channels`) is a factor with two settings,
1 (on: the mechanism acts as the scenario says) and 0 (switched off). The grid over them
holds every coalition; each replication runs every coalition with the same seed. Runs go
through the sweep engine, so an attribution is a sweep folder: resumable, with one part
per run, on a local cluster or a Dask scheduler.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sim.experiments.channels import CHANNELS, applicability
from sim.experiments.experiment import Experiment, load_experiment
from sim.results.outcomes import outcome
from sim.results.runner import ScenarioLike, with_steps
from sim.scenario import load_scenario

__all__ = ["DEFAULT_OUTCOME", "DEFAULT_SEEDS", "MAX_EXACT", "attribution_experiment"]

#: The outcome attributed when none is named: harmful requests completed over the run.
DEFAULT_OUTCOME = "harmful_completed"
#: Replications (seeds) per coalition when none is given.
DEFAULT_SEEDS = 5
#: Most channels attributed exactly (2^n coalitions per seed).
MAX_EXACT = 10


def attribution_experiment(
    scenario: ScenarioLike,
    *,
    channels: Sequence[str] | None = None,
    outcome_name: str = DEFAULT_OUTCOME,
    seeds: int = DEFAULT_SEEDS,
    steps: int | None = None,
    by_residence: bool = False,
) -> tuple[Experiment, dict[str, str]]:
    """The sweep that attributes ``outcome_name`` of ``scenario`` to its channels.

    Args:
        scenario: The scenario (preset name, path, mapping or Scenario).
        channels: Channel names (default: every channel of the registry).
        outcome_name: A run-level outcome (``dirisk describe outcomes``).
        seeds: Replications; each runs every coalition with one common seed.
        steps: Days per run (default: the scenario's).
        by_residence: Also record the outcome among each jurisdiction's residents.

    Returns:
        The experiment (one factor per applicable channel) and, for every channel asked
        for, "" if it applies or the reason it does not.

    Raises:
        KeyError: an unknown channel or outcome.
        ValueError: no channel applies, more than :data:`MAX_EXACT` do, or fewer than
            two seeds.
    """
    outcome(outcome_name)
    if seeds < 2:
        raise ValueError(f"attribution needs at least 2 seeds for intervals, got {seeds}")
    spec = with_steps(load_scenario(scenario), steps)
    data = spec.to_dict()
    reasons = applicability(data, list(channels) if channels else list(CHANNELS))
    applying = [name for name, why in reasons.items() if not why]
    if not applying:
        raise ValueError(f"no channel applies to {spec.name}: {reasons}")
    if len(applying) > MAX_EXACT:
        raise ValueError(
            f"{len(applying)} channels apply; exact attribution runs 2^n coalitions per seed "
            f"and takes at most {MAX_EXACT}: name fewer with --channels"
        )
    document: dict[str, Any] = {
        "name": f"attribution_{spec.name}",
        "description": f"Attribution of {outcome_name} in {spec.name} to its channels.",
        "scenario": data,
        "factors": [{"name": n, "channel": n, "values": [0, 1]} for n in applying],
        "design": {"kind": "grid"},
        "replications": seeds,
        "seed": spec.seed,
        "common_random_numbers": True,
        "outcomes": [{"outcome": outcome_name}],
        "by_residence": by_residence,
    }
    return load_experiment(document, source=f"attribution of {spec.name}"), reasons
