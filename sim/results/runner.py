"""Running a scenario: ``run(scenario, seed) -> Results``."""

from __future__ import annotations

import functools
import os
import platform
import re
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pandas as pd

from sim.engine.model import DiriskModel
from sim.results.tables import EVENT_COLUMNS, EVENT_DTYPES, Results
from sim.scenario import Scenario, load_scenario

__all__ = [
    "GIT_TIMEOUT",
    "Progress",
    "ScenarioLike",
    "build_info",
    "build_model",
    "build_version",
    "dependencies",
    "git_revision",
    "metric_columns",
    "run",
    "run_metrics",
    "run_metrics_by_residence",
    "simulate",
    "versions",
    "with_steps",
]

ScenarioLike = Scenario | str | Path | dict[str, Any]
Progress = Callable[[int, int], None]


#: Seconds each git command may take before the commit (or dirty flag) is recorded as null.
GIT_TIMEOUT = 2.0
#: Libraries recorded when the dirisk distribution's requirements cannot be read (dirisk
#: imported from a folder that was never installed).
_CORE_LIBRARIES = ("mesa", "networkx", "numpy", "pandas", "pyarrow", "pydantic")
_REQUIREMENT_NAME = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def _installed(dist: str) -> str | None:
    """The installed version of distribution ``dist``, or None."""
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def dependencies() -> list[str]:
    """The direct dependencies of dirisk (``[project] dependencies`` of pyproject.toml, as
    recorded in the installed ``dirisk`` distribution, extras left out), lower-case, in
    the distribution's order."""
    try:
        requirements = metadata.requires("dirisk")
    except metadata.PackageNotFoundError:
        requirements = None
    if requirements is None:
        return list(_CORE_LIBRARIES)
    names = []
    for requirement in requirements:
        spec, _, marker = requirement.partition(";")
        match = _REQUIREMENT_NAME.match(spec)
        if match is None or "extra" in marker:
            continue
        name = match.group(1).lower()
        if name not in names:
            names.append(name)
    return names


def _git(root: Path, *args: str) -> str | None:
    """Standard output of ``git -C root ARGS`` (stripped), or None when git is missing,
    fails or takes longer than :data:`GIT_TIMEOUT`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_OPTIONAL_LOCKS="0", LC_ALL="C")  # never take the index lock
    try:
        done = subprocess.run(
            ["git", "-C", str(root), *args],
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            check=False,
        )
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def git_revision(root: Path | None = None) -> tuple[str | None, bool | None]:
    """The commit checked out in the git work tree ``root`` (default: the folder holding
    the ``sim`` package) and whether its tracked files differ from it (untracked files do
    not count).

    ``root`` must be the top of the work tree, so an installed copy of dirisk inside some
    other repository (a virtual environment in a project) records no commit. Git missing,
    failing or slow gives None (for the commit, or only for the dirty flag), never an
    error.
    """
    root = Path(__file__).resolve().parents[2] if root is None else Path(root)
    out = _git(root, "rev-parse", "--show-toplevel", "HEAD")
    lines = out.splitlines() if out else []
    if len(lines) != 2:
        return None, None
    top, commit = lines
    try:
        if Path(top).resolve() != root.resolve():
            return None, None
    except OSError:
        return None, None
    if re.fullmatch(r"[0-9a-f]{40,64}", commit) is None:
        return None, None
    status = _git(root, "status", "--porcelain", "--untracked-files=no")
    return commit, (None if status is None else status != "")


def build_version(version: str | None, commit: str | None, dirty: bool | None) -> str | None:
    """The version of a build: ``version`` with the commit as a PEP 440 local label,
    ``0.1.0+g1a2b3c4`` (``0.1.0+g1a2b3c4.dirty`` when tracked files were changed), or
    ``version`` alone when the commit is unknown."""
    if version is None or commit is None:
        return version
    label = f"g{commit[:7]}" + (".dirty" if dirty else "")
    return f"{version}{'.' if '+' in version else '+'}{label}"


def _cpu_model() -> str | None:
    """The CPU model: /proc/cpuinfo's ``model name`` when present, else
    ``platform.processor()``, else None."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as info:
            for line in info:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and value.strip():
                    return value.strip()
    except OSError:
        pass
    return platform.processor() or None


@functools.cache
def build_info() -> Mapping[str, Any]:
    """What built the numbers, computed once per process (package metadata, git and
    /proc/cpuinfo are slow to read), read-only: the :func:`versions` record without
    ``command``. ``build_info.cache_clear()`` forgets it (git's dirty flag is as of the
    first call)."""
    version = _installed("dirisk")
    commit, dirty = git_revision()
    info: dict[str, Any] = {
        "python": platform.python_version(),
        "dirisk": version,
        "dirisk_build": build_version(version, commit, dirty),
        "git_commit": commit,
        "git_dirty": dirty,
    }
    for name in dependencies():
        info[name] = _installed(name)
    info.update(
        platform=platform.platform(),
        machine=platform.machine() or None,
        cpu=_cpu_model(),
        cpu_count=os.cpu_count(),
    )
    return MappingProxyType(info)


def versions() -> dict[str, Any]:
    """The provenance of a run (run.json and manifest.json ``versions``).

    Keys: ``python``; ``dirisk`` (the package version); ``dirisk_build`` (with the commit,
    see :func:`build_version`); ``git_commit`` and ``git_dirty`` (None unless dirisk runs
    from a git checkout, see :func:`git_revision`); one key per direct dependency
    (:func:`dependencies`: its installed version, None if missing); ``platform``,
    ``machine``, ``cpu`` and ``cpu_count`` (of this machine); and ``command``, this
    process's ``sys.argv`` as a list: the ``dirisk ...`` command line when run from the
    CLI, the host program's (python, pytest, a notebook kernel) when dirisk is called as a
    library. All but ``command`` is cached per process (:func:`build_info`).
    """
    return {**build_info(), "command": list(sys.argv)}


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


def run_metrics_by_residence(
    scenario: ScenarioLike, seed: int | None = None
) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """The metrics table of a run, and the same restricted to the residents of each
    jurisdiction (``Recorder.headline_by_residence``), by jurisdiction name."""
    model = build_model(scenario, seed=seed)
    simulate(model)
    return model.recorder.headline(), model.recorder.headline_by_residence()


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
