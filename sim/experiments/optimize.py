"""Many-objective policy search over uncertain futures (many-objective robust decision
making, MORDM): which settings of a few policy levers trade harm against over-refusal and
enforcement spend best, averaged over the futures the uncertainty catalogue deems
plausible, and which of them stay on the front when the world is drawn again.

The search is pymoo's NSGA-II (NSGA-III above three objectives), driven through its
ask-and-tell interface so that every evaluation runs on dirisk's sweep engine::

    levers file  ->  candidates (pymoo ask)
                 ->  one futures experiment per candidate: BASE with the candidate's lever
                     values, over a fixed set of futures, common random numbers across
                     candidates (sweep on Dask, generations/g<k>/c<i>/)
                 ->  objectives: the mean (or a quantile) over futures (pymoo tell)
    after the last generation: the non-dominated candidates of every generation (Pareto
    policies) -> pareto.csv, policies/policy_<k>.yaml, and their re-evaluation over fresh
    futures -> reevaluation.csv

A levers file lists the levers::

    description: What EU and US enforcement can choose.
    levers:
      - name: audit_rate
        path: [jurisdictions.eu.enforcement.audit_rate, jurisdictions.us.enforcement.audit_rate]
        bounds: [0.0, 0.1]
      - name: persistence_cap
        path: requesters.kinds.malicious.persistence
        bounds: [0, 8]
        integer: true
      - name: kyc_mandate
        path: jurisdictions.*.enforcement.kyc_mandate   # '*': every jurisdiction
        type: bool

Everything an optimisation writes sits in one folder; rerunning the same command resumes
it (finished runs are kept, the search replays exactly from its seed).
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import os
import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
import yaml
from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError
from pymoo.algorithms.moo.nsga2 import NSGA2
from pymoo.algorithms.moo.nsga3 import NSGA3
from pymoo.core.algorithm import Algorithm
from pymoo.core.evaluator import Evaluator
from pymoo.core.problem import Problem
from pymoo.core.repair import Repair
from pymoo.operators.sampling.lhs import LHS
from pymoo.problems.static import StaticProblem
from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting
from pymoo.util.ref_dirs import get_reference_directions

from sim.common.files import atomic_write_text
from sim.experiments.experiment import Experiment, load_experiment
from sim.experiments.folder import SweepFolder, read_parts, utc_now
from sim.experiments.sweep import dask_client, sweep
from sim.experiments.uncertainty import UncertaintyCatalogue, catalogue_for, draw_futures
from sim.results.outcomes import OUTCOMES
from sim.results.runner import versions
from sim.scenario import (
    Document,
    Scenario,
    ScenarioError,
    StrictModel,
    expand_path,
    from_pydantic,
    load_scenario,
    preset_path,
    read_yaml,
    schema_bounds,
    set_path,
    validate,
)

__all__ = [
    "CONCURRENT_CANDIDATES",
    "DEFAULT_OBJECTIVES",
    "REQUIRED_OBJECTIVE",
    "RESERVED_COLUMNS",
    "Evaluate",
    "EvaluationBatch",
    "Lever",
    "LeverRounding",
    "LeverSet",
    "Objective",
    "OptimizeError",
    "OptimizeResult",
    "SweepEvaluation",
    "apply_levers",
    "check_levers",
    "futures_without_levers",
    "load_levers",
    "load_result",
    "make_algorithm",
    "non_dominated",
    "optimize",
    "parse_objectives",
    "parse_statistic",
    "policy_document",
    "reduce_outcomes",
    "reevaluation_seed",
]

#: Objectives when none are given: harm, the two over-refusals and the spend, all minimised.
DEFAULT_OBJECTIVES: tuple[str, ...] = (
    "harmful_completed:min",
    "benign_over_refusal:min",
    "dual_use_over_refusal:min",
    "enforcement_spend_usd:min",
)
#: The objective every search has (added when missing): what the policy costs.
REQUIRED_OBJECTIVE = "enforcement_spend_usd"
#: Column names of the result tables that a lever may not take.
RESERVED_COLUMNS = frozenset(
    {"policy", "generation", "candidate", "future", "scenario", "rank_reevaluated"}
)
#: Candidates whose sweeps run at once (each from its own thread, on one Dask cluster), so
#: that the workers stay busy between one candidate's last runs and the next one's first.
CONCURRENT_CANDIDATES = 8

_IDENTIFIER = r"^[A-Za-z_][A-Za-z0-9_]*$"


def _field_error(field_name: str, message: str) -> PydanticCustomError:
    """A validation error of one field of a lever found by a check across its fields
    (:func:`load_levers` reports it at that field's path)."""
    return PydanticCustomError(
        "lever_field", "{message}", {"field": field_name, "message": message}
    )


class OptimizeError(ValueError):
    """An optimisation cannot run as asked: bad objectives or statistic, a folder that
    holds another optimisation, or evaluations that failed."""


# --------------------------------------------------------------------------- levers


class Lever(StrictModel):
    """One policy lever: the scenario path(s) it sets and the values it may take."""

    name: Annotated[str, Field(pattern=_IDENTIFIER)] | None = Field(
        None,
        description="Column name in the result tables (a Python identifier; default: the "
        "last part of the first path).",
    )
    path: str | list[str] = Field(
        description="Dotted scenario path(s) ('*' for every key at a level), all set to "
        "the lever's value."
    )
    type: Literal["number", "bool"] = Field(
        "number", description="number: a value within bounds; bool: a switch (false, true)."
    )
    bounds: tuple[float, float] | None = Field(
        None, description="Lowest and highest value of a number lever, in the path's unit."
    )
    integer: bool = Field(False, description="Whole numbers only (number levers).")

    @field_validator("path")
    @classmethod
    def _some_path(cls, path: str | list[str]) -> str | list[str]:
        paths = [path] if isinstance(path, str) else path
        if not paths or any(not p for p in paths):
            raise ValueError("give a dotted scenario path, or a list of them")
        return path

    @field_validator("bounds")
    @classmethod
    def _ordered(cls, bounds: tuple[float, float] | None) -> tuple[float, float] | None:
        if bounds is not None:
            low, high = bounds
            if not (math.isfinite(low) and math.isfinite(high) and low < high):
                raise ValueError(f"bounds must be [low, high] with low < high, got {list(bounds)}")
        return bounds

    @model_validator(mode="after")
    def _domain(self) -> Lever:
        if self.type == "bool":
            if self.bounds is not None:
                raise _field_error("bounds", "a bool lever takes no bounds (it is false or true)")
            if self.integer:
                raise _field_error("integer", "integer applies to number levers, not type: bool")
            return self
        if self.bounds is None:
            raise _field_error("bounds", "give bounds: [low, high] (or type: bool for a switch)")
        low, high = self.bounds
        if self.integer and not (float(low).is_integer() and float(high).is_integer()):
            raise _field_error(
                "bounds", f"an integer lever has whole-number bounds, got {list(self.bounds)}"
            )
        return self

    @property
    def paths(self) -> list[str]:
        """The dotted paths the lever sets."""
        return [self.path] if isinstance(self.path, str) else list(self.path)

    @property
    def column(self) -> str:
        """Its column name: ``name``, or the last part of its first path."""
        return self.name or self.paths[0].rsplit(".", 1)[-1]

    @property
    def low(self) -> float:
        """Lowest value the search gives it (0 for a switch: false)."""
        return 0.0 if self.bounds is None else float(self.bounds[0])

    @property
    def high(self) -> float:
        """Highest value the search gives it (1 for a switch: true)."""
        return 1.0 if self.bounds is None else float(self.bounds[1])

    @property
    def discrete(self) -> bool:
        """Whether its values are rounded to whole numbers (integer and bool levers)."""
        return self.integer or self.type == "bool"

    def value(self, x: float) -> bool | int | float:
        """The scenario value of the search variable ``x`` (rounded, clipped to bounds)."""
        x = min(max(float(x), self.low), self.high)
        if self.type == "bool":
            return bool(round(x))
        if self.integer:
            return int(round(x))
        return x


class LeverSet(Document):
    """A validated levers file: the policy levers a search may turn."""

    description: str = Field("", description="What the levers stand for.")
    levers: list[Lever] = Field(min_length=1, description="The levers, in column order.")

    @property
    def columns(self) -> list[str]:
        """The levers' column names, in order."""
        return [lever.column for lever in self.levers]

    def values(self, x: Sequence[float]) -> dict[str, bool | int | float]:
        """Lever values by column of one candidate's search variables."""
        return {lever.column: lever.value(v) for lever, v in zip(self.levers, x, strict=True)}

    def places(self, data: Mapping[str, Any]) -> dict[str, str]:
        """Every concrete scenario path the levers set in ``data``, with the lever's
        column (``*`` expanded)."""
        found: dict[str, str] = {}
        for lever in self.levers:
            for path in lever.paths:
                found.update((place, lever.column) for place, _ in expand_path(dict(data), path))
        return found


def load_levers(
    ref: str | Path | Mapping[str, Any],
    base: Scenario | Mapping[str, Any] | None = None,
    *,
    source: str | None = None,
) -> LeverSet:
    """Load and validate a levers file (YAML) or mapping, and check it against the base
    scenario when one is given (:func:`check_levers`).

    Raises:
        ScenarioError: naming the file, the field path (``levers.2.bounds``) and what was
            expected.
    """
    if isinstance(ref, Mapping):
        data, source = dict(ref), source or "<dict>"
    else:
        data, source = read_yaml(Path(ref)), str(ref)
    if not isinstance(data, dict) or "levers" not in data:
        found = sorted(str(k) for k in data) if isinstance(data, dict) else []
        hint = f" (this file has {', '.join(found)})" if found else ""
        raise ScenarioError(
            source,
            "levers",
            "expected a levers file: a mapping with 'levers:', a list of {name, path, "
            f"bounds: [low, high]}} or {{name, path, type: bool}}{hint}",
        )
    try:
        levers = LeverSet.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        if first["type"] == "lever_field":
            where = ".".join([*(str(p) for p in first["loc"]), first["ctx"]["field"]])
            raise ScenarioError(source, where, first["ctx"]["message"]) from None
        raise from_pydantic(exc, source) from None
    _check_names(levers, source)
    if base is not None:
        check_levers(levers, base, source=source)
    return levers


def _check_names(levers: LeverSet, source: str) -> None:
    """Every lever's column name is distinct and is not a column of the result tables.

    Raises:
        ScenarioError: at ``levers.<i>.name``.
    """
    columns = levers.columns
    for index, column in enumerate(columns):
        if columns.index(column) != index:
            raise ScenarioError(
                source,
                f"levers.{index}.name",
                f"lever {columns.index(column)} is called {column!r} too; give each lever a "
                "distinct name",
            )
        if column in RESERVED_COLUMNS:
            raise ScenarioError(
                source,
                f"levers.{index}.name",
                f"{column!r} is a column every result table has; give the lever another name",
            )


def check_levers(
    levers: LeverSet, base: Scenario | Mapping[str, Any], *, source: str = "<levers>"
) -> None:
    """Check the levers against the base scenario: names are distinct, every path names
    values of the lever's kind (numbers, or switches for ``type: bool``), bounds lie within the
    schema's, whole-number fields have integer levers, no two levers set one place, and
    each lever at either end of its range gives a valid scenario.

    Raises:
        ScenarioError: at ``levers.<i>.<field>`` of ``source``.
    """
    _check_names(levers, source)
    data = base.to_dict() if isinstance(base, Scenario) else copy.deepcopy(dict(base))
    taken: dict[str, str] = {}
    for index, lever in enumerate(levers.levers):
        where = f"levers.{index}"
        for path in lever.paths:
            try:
                places = expand_path(data, path)
                low, high, whole = schema_bounds(path)
            except ScenarioError as exc:
                raise ScenarioError(source, f"{where}.path", f"{path}: {exc.expected}") from None
            for place, value in places:
                if place in taken:
                    raise ScenarioError(
                        source,
                        f"{where}.path",
                        f"{place} is already set by lever {taken[place]!r}; a place takes "
                        "one lever",
                    )
                taken[place] = lever.column
                if lever.type == "bool" and not isinstance(value, bool):
                    raise ScenarioError(
                        source,
                        f"{where}.type",
                        f"type: bool needs a path to a switch (true/false); {place} is "
                        f"{value!r} in the base scenario",
                    )
                if lever.type == "number" and (
                    isinstance(value, bool) or not isinstance(value, int | float)
                ):
                    kind = " (a switch: give type: bool)" if isinstance(value, bool) else ""
                    raise ScenarioError(
                        source,
                        f"{where}.path",
                        f"expected a path to a number; {place} is {value!r} in the base "
                        f"scenario{kind}",
                    )
            if lever.type == "number":
                if lever.low < low or lever.high > high:
                    raise ScenarioError(
                        source,
                        f"{where}.bounds",
                        f"expected bounds within the schema's [{low:g}, {high:g}] for {path}, "
                        f"got {list(lever.bounds or ())}",
                    )
                if whole and not lever.integer:
                    raise ScenarioError(
                        source,
                        f"{where}.integer",
                        f"{path} holds whole numbers: set integer: true",
                    )
        for end in (lever.low, lever.high):
            value = lever.value(end)
            trial = copy.deepcopy(data)
            for path in lever.paths:
                set_path(trial, path, value)
            try:
                validate(trial, source=source)
            except ScenarioError as exc:
                field_name = "type" if lever.type == "bool" else "bounds"
                raise ScenarioError(
                    source,
                    f"{where}.{field_name}",
                    f"at {value!r} the scenario is invalid: {exc.path}: {exc.expected}",
                ) from None


def apply_levers(
    data: Mapping[str, Any], levers: LeverSet, values: Mapping[str, Any]
) -> dict[str, Any]:
    """A copy of the scenario mapping ``data`` with each lever's paths set to its value
    in ``values`` (by column)."""
    out = copy.deepcopy(dict(data))
    for lever in levers.levers:
        for path in lever.paths:
            set_path(out, path, values[lever.column])
    return out


# --------------------------------------------------------------------------- objectives


@dataclass(frozen=True)
class Objective:
    """One objective: a run-level outcome of the registry and whether less or more of it
    is better.

    Attributes:
        outcome: Its name in :data:`sim.results.outcomes.OUTCOMES` (and its column).
        direction: ``min`` or ``max``.
    """

    outcome: str
    direction: Literal["min", "max"] = "min"

    @property
    def sign(self) -> float:
        """+1 to minimise, -1 to maximise (the search minimises sign × value)."""
        return 1.0 if self.direction == "min" else -1.0

    @property
    def label(self) -> str:
        """Readable name with its unit."""
        entry = OUTCOMES[self.outcome]
        unit = {"share": "share 0–1", "USD": "USD", "count": "count"}[entry.unit]
        return f"{entry.label} ({unit})"

    def __str__(self) -> str:
        return f"{self.outcome}:{self.direction}"


def parse_objectives(specs: Iterable[str | Objective] | None = None) -> list[Objective]:
    """Objectives from ``OUTCOME[:min|max]`` strings (each may hold several,
    comma-separated); :data:`DEFAULT_OBJECTIVES` when none are given.
    ``enforcement_spend_usd:min`` is added when missing.

    Raises:
        OptimizeError: an unknown outcome or direction, a repeated outcome, or the spend
            asked to be maximised.
    """
    given = list(specs or DEFAULT_OBJECTIVES)
    objectives: list[Objective] = []
    for spec in given:
        items = [spec] if isinstance(spec, Objective) else [s for s in spec.split(",") if s.strip()]
        for item in items:
            objective = item if isinstance(item, Objective) else _objective(item)
            if any(o.outcome == objective.outcome for o in objectives):
                raise OptimizeError(f"objective {objective.outcome!r} is given twice")
            objectives.append(objective)
    spend = next((o for o in objectives if o.outcome == REQUIRED_OBJECTIVE), None)
    if spend is None:
        objectives.append(Objective(REQUIRED_OBJECTIVE, "min"))
    elif spend.direction != "min":
        raise OptimizeError(f"{REQUIRED_OBJECTIVE} is always minimised (give it as :min)")
    return objectives


def _objective(text: str) -> Objective:
    name, _, direction = text.strip().partition(":")
    direction = direction.strip() or "min"
    if name not in OUTCOMES:
        raise OptimizeError(
            f"objective {name!r}: expected a run-level outcome (dirisk describe outcomes), "
            f"one of {', '.join(sorted(OUTCOMES))}"
        )
    if direction not in ("min", "max"):
        raise OptimizeError(f"objective {text.strip()!r}: expected OUTCOME:min or OUTCOME:max")
    return Objective(name, direction)  # type: ignore[arg-type]


def parse_statistic(text: str) -> float | None:
    """The reduction over futures: None for ``mean``, q for ``q<NN>`` (the NN-th
    percentile of the values, worst side: ``q90`` of a minimised objective is the value
    90% of futures do at least as well as).

    Raises:
        OptimizeError: anything else.
    """
    if text == "mean":
        return None
    match = re.fullmatch(r"q(\d{1,2})", text)
    if match is None or not 1 <= int(match.group(1)) <= 99:
        raise OptimizeError(f"statistic: expected mean or qNN (such as q90), got {text!r}")
    return int(match.group(1)) / 100


def reduce_outcomes(
    table: pd.DataFrame, objectives: Sequence[Objective], statistic: str = "mean"
) -> pd.DataFrame:
    """Each candidate's objectives over its futures: the mean, or a quantile taken on
    the worse side (``q90``: the 90th percentile of a minimised objective, the 10th of a
    maximised one). Futures where an outcome is undefined (NaN) are left out.

    Args:
        table: One row per candidate and future: ``candidate``, ``future`` and a column
            per objective's outcome.
        objectives: The objectives.
        statistic: ``mean`` or ``qNN``.

    Returns:
        One row per candidate (index ``candidate``, sorted), a column per objective, in
        the outcome's unit.
    """
    q = parse_statistic(statistic)
    columns = [o.outcome for o in objectives]
    signs = np.array([o.sign for o in objectives])
    signed = table[columns].astype(float) * signs
    grouped = signed.groupby(table["candidate"].to_numpy(), sort=True)
    reduced = grouped.mean() if q is None else grouped.quantile(q)
    reduced = reduced * signs
    reduced.index.name = "candidate"
    return reduced[columns]


def non_dominated(values: pd.DataFrame, objectives: Sequence[Objective]) -> np.ndarray:
    """Row positions of ``values`` (a column per objective) that no other row dominates
    (pymoo's non-dominated sorting on sign × value)."""
    if values.empty:
        return np.array([], dtype=int)
    signed = values[[o.outcome for o in objectives]].to_numpy(dtype=float) * [
        o.sign for o in objectives
    ]
    return np.sort(NonDominatedSorting().do(signed, only_non_dominated_front=True))


# --------------------------------------------------------------------------- futures


def futures_without_levers(
    futures: pd.DataFrame, catalogue: UncertaintyCatalogue, places: Iterable[str]
) -> pd.DataFrame:
    """``futures`` without the columns a lever sets, nor those of shares whose
    difference a lever's place would absorb: a future never overrides a lever."""
    places = set(places)
    drop = [
        p.path
        for p in catalogue.parameters
        if p.path in futures.columns and (p.path in places or places & set(p.absorbed_by))
    ]
    return futures.drop(columns=drop)


def reevaluation_seed(seed: int) -> int:
    """The seed of the fresh futures (and runs) of the re-evaluation, derived from the
    search's seed (a SeedSequence child, so it is never the search's own)."""
    return int(np.random.SeedSequence(seed, spawn_key=(1,)).generate_state(1)[0] % 2**31)


# --------------------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class EvaluationBatch:
    """Candidates to evaluate over futures.

    Attributes:
        candidates: Lever values of each candidate, by column.
        futures: The futures: ``future`` and one column per uncertain parameter path.
        folder: Where this batch's runs go (``generations/g<k>``, ``reevaluation``).
        seed: Seed of the runs: the run of future j has the same seed for every
            candidate (common random numbers).
        keys: Folder name of each candidate's runs under ``folder`` (``c<i>``).
    """

    candidates: list[dict[str, Any]]
    futures: pd.DataFrame
    folder: Path
    seed: int
    keys: list[str] = field(default_factory=list)


#: evaluate(batch) -> one row per candidate and future: ``candidate`` (position in the
#: batch), ``future`` and a column per objective's outcome.
Evaluate = Callable[[EvaluationBatch], pd.DataFrame]


class SweepEvaluation:
    """Evaluate candidates on the sweep engine: one futures experiment per candidate
    (the base scenario with its lever values, the batch's futures as design points, one
    replication, the batch's seed), swept into ``<folder>/<key>/``, several candidates
    at once from threads sharing one Dask client.

    A candidate whose runs are all on disk is read back without running anything, so a
    search resumes where it stopped. The client (and a local cluster, without
    ``scheduler``) starts only when runs are missing. The first candidate's first run
    is timed in this process to size the batches; every later sweep reuses that time.
    Use as a context manager (it closes the client and the cluster).
    """

    def __init__(
        self,
        base: Mapping[str, Any],
        levers: LeverSet,
        outcomes: Sequence[str],
        *,
        name: str,
        steps: int | None = None,
        workers: int | None = None,
        scheduler: str | None = None,
    ) -> None:
        self.base = copy.deepcopy(dict(base))
        self.levers = levers
        self.outcomes = list(outcomes)
        self.name = name
        self.steps = steps
        self.workers = workers
        self.scheduler = scheduler
        self._stack = ExitStack()
        self._client: Any = None
        self._seconds_per_run: float | None = None
        self._lock = threading.Lock()

    def __enter__(self) -> SweepEvaluation:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()
        self._client = None

    def client(self) -> Any:
        """The Dask client: on ``scheduler``, or on a local cluster started now.

        Raises:
            SweepError: the cluster cannot run sweeps (see :func:`dask_client`).
        """
        with self._lock:
            if self._client is None:
                self._client = self._stack.enter_context(dask_client(self.workers, self.scheduler))
            return self._client

    def experiment(
        self,
        values: Mapping[str, Any],
        futures: pd.DataFrame | list[dict[str, float]],
        seed: int,
        name: str,
    ) -> Experiment:
        """The futures experiment of one candidate (``name``: its experiment's name is
        the base's with this suffix; ``futures`` a table or its rows of path to value)."""
        rows = futures if isinstance(futures, list) else _future_rows(futures)
        return load_experiment(
            {
                "name": f"{self.name}_{name}",
                "description": "candidate policy: "
                + ", ".join(f"{k} = {v!r}" for k, v in values.items()),
                "scenario": apply_levers(self.base, self.levers, values),
                "futures": rows,
                "replications": 1,
                "seed": seed,
                "steps": self.steps,
                "outcomes": [{"outcome": outcome} for outcome in self.outcomes],
            },
            source=f"candidate {name}",
        )

    def _one(
        self, batch: EvaluationBatch, rows: list[dict[str, float]], index: int
    ) -> pd.DataFrame:
        key = batch.keys[index] if batch.keys else f"c{index}"
        experiment = self.experiment(
            batch.candidates[index], rows, batch.seed, f"{batch.folder.name}_{key}"
        )
        target = batch.folder / key
        folder = SweepFolder(target)
        total = len(batch.futures)
        complete = folder.manifest_path.is_file() and len(folder.finished()) >= total
        counts = sweep(
            experiment,
            target,
            client=None if complete else self.client(),
            seconds_per_run=self._seconds_per_run,
        )
        if counts["missing"]:
            raise OptimizeError(
                f"{target}: {counts['missing']} runs were lost with their workers; rerun "
                "the command to finish them"
            )
        runs = read_parts(target)
        failed = runs[runs["status"] != "ok"]
        if not failed.empty:
            first = failed.iloc[0]
            raise OptimizeError(
                f"{target}: the run of future {int(first['point'])} failed: {first['error']}"
            )
        if self._seconds_per_run is None:
            self._seconds_per_run = float(runs["seconds"].median())
        table = runs[["point", *self.outcomes]].rename(columns={"point": "future"})
        table.insert(0, "candidate", index)
        return table

    def __call__(self, batch: EvaluationBatch) -> pd.DataFrame:
        """Run (or read back) every candidate of the batch; the long table of outcomes."""
        n = len(batch.candidates)
        if n == 0:
            return pd.DataFrame(columns=["candidate", "future", *self.outcomes])
        rows = _future_rows(batch.futures)
        # Until a run has been timed, one candidate runs alone (its first run is timed).
        tables = [self._one(batch, rows, 0)] if self._seconds_per_run is None else []
        with ThreadPoolExecutor(max_workers=min(n, CONCURRENT_CANDIDATES)) as pool:
            tables += pool.map(lambda i: self._one(batch, rows, i), range(len(tables), n))
        return pd.concat(tables, ignore_index=True)


def _future_rows(futures: pd.DataFrame) -> list[dict[str, float]]:
    """The futures as an experiment's ``futures``: one mapping of path to value each."""
    return futures.drop(columns=["future"], errors="ignore").to_dict("records")


# --------------------------------------------------------------------------- search


class LeverRounding(Repair):
    """Rounds the search variables of integer and bool levers to whole numbers, so that
    the population holds the values that are evaluated (and duplicates are seen)."""

    def __init__(self, discrete: Sequence[bool]) -> None:
        super().__init__()
        self.discrete = np.asarray(discrete, dtype=bool)

    def _do(self, problem: Problem, X: np.ndarray, **kwargs: Any) -> np.ndarray:
        X = np.asarray(X, dtype=float).copy()
        if self.discrete.any():
            X[:, self.discrete] = np.round(X[:, self.discrete])
        return np.clip(X, problem.xl, problem.xu)


def make_algorithm(levers: LeverSet, n_objectives: int, population: int, seed: int) -> Algorithm:
    """NSGA-II (up to three objectives) or NSGA-III (more; reference directions by
    Riesz s-energy, one per candidate), with Latin hypercube initial candidates and
    rounding of integer and bool levers; not yet set up."""
    repair = LeverRounding([lever.discrete for lever in levers.levers])
    options: dict[str, Any] = {
        "pop_size": population,
        "sampling": LHS(),
        "repair": repair,
        "eliminate_duplicates": True,
    }
    if n_objectives <= 3:
        return NSGA2(**options)
    directions = get_reference_directions("energy", n_objectives, population, seed=seed)
    return NSGA3(ref_dirs=directions, **options)


@dataclass
class OptimizeResult:
    """What a search found, as written to its folder.

    Attributes:
        folder: The optimisation folder.
        levers: The levers.
        objectives: The objectives.
        history: Every candidate evaluated: ``generation``, ``candidate``, lever columns,
            objective columns (the statistic over the futures).
        pareto: The non-dominated candidates of the whole history: ``policy``,
            ``generation``, ``candidate``, lever and objective columns, ``scenario``.
        reevaluation: The Pareto policies over fresh futures (None without
            re-evaluation): ``policy``, levers, objectives over the search's futures,
            ``<objective>_reevaluated``, ``rank_reevaluated`` and ``non_dominated``.
        settings: The settings (``optimization.json``).
    """

    folder: Path
    levers: LeverSet
    objectives: list[Objective]
    history: pd.DataFrame
    pareto: pd.DataFrame
    reevaluation: pd.DataFrame | None
    settings: dict[str, Any]


def _identity(settings: Mapping[str, Any]) -> str:
    """Hash of the settings that decide every candidate's evaluation and the search's
    path (not the number of generations: more generations continue the same search)."""
    keep = {k: v for k, v in settings.items() if k in _IDENTITY_KEYS}
    blob = json.dumps(keep, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


_IDENTITY_KEYS = (
    "base_hash",
    "levers",
    "objectives",
    "futures",
    "population",
    "seed",
    "steps",
    "statistic",
    "reevaluate",
)


def _prepare(root: Path, settings: dict[str, Any]) -> None:
    """Create the optimisation folder, or check an existing one holds this search."""
    path = root / "optimization.json"
    if path.is_file():
        try:
            found = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise OptimizeError(f"{path}: unreadable ({exc})") from None
        if found.get("identity") != settings["identity"]:
            differ = sorted(k for k in _IDENTITY_KEYS if found.get(k) != settings.get(k))
            raise OptimizeError(
                f"{root} holds another optimisation (it differs in {', '.join(differ)}); "
                "choose another --out folder"
            )
        settings["created_at"] = found.get("created_at", settings["created_at"])
    elif root.exists() and any(root.iterdir()):
        raise OptimizeError(f"{root} is not empty and holds no optimisation; choose another --out")
    _write_settings(root, settings)


def _write_settings(root: Path, settings: Mapping[str, Any]) -> None:
    text = json.dumps(dict(settings), indent=2, default=str) + "\n"
    atomic_write_text(root / "optimization.json", text)


def _write_csv(path: Path, table: pd.DataFrame) -> None:
    atomic_write_text(path, table.to_csv(index=False))


def _base_reference(base: str | Path | Mapping[str, Any] | Scenario) -> str | Path | None:
    """What a policy file extends: a preset's name, a file's path, or None (a mapping:
    policies are written whole)."""
    if isinstance(base, Path):
        return base.resolve()
    if isinstance(base, str):
        if Path(base).is_file():
            return Path(base).resolve()
        if preset_path(base) is not None:
            return base
    return None


def policy_document(
    base: str | Path | Mapping[str, Any] | Scenario,
    spec: Scenario,
    levers: LeverSet,
    values: Mapping[str, Any],
    *,
    name: str,
    description: str,
    folder: Path,
) -> dict[str, Any]:
    """A scenario file of one policy: it extends the base (by preset name, or by path
    relative to ``folder``) and sets each lever's places; for a base given as a mapping,
    the whole scenario with the levers set."""
    ref = _base_reference(base)
    if ref is None:
        data = apply_levers(spec.to_dict(), levers, values)
        return {**data, "name": name, "description": description}
    document: dict[str, Any] = {
        "extends": ref if isinstance(ref, str) else os.path.relpath(ref, folder.resolve()),
        "name": name,
        "description": description,
    }
    data = spec.to_dict()
    for lever in levers.levers:
        for path in lever.paths:
            for place, _ in expand_path(data, path):
                _nest(document, place.split("."), values[lever.column])
    return document


def _nest(document: dict[str, Any], keys: list[str], value: Any) -> None:
    for key in keys[:-1]:
        document = document.setdefault(key, {})
    document[keys[-1]] = value


def _fmt(value: Any) -> str:
    """A lever or objective value for a description: switches as true/false, large
    numbers with thousands separators, others to 4 significant digits."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int) or abs(float(value)) >= 1000:
        return f"{float(value):,.0f}"
    return f"{float(value):.4g}"


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def optimize(
    base: str | Path | Mapping[str, Any] | Scenario,
    levers: LeverSet | str | Path | Mapping[str, Any],
    out: str | Path,
    *,
    objectives: Sequence[str | Objective] | None = None,
    futures: int = 10,
    generations: int = 10,
    population: int = 20,
    seed: int = 0,
    steps: int | None = None,
    statistic: str = "mean",
    reevaluate: int | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    evaluate: Evaluate | None = None,
    progress: Callable[[str], None] | None = None,
) -> OptimizeResult:
    """Search for the policies (lever settings) that are Pareto-optimal over uncertain
    futures, and re-evaluate them over fresh futures.

    Futures are drawn once (``draw_futures(base, futures, seed)``, less the levers'
    paths). Each candidate runs in every future with the same run seeds as every other
    candidate (common random numbers) and is scored by the statistic over the futures.
    The search is pymoo's NSGA-II (NSGA-III above three objectives), seeded by ``seed``.

    Writes into ``out``: ``optimization.json`` (settings), ``futures.csv``,
    ``generations/g<k>/c<i>/`` (one sweep folder per candidate), ``history.csv``,
    ``pareto.csv``, ``policies/policy_<k>.yaml``, and with re-evaluation
    ``reevaluation_futures.csv``, ``reevaluation/g<k>-c<i>/`` and ``reevaluation.csv``.
    The figure is drawn by :mod:`sim.output.optimize_report`.

    Args:
        base: The base scenario: a preset name, a file, a mapping or a Scenario.
        levers: The levers: a LeverSet, a levers file or a mapping.
        out: The optimisation folder (new, or one that holds this search: resumed).
        objectives: ``OUTCOME:min|max`` strings or Objectives (default
            :data:`DEFAULT_OBJECTIVES`); ``enforcement_spend_usd:min`` is added if
            missing.
        futures: Futures every candidate is evaluated over.
        generations: Generations of the search (more generations on a finished folder
            continue the same search).
        population: Candidates per generation.
        seed: Seed of the futures, the runs and the search.
        steps: Days per run (default: the base scenario's).
        statistic: ``mean``, or ``qNN`` (``q90``: a pessimistic percentile).
        reevaluate: Fresh futures for the re-evaluation (default: ``futures``; 0: none).
        workers: Local Dask worker processes (default: one per core).
        scheduler: Address of a Dask scheduler instead.
        evaluate: Evaluate batches with this function instead of the sweep engine
            (tests, other models): see :data:`Evaluate`.
        progress: Called with one line after each generation.

    Returns:
        The result, as written.

    Raises:
        ScenarioError: the base scenario or the levers file is invalid.
        OptimizeError: bad objectives, statistic or counts; ``out`` holds something
            else; runs failed.
        SweepError: the Dask cluster cannot run the sweeps.
    """
    root = Path(out)
    spec = load_scenario(base)
    data = spec.to_dict()
    lever_set = levers if isinstance(levers, LeverSet) else load_levers(levers, None)
    lever_source = str(levers) if isinstance(levers, str | Path) else "<levers>"
    check_levers(lever_set, data, source=lever_source)
    chosen = parse_objectives(objectives)
    clash = sorted(set(lever_set.columns) & {o.outcome for o in chosen})
    if clash:
        raise OptimizeError(f"levers may not be named like objectives: {clash}")
    parse_statistic(statistic)
    for label, count, least in (
        ("futures", futures, 1),
        ("generations", generations, 1),
        ("population", population, 2),
    ):
        if count < least:
            raise OptimizeError(f"{label}: expected at least {least}, got {count}")
    reevaluate = futures if reevaluate is None else reevaluate
    if reevaluate < 0:
        raise OptimizeError(f"reevaluate: expected 0 or more futures, got {reevaluate}")
    if len(chosen) > 3 and population < len(chosen):
        raise OptimizeError(
            f"population: NSGA-III needs at least one candidate per objective "
            f"({len(chosen)}), got {population}"
        )
    if steps is not None and steps < 1:
        raise OptimizeError(f"steps: expected at least 1, got {steps}")

    catalogue = catalogue_for(data)
    places = lever_set.places(data)
    fixed = futures_without_levers(draw_futures(data, futures, seed, catalogue), catalogue, places)
    fresh_seed = reevaluation_seed(seed)
    settings: dict[str, Any] = {
        "base": base if isinstance(base, str) else str(base) if isinstance(base, Path) else None,
        "base_name": spec.name,
        "base_hash": spec.content_hash(),
        "levers": lever_set.to_dict(),
        "levers_file": lever_source,
        "objectives": [str(o) for o in chosen],
        "futures": futures,
        "generations": generations,
        "population": population,
        "seed": seed,
        "steps": steps,
        "statistic": statistic,
        "reevaluate": reevaluate,
        "reevaluation_seed": fresh_seed,
        "algorithm": "NSGA-II" if len(chosen) <= 3 else "NSGA-III",
        "uncertain_parameters": len(fixed.columns) - 1,
        "created_at": utc_now(),
        "state": "running",
        "versions": versions(),
    }
    settings["identity"] = _identity(settings)
    _prepare(root, settings)
    _write_csv(root / "futures.csv", fixed)

    problem = Problem(
        n_var=len(lever_set.levers),
        n_obj=len(chosen),
        xl=np.array([lever.low for lever in lever_set.levers]),
        xu=np.array([lever.high for lever in lever_set.levers]),
    )
    algorithm = make_algorithm(lever_set, len(chosen), population, seed)
    algorithm.setup(problem, termination=("n_gen", generations), seed=seed, verbose=False)
    names = [o.outcome for o in chosen]
    say = progress or (lambda _line: None)
    rows: list[dict[str, Any]] = []
    origin: dict[tuple[float, ...], int] = {}  # search variables -> first history row
    with ExitStack() as stack:
        if evaluate is None:
            evaluate = stack.enter_context(
                SweepEvaluation(
                    data,
                    lever_set,
                    names,
                    name=spec.name,
                    steps=steps,
                    workers=workers,
                    scheduler=scheduler,
                )
            )
        for generation in range(generations):
            pop = algorithm.ask()
            if pop is None or len(pop) == 0:  # every distinct setting of discrete levers is taken
                say(f"generation {generation + 1}: no new candidate; the search stops")
                break
            candidates = [lever_set.values(x) for x in pop.get("X")]
            batch = EvaluationBatch(
                candidates, fixed, root / "generations" / f"g{generation}", seed
            )
            scores = _scores(evaluate(batch), chosen, statistic, len(candidates), batch.folder)
            signed = scores.to_numpy(dtype=float) * [o.sign for o in chosen]
            Evaluator().eval(StaticProblem(problem, F=signed), pop)
            algorithm.tell(infills=pop)
            for index, (x, values) in enumerate(zip(pop.get("X"), candidates, strict=True)):
                origin.setdefault(tuple(float(v) for v in x), len(rows))
                rows.append(
                    {
                        "generation": generation,
                        "candidate": index,
                        **values,
                        **{n: float(scores.iloc[index][n]) for n in names},
                    }
                )
            front = NonDominatedSorting().do(algorithm.pop.get("F"), only_non_dominated_front=True)
            say(
                f"generation {generation + 1}/{generations}: {len(candidates)} candidates "
                f"evaluated over {futures} futures; {len(front)} on the population's front"
            )
        history = pd.DataFrame(
            rows, columns=["generation", "candidate", *lever_set.columns, *names]
        )
        _write_csv(root / "history.csv", history)
        survivors = [origin[tuple(float(v) for v in x)] for x in algorithm.pop.get("X")]
        pareto = _pareto(history, survivors, lever_set, chosen)
        _write_policies(root, base, spec, lever_set, chosen, pareto, settings)
        _write_csv(root / "pareto.csv", pareto)
        reevaluated = None
        if reevaluate and not pareto.empty:
            reevaluated = _reevaluate(
                root, data, lever_set, chosen, pareto, reevaluate, fresh_seed, statistic, evaluate
            )
            front = int(reevaluated["non_dominated"].sum())
            say(
                f"re-evaluation over {reevaluate} fresh futures: {front} of {len(pareto)} "
                "Pareto policies stay non-dominated"
            )
    settings.update(state="complete", finished_at=utc_now(), pareto_policies=len(pareto))
    _write_settings(root, settings)
    return OptimizeResult(root, lever_set, chosen, history, pareto, reevaluated, settings)


def _scores(
    table: pd.DataFrame,
    objectives: Sequence[Objective],
    statistic: str,
    n: int,
    folder: Path,
) -> pd.DataFrame:
    """The reduced objectives of ``n`` candidates; OptimizeError when a candidate lacks
    any or an objective is undefined in all its futures."""
    scores = reduce_outcomes(table, objectives, statistic).reindex(range(n))
    bad = scores.isna()
    if bad.to_numpy().any():
        row, column = np.argwhere(bad.to_numpy())[0]
        raise OptimizeError(
            f"{folder / f'c{row}'}: objective {scores.columns[column]} is undefined (NaN) in "
            "every future of this candidate; choose an objective defined for every policy"
        )
    return scores


def _pareto(
    history: pd.DataFrame, survivors: list[int], levers: LeverSet, objectives: list[Objective]
) -> pd.DataFrame:
    """The Pareto policies: the candidates of the last population (rows ``survivors``
    of the history) that no candidate evaluated in the search dominates, one per
    distinct setting of the levers, best first by the objectives in order (then by
    generation and candidate)."""
    names = [o.outcome for o in objectives]
    unique = history.drop_duplicates(subset=levers.columns, keep="first")
    undominated = set(unique.index[non_dominated(unique, objectives)])
    keep = sorted(set(survivors) & undominated)
    best_first = [o.direction == "min" for o in objectives]
    front = history.loc[keep].sort_values(
        [*names, "generation", "candidate"], ascending=[*best_first, True, True], kind="stable"
    )
    front = front.reset_index(drop=True)
    front.insert(0, "policy", np.arange(len(front), dtype="int64"))
    front["scenario"] = [f"policies/policy_{k}.yaml" for k in front["policy"]]
    return front


def _write_policies(
    root: Path,
    base: str | Path | Mapping[str, Any] | Scenario,
    spec: Scenario,
    levers: LeverSet,
    objectives: list[Objective],
    pareto: pd.DataFrame,
    settings: Mapping[str, Any],
) -> None:
    folder = root / "policies"
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("policy_*.yaml"):
        stale.unlink()
    how = "mean" if settings["statistic"] == "mean" else settings["statistic"]
    for row in pareto.to_dict("records"):
        values = {c: _plain(row[c]) for c in levers.columns}
        scores = ", ".join(f"{o.outcome} {_fmt(row[o.outcome])}" for o in objectives)
        description = (
            f"Pareto-optimal policy {row['policy']} of dirisk optimize over "
            f"{settings['futures']} futures ({how}): {scores}. Levers: "
            + ", ".join(f"{c} = {_fmt(v)}" for c, v in values.items())
            + "."
        )
        document = policy_document(
            base,
            spec,
            levers,
            values,
            name=f"{spec.name}_policy_{row['policy']}",
            description=description,
            folder=folder,
        )
        horizon = settings["steps"]
        header = (
            f"# Pareto-optimal policy {row['policy']} of `dirisk optimize` "
            f"(seed {settings['seed']}"
            + (f", --steps {horizon}: run it with --steps {horizon}" if horizon else "")
            + ").\n"
        )
        text = header + yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=88)
        atomic_write_text(folder / f"policy_{row['policy']}.yaml", text)


def _reevaluate(
    root: Path,
    data: Mapping[str, Any],
    levers: LeverSet,
    objectives: list[Objective],
    pareto: pd.DataFrame,
    n: int,
    seed: int,
    statistic: str,
    evaluate: Evaluate,
) -> pd.DataFrame:
    """The Pareto policies over ``n`` fresh futures (and fresh run seeds): which stay
    non-dominated among themselves."""
    catalogue = catalogue_for(data)
    fresh = futures_without_levers(
        draw_futures(data, n, seed, catalogue), catalogue, levers.places(data)
    )
    _write_csv(root / "reevaluation_futures.csv", fresh)
    candidates = [{c: _plain(row[c]) for c in levers.columns} for row in pareto.to_dict("records")]
    keys = [f"g{g}-c{c}" for g, c in zip(pareto["generation"], pareto["candidate"], strict=True)]
    batch = EvaluationBatch(candidates, fresh, root / "reevaluation", seed, keys)
    scores = _scores(evaluate(batch), objectives, statistic, len(candidates), batch.folder)
    names = [o.outcome for o in objectives]
    table = pareto[["policy", *levers.columns, *names]].copy()
    for name in names:
        table[f"{name}_reevaluated"] = scores[name].to_numpy()
    signed = scores.to_numpy(dtype=float) * [o.sign for o in objectives]
    _, rank = NonDominatedSorting().do(signed, return_rank=True)
    table["rank_reevaluated"] = np.asarray(rank, dtype="int64")
    table["non_dominated"] = table["rank_reevaluated"] == 0
    _write_csv(root / "reevaluation.csv", table)
    return table


def load_result(folder: str | Path) -> OptimizeResult:
    """A finished optimisation read back from its folder.

    Raises:
        OptimizeError: the folder holds no finished optimisation.
    """
    root = Path(folder)
    path = root / "optimization.json"
    if not path.is_file() or not (root / "pareto.csv").is_file():
        raise OptimizeError(f"{root}: no finished optimisation (optimization.json, pareto.csv)")
    settings = json.loads(path.read_text(encoding="utf-8"))
    levers = LeverSet.model_validate(settings["levers"])
    objectives = parse_objectives(settings["objectives"])
    history = pd.read_csv(root / "history.csv")
    pareto = pd.read_csv(root / "pareto.csv")
    reevaluation = None
    if (root / "reevaluation.csv").is_file():
        reevaluation = pd.read_csv(root / "reevaluation.csv")
    return OptimizeResult(root, levers, objectives, history, pareto, reevaluation, settings)
