"""Running a scenario: ``run(scenario, seed) -> Results``."""

from __future__ import annotations

import functools
import platform
import time
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from sim.engine.model import DiriskModel
from sim.results.tables import EVENT_COLUMNS, EVENT_DTYPES, Results
from sim.scenario import Scenario, load_scenario

__all__ = [
    "Progress",
    "ScenarioLike",
    "build_model",
    "metric_columns",
    "run",
    "run_metrics",
    "simulate",
    "versions",
    "with_steps",
]

ScenarioLike = Scenario | str | Path | dict[str, Any]
Progress = Callable[[int, int], None]


@functools.cache
def _versions() -> tuple[tuple[str, str], ...]:
    """Versions of dirisk and the libraries that decide its numbers (looked up once per
    process: package metadata is slow to read)."""
    out = {"python": platform.python_version()}
    for dist in ("dirisk", "mesa", "numpy", "pandas", "networkx", "pydantic"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "unknown"
    return tuple(out.items())


def versions() -> dict[str, str]:
    """Versions of python, dirisk and the libraries that decide its numbers."""
    return dict(_versions())


def build_model(
    scenario: ScenarioLike, *, seed: int | None = None, steps: int | None = None
) -> DiriskModel:
    """A ready-to-step model for a scenario (path, preset name, mapping or Scenario)."""
    return DiriskModel(with_steps(load_scenario(scenario), steps), seed=seed)


def with_steps(spec: Scenario, steps: int | None) -> Scenario:
    """The scenario run for ``steps`` days (unchanged for None). Events after the last
    day cannot fire and are dropped, so the scenario recorded in run.json is exactly what
    ran (and validates).

    Raises:
        ValueError: ``steps`` is below 1.
    """
    if steps is None:
        return spec
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    timeline = [e for e in spec.timeline if e.step < steps]
    return spec.model_copy(update={"steps": int(steps), "timeline": timeline})


def simulate(model: DiriskModel, progress: Progress | None = None) -> None:
    """Step ``model`` through its scenario's days, calling ``progress(done, total)`` after
    each."""
    total = model.scenario.steps
    for done in range(1, total + 1):
        model.step()
        if progress is not None:
            progress(done, total)


def run_metrics(scenario: ScenarioLike, seed: int | None = None) -> pd.DataFrame:
    """The headline ``metrics`` table of a run, as in :func:`run`, without building the
    other tables (what a sweep keeps of a run)."""
    model = build_model(scenario, seed=seed)
    simulate(model)
    return model.recorder.headline()


def metric_columns(scenario: ScenarioLike) -> list[str]:
    """The columns of the metrics table a run of ``scenario`` writes, but ``step`` (read
    off a model built and not stepped)."""
    return [c for c in build_model(scenario).recorder.headline().columns if c != "step"]


def run(
    scenario: ScenarioLike,
    seed: int | None = None,
    steps: int | None = None,
    *,
    progress: Progress | None = None,
) -> Results:
    """Run a scenario and return its tables.

    Args:
        scenario: A path, a preset name, a mapping or a validated Scenario.
        seed: Seed of the run (default: the scenario's ``seed``).
        steps: Number of days to simulate (default: the scenario's ``steps``). Timeline
            events after the last step do not fire.
        progress: Called as ``progress(done, total)`` after each step.

    Returns:
        The run's Results; the same scenario and seed always give identical tables.

    Raises:
        ScenarioError: the scenario is missing, malformed or inconsistent.
    """
    started = datetime.now(UTC)
    t0 = time.perf_counter()
    model = build_model(scenario, seed=seed, steps=steps)
    t_built = time.perf_counter()
    total = model.scenario.steps
    simulate(model, progress)
    tables = model.recorder.tables()
    events = pd.DataFrame(model.event_log, columns=list(EVENT_COLUMNS)).astype(EVENT_DTYPES)
    spec = model.scenario
    meta = {
        "scenario_name": spec.name,
        "scenario_hash": spec.content_hash(),
        "seed": model.seed,
        "steps": total,
        "versions": versions(),
        "started_at": started.isoformat(),
        "finished_at": datetime.now(UTC).isoformat(),
        "build_seconds": round(t_built - t0, 4),
        "run_seconds": round(time.perf_counter() - t_built, 4),
        "scenario": spec.to_dict(),
    }
    return Results(**tables, events=events, meta=meta)
