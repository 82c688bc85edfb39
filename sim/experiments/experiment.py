"""Experiment files: a base scenario, uncertain factors, a design, replications and the
outcomes to summarise. Validated like scenarios (file, field path, expectation).

An experiment is written in YAML::

    name: audit_vs_vpn
    scenario: classroom_demo          # preset name, or a path relative to this file
    overrides: {steps: 30}            # merged into the scenario before the factors
    factors:
      - name: audit_rate
        path: jurisdictions.*.enforcement.audit_rate
        range: [0.0, 0.2]
      - name: vpn_use
        path: requesters.kinds.malicious.vpn_use
        values: [0.1, 0.4]
    design: {kind: grid, levels: 5}
    replications: 3
    seed: 1
    outcomes:
      - {metric: malicious_success_share, stat: mean, last: 10}
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field, ValidationError, model_validator

from sim.experiments.channels import CHANNELS, switch_off
from sim.results.outcomes import OUTCOMES, SWEEP_DEFAULT_OUTCOMES
from sim.results.runner import metric_columns
from sim.scenario import (
    Document,
    Scenario,
    ScenarioError,
    StrictModel,
    deep_merge,
    from_pydantic,
    load_raw,
    read_yaml,
    set_path,
    validate,
)

__all__ = [
    "DEFAULT_OUTCOMES",
    "Design",
    "DesignKind",
    "Experiment",
    "ExperimentOutcome",
    "Factor",
    "RUN_COLUMNS",
    "STATS",
    "Stat",
    "apply_factors",
    "cast_value",
    "experiment_to_yaml",
    "json_schema",
    "load_experiment",
    "plain",
    "run_seed",
    "summarise_metrics",
]

DesignKind = Literal["grid", "lhs", "saltelli", "morris"]
Stat = Literal["final", "mean", "peak", "total"]

#: Columns of every run's outcomes row besides its factors and outcomes.
RUN_COLUMNS = ("point", "replication", "seed", "status", "error", "seconds")

#: Summary statistics of a metric over a run's steps (or its last N steps).
STATS: dict[str, str] = {
    "final": "value at the last step",
    "mean": "mean over the steps",
    "peak": "maximum over the steps",
    "total": "sum over the steps",
}


class Factor(StrictModel):
    """One uncertain parameter: dotted scenario path(s) and a range or list of values."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")] = Field(
        description="Column name of the factor in the sweep tables (a Python identifier)."
    )
    path: str | list[str] | None = Field(
        None,
        description="Dotted path(s) into the scenario ('*' for every key at a level), all "
        "set to the factor's value.",
    )
    channel: str | None = Field(
        None,
        description="Instead of a path: a channel of leakage (sim.experiments.channels), "
        "on at 1 and switched off at 0.",
    )
    range: tuple[float, float] | None = Field(
        None, description="Lower and upper bound of a continuous factor."
    )
    values: list[Any] | None = Field(None, min_length=1, description="A list of settings.")
    integer: bool = Field(False, description="Round sampled values to whole numbers.")

    @model_validator(mode="after")
    def _one_domain(self) -> Factor:
        if (self.path is None) == (self.channel is None):
            raise ValueError("give exactly one of 'path' or 'channel'")
        if self.channel is not None:
            if self.channel not in CHANNELS:
                raise ValueError(
                    f"unknown channel {self.channel!r}; expected one of {list(CHANNELS)}"
                )
            if self.values is None or not set(self.values) <= {0, 1}:
                raise ValueError("a channel factor takes values from [0, 1] (0: switched off)")
        if (self.range is None) == (self.values is None):
            raise ValueError("give exactly one of 'range' or 'values'")
        if self.range is not None and not self.range[0] < self.range[1]:
            raise ValueError(f"range must be [low, high] with low < high, got {list(self.range)}")
        return self

    @property
    def paths(self) -> list[str]:
        """The dotted paths the factor sets (none for a channel)."""
        if self.path is None:
            return []
        return [self.path] if isinstance(self.path, str) else list(self.path)


class Design(StrictModel):
    """How design points are chosen."""

    kind: DesignKind = Field(
        "grid",
        description="grid: every combination; lhs: Latin hypercube; saltelli: Sobol "
        "indices (SALib); morris: elementary effects (SALib).",
    )
    samples: Annotated[int, Field(ge=1, le=1_000_000)] = Field(
        16,
        description="lhs: points; saltelli: base sample N (N(D+2) points, N(2D+2) with "
        "second_order; a power of 2); morris: trajectories (r(D+1) points).",
    )
    levels: Annotated[int, Field(ge=2, le=1000)] = Field(
        4, description="grid: evenly spaced settings per range factor; morris: grid levels."
    )
    second_order: bool = Field(False, description="saltelli: also estimate second-order indices.")
    seed: Annotated[int, Field(ge=0)] | None = Field(
        None, description="Seed of the sampling (default: the experiment's seed)."
    )


class ExperimentOutcome(StrictModel):
    """One run-level outcome of a sweep: an outcome of the registry
    (:mod:`sim.results.outcomes`), or a statistic of a per-step metric.

    In YAML a bare name stands for ``{outcome: NAME}`` when NAME is a registry outcome,
    and for ``{metric: NAME, stat: mean}`` otherwise.
    """

    outcome: str | None = Field(
        None,
        description="A run-level outcome (`dirisk describe outcomes`), defined once for "
        "runs, sweeps, reports and the explorer.",
    )
    metric: str | None = Field(
        None, description="A column of the metrics table (`dirisk describe metrics`)."
    )
    stat: Stat = Field("mean", description="With metric: final, mean, peak or total.")
    last: Annotated[int, Field(ge=1)] | None = Field(
        None, description="Only the last N steps (default: every step)."
    )
    name: str | None = Field(
        None,
        description="Column name (default: the outcome's name, or metric_stat; with "
        "_lastN for the last N steps).",
    )

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if isinstance(data, str):
            return {"outcome": data} if data in OUTCOMES else {"metric": data}
        return data

    @model_validator(mode="after")
    def _one_source(self) -> ExperimentOutcome:
        if (self.outcome is None) == (self.metric is None):
            raise ValueError("give exactly one of 'outcome' or 'metric'")
        if self.outcome is not None and self.outcome not in OUTCOMES:
            raise ValueError(
                f"unknown outcome {self.outcome!r}; expected one of {sorted(OUTCOMES)}"
            )
        return self

    @property
    def column(self) -> str:
        """The outcome's column name in the sweep tables."""
        if self.name:
            return self.name
        base = self.outcome if self.outcome is not None else f"{self.metric}_{self.stat}"
        return base + (f"_last{self.last}" if self.last else "")

    def value(self, metrics: pd.DataFrame) -> float:
        """The outcome of one run from its metrics table (NaN where undefined)."""
        if self.outcome is not None:
            return OUTCOMES[self.outcome].value(metrics, last=self.last)
        series = metrics[self.metric]
        if self.last is not None:
            series = series.iloc[-self.last :]
        if self.stat == "final":
            return float(series.iloc[-1]) if len(series) else float("nan")
        if self.stat == "mean":
            return float(series.mean())
        if self.stat == "peak":
            return float(series.max())
        return float(series.sum(min_count=1))


#: Outcomes summarised when an experiment names none.
DEFAULT_OUTCOMES: tuple[dict[str, Any], ...] = tuple(
    {"outcome": name} for name in SWEEP_DEFAULT_OUTCOMES
)


class Experiment(Document):
    """A validated experiment."""

    name: Annotated[str, Field(min_length=1)]
    description: str = ""
    scenario: str | dict[str, Any] = Field(
        description="The base scenario: a preset name, a path (relative to the experiment "
        "file) or an inline scenario mapping."
    )
    overrides: dict[str, Any] = Field(
        default_factory=dict, description="Merged into the base scenario before the factors."
    )
    factors: list[Factor] = Field(
        default_factory=list, description="The uncertain factors (none with `futures`)."
    )
    futures: list[dict[str, float]] | None = Field(
        None,
        description="Instead of factors and a design: one design point per mapping of "
        "dotted path to value, a future drawn from the uncertainty catalogue "
        "(sim.experiments.uncertainty; dirisk robust writes these), applied with the "
        "catalogue's absorbing shares.",
    )
    design: Design = Field(default_factory=Design)
    replications: Annotated[int, Field(ge=1, le=100_000)] = 1
    seed: Annotated[int, Field(ge=0)] = 0
    common_random_numbers: bool = Field(
        False,
        description="Replication r uses the same seed at every design point (paired "
        "comparisons); otherwise every (point, replication) has its own seed.",
    )
    steps: Annotated[int, Field(ge=1)] | None = Field(None, description="Days per run.")
    outcomes: list[ExperimentOutcome] = Field(
        default_factory=lambda: [ExperimentOutcome(**o) for o in DEFAULT_OUTCOMES], min_length=1
    )
    save_metrics: bool = Field(
        False, description="Also save every run's per-step metrics table (metrics/ parts)."
    )
    by_residence: bool = Field(
        False,
        description="Also every outcome among the residents of each jurisdiction, in "
        "columns <outcome>__<jurisdiction> (harm, leakage and over-refusal of that "
        "jurisdiction's requesters; market and enforcement outcomes are the whole run's).",
    )

    def outcome_columns(self) -> list[str]:
        """Every outcome column of the sweep tables, in order: each outcome, then with
        ``by_residence`` each outcome per jurisdiction of the base scenario."""
        columns = [o.column for o in self.outcomes]
        if not self.by_residence or not isinstance(self.scenario, dict):
            return columns
        places = list(self.scenario["jurisdictions"])
        return columns + [f"{c}__{j}" for c in columns for j in places]

    @property
    def design_seed(self) -> int:
        """Seed of the design's sampling: ``design.seed``, default the experiment's."""
        return self.seed if self.design.seed is None else self.design.seed

    @model_validator(mode="after")
    def _consistent(self) -> Experiment:
        if bool(self.factors) == (self.futures is not None):
            raise ValueError("give factors, or futures (one mapping of path to value each)")
        if self.futures is not None and not self.futures:
            raise ValueError("futures must hold at least one future")
        names = [f.name for f in self.factors]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"factor names must be unique, repeated: {dupes}")
        columns = [o.column for o in self.outcomes]
        clash = sorted({c for c in columns if columns.count(c) > 1 or c in names})
        if clash:
            raise ValueError(f"outcome columns must be unique and differ from factors: {clash}")
        taken = sorted(set(names + columns) & set(RUN_COLUMNS))
        if taken:
            raise ValueError(f"{taken} name columns every run has; rename the factor or outcome")
        return self


def load_experiment(ref: str | Path | dict[str, Any], *, source: str | None = None) -> Experiment:
    """Load and validate an experiment from a YAML file or a mapping.

    The base scenario is resolved into the experiment (``scenario`` becomes the merged
    mapping), so the experiment is self-contained; the factors are checked against it
    (every path exists and every range or value gives a valid scenario).

    Raises:
        ScenarioError: naming the file, the field path and what was expected.
    """
    if isinstance(ref, dict):
        data, source, folder = dict(ref), source or "<dict>", None
    else:
        path = Path(ref)
        data, source, folder = read_yaml(path), str(path), path.resolve().parent
    _not_a_scenario(data, source, None if isinstance(ref, dict) else str(ref))
    try:
        experiment = Experiment.model_validate(data)
    except ValidationError as exc:
        raise from_pydantic(exc, source) from None
    base = _base_scenario(experiment, source=source, folder=folder)
    experiment = experiment.model_copy(update={"scenario": base.to_dict(), "overrides": {}})
    _check_factors(experiment, source)
    _check_outcomes(experiment, source)
    return experiment


#: Top-level keys of a scenario file that an experiment file never has.
_SCENARIO_KEYS = frozenset(Scenario.model_fields) - frozenset(Experiment.model_fields) | {"extends"}


def _not_a_scenario(data: Any, source: str, file: str | None) -> None:
    """Refuse a scenario given where an experiment is expected (top-level scenario keys
    such as ``jurisdictions`` or ``extends``, and no ``factors``), showing the smallest
    experiment that sweeps it."""
    if not isinstance(data, dict) or "factors" in data:
        return
    found = sorted(k for k in data if isinstance(k, str) and k in _SCENARIO_KEYS)
    if not found:
        return
    import yaml

    stem = Path(file).stem if file is not None else str(data.get("name") or "scenario")
    example = {
        "name": f"{stem}_sweep",
        "scenario": file if file is not None else "<scenario file or preset>",
        "factors": [{"name": "filter_recall", "path": "nodes.filter_recall", "range": [0.5, 0.9]}],
    }
    form = yaml.safe_dump(example, default_flow_style=True, sort_keys=False, width=1_000_000)
    raise ScenarioError(
        source,
        "",
        f"this is a scenario (it has {', '.join(found)}), not an experiment; `dirisk run` "
        "runs it, and a sweep needs an experiment file that names it and its factors, at "
        f"least: {form.strip()} (docs/SWEEPS.md)",
    )


def _base_scenario(experiment: Experiment, *, source: str, folder: Path | None) -> Scenario:
    """The experiment's base scenario with its overrides, validated."""
    ref = experiment.scenario
    try:
        if isinstance(ref, dict):
            data = dict(ref)
            parent = data.pop("extends", None)
            if parent is not None:
                data = deep_merge(load_raw(parent)[0], data)
        else:
            near = folder / ref if folder is not None else None
            data = load_raw(near if near is not None and near.is_file() else ref)[0]
    except ScenarioError as exc:
        raise ScenarioError(source, "scenario", f"{exc}") from None
    data = deep_merge(data, experiment.overrides)
    if experiment.steps is not None:
        data["steps"] = experiment.steps
    if isinstance(data.get("steps"), int) and isinstance(data.get("timeline"), list):
        # Events after the last day cannot fire: drop them (as `dirisk run --steps` does).
        last = data["steps"]
        data["timeline"] = [
            e for e in data["timeline"] if not isinstance(e, dict) or e.get("step", 0) < last
        ]
    try:
        return validate(data, source=f"{source} (scenario + overrides)")
    except ScenarioError as exc:
        raise ScenarioError(source, f"overrides.{exc.path}".rstrip("."), exc.expected) from None


def _check_factors(experiment: Experiment, source: str) -> None:
    """Every factor path names an existing field, and the design suits the factors.

    Values are not checked here: a design point that makes an invalid scenario is run,
    fails with the scenario's message and is recorded as failed.
    """
    for i, factor in enumerate(experiment.factors):
        for path in factor.paths:
            problem = _missing(experiment.scenario, path.split("."))
            if problem:
                raise ScenarioError(source, f"factors.{i}.path", f"{path}: {problem}")
    kind = experiment.design.kind
    if kind != "grid":
        listed = [f.name for f in experiment.factors if f.range is None]
        if listed:
            raise ScenarioError(
                source,
                "design.kind",
                f"{kind} designs need a 'range' for every factor; {listed} give 'values' "
                "(use kind: grid, or give ranges)",
            )
    if kind == "saltelli" and experiment.design.samples & (experiment.design.samples - 1):
        raise ScenarioError(
            source,
            "design.samples",
            f"expected a power of 2 for a saltelli design, got {experiment.design.samples}",
        )


def _missing(data: Any, keys: list[str]) -> str:
    """Why the dotted path ``keys`` names no field of ``data`` ("" if it does)."""
    head, rest = keys[0], keys[1:]
    if not isinstance(data, dict):
        return f"{head!r} is below a value that is not a mapping"
    if head == "*":
        if not data:
            return "'*' matches nothing here"
        problems = [_missing(value, rest) for value in data.values()] if rest else []
        return next((p for p in problems if p), "")
    if head not in data:
        return f"no field {head!r} here; expected one of {sorted(data)}"
    return _missing(data[head], rest) if rest else ""


def _check_outcomes(experiment: Experiment, source: str) -> None:
    """Every statistic of a metric names a metrics column."""
    known = set(metric_columns(validate(experiment.scenario, source=source)))
    for i, outcome in enumerate(experiment.outcomes):
        if outcome.metric is not None and outcome.metric not in known:
            raise ScenarioError(
                source,
                f"outcomes.{i}.metric",
                f"expected a column of the metrics table, got {outcome.metric!r} "
                "(`dirisk describe metrics` lists them)",
            )


def plain(value: Any) -> Any:
    """A numpy scalar as the Python value a scenario validates (anything else as is)."""
    return value.item() if isinstance(value, np.generic) else value


def cast_value(factor: Factor, value: Any) -> Any:
    """A sampled value as the scenario expects it (whole numbers for integer factors)."""
    return int(round(float(value))) if factor.integer else plain(value)


def apply_factors(
    base: dict[str, Any], point: dict[str, Any], factors: list[Factor]
) -> dict[str, Any]:
    """A copy of the scenario mapping ``base`` with each factor set to its value in
    ``point`` (values already cast); channel factors at 0 switch their channel off, after
    the paths are set."""
    data = copy.deepcopy(base)
    for factor in factors:
        if factor.name in point:
            for path in factor.paths:
                set_path(data, path, point[factor.name])
    off = [f.channel for f in factors if f.channel is not None and point.get(f.name) == 0]
    return switch_off(data, off) if off else data


def run_seed(experiment: Experiment, point: int, replication: int) -> int:
    """The seed of one run: a SeedSequence child of the experiment seed with spawn key
    (point, replication), or (replication,) with common random numbers. Independent of
    the number of workers and of the order runs finish."""
    key = (replication,) if experiment.common_random_numbers else (point, replication)
    return int(np.random.SeedSequence(experiment.seed, spawn_key=key).generate_state(1)[0])


def summarise_metrics(metrics: pd.DataFrame, outcomes: list[ExperimentOutcome]) -> dict[str, float]:
    """The run-level outcomes of one run's metrics table, by column name (NaN where an
    outcome is undefined)."""
    return {outcome.column: outcome.value(metrics) for outcome in outcomes}


def experiment_to_yaml(experiment: Experiment) -> str:
    """The resolved experiment as YAML: sweeping it again reproduces every run."""
    import yaml

    # libyaml's safe dumper where PyYAML was built with it: the same text, several times
    # faster (an experiment of futures holds every future's values).
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return yaml.dump(experiment.to_dict(), Dumper=dumper, sort_keys=False, allow_unicode=True)


def json_schema() -> dict[str, Any]:
    """The JSON schema of experiment files."""
    return Experiment.model_json_schema()
