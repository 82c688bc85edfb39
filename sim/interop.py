"""dirisk for users of Mesa's ``batch_run`` and of the EMA Workbench.

Both take scenario parameters as dotted paths (``"nodes.filter_recall"``; ``*`` matches
every key at its level, as in ``"jurisdictions.*.compliance_share"``), set them in a
scenario and validate it, so a wrong path or value raises :class:`ScenarioError`.

Mesa ``batch_run`` (``examples/batch_run_example.py``)::

    from mesa.batchrunner import batch_run
    from sim.interop import BatchModel

    rows = batch_run(
        BatchModel,
        parameters={"steps": 30, "nodes.filter_recall": [0.5, 0.9], "seed": [1, 2]},
        number_processes=1,
        data_collection_period=1,
    )

Every parameter is a keyword argument of :class:`BatchModel`: ``scenario`` (preset name,
path or mapping; default ``classroom_demo``), ``steps``, ``seed`` and dotted paths. Each
row is one (run, day): ``Step`` is the day index, as ``step`` in ``sim.run(...).metrics``,
and the other columns are that day's headline metrics (``dirisk describe metrics``),
equal to ``sim.run``'s for the same scenario and seed. Mesa 3.3's ``batch_run`` passes no
seed, so a run without ``seed`` uses the scenario's: ``iterations=n`` repeats one run n
times; list seeds instead (``"seed": [1, 2]``). Newer Mesa passes ``batch_run(rng=[...])``
values as ``seed``. Runs end after the scenario's days; a ``max_steps`` below that stops
them after ``max_steps + 1`` days (Mesa's loop), so set ``steps`` rather than ``max_steps``.

EMA Workbench (``examples/ema_workbench_example.py``; ``pip install 'dirisk[ema]'``)::

    from ema_workbench import SequentialEvaluator, perform_experiments
    from sim.interop import ema_model

    model = ema_model(
        "classroom_demo",
        uncertainties={"nodes.filter_recall": (0.5, 0.99), "seed": (0, 999)},
        outcomes=["malicious_success_share", {"metric": "harmful_completed", "stat": "total"}],
        steps=30,
    )
    with SequentialEvaluator(model) as evaluator:
        experiments, outcomes = evaluator.perform_experiments(scenarios=16)

Uncertainties and levers map dotted paths to ``(low, high)`` bounds: integer bounds make
an ``IntegerParameter``, others a ``RealParameter``. EMA names them :func:`ema_name` of the
path (``nodes_filter_recall``; the path is the parameter's ``variable_name``). Each outcome
is a ``ScalarOutcome``, a run-level statistic of a metric as in ``dirisk sweep``: a metric
name is its mean over the days (named ``<metric>_mean``), a mapping is an experiment
outcome (``metric``, ``stat`` final/mean/peak/total, ``last``, ``name``). ``series`` adds
per-day time series (``TimeSeriesOutcome``) named after their metrics. Every run uses
the scenario's seed (or ``seed=``); for replications make ``"seed"`` (the scenario's seed
field) an integer uncertainty, so EMA samples one seed per experiment.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

import mesa
import numpy as np

from sim.engine.model import DiriskModel
from sim.engine.nodes import Node
from sim.experiments.experiment import DEFAULT_OUTCOMES, ExperimentOutcome, plain, summarise_metrics
from sim.output.dictionary import table
from sim.results.runner import ScenarioLike, run, with_steps
from sim.scenario import Scenario, load_scenario, set_path, validate

if TYPE_CHECKING:
    import ema_workbench

__all__ = [
    "BatchModel",
    "EmaRun",
    "METRICS",
    "NODE_REPORTERS",
    "configure",
    "ema_model",
    "ema_name",
    "last_day_metrics",
]

#: Headline metrics collected each day (every column of ``sim.run(...).metrics``).
METRICS: tuple[str, ...] = tuple(name for name in table("metrics").names if name != "step")

#: Node attributes recorded each day with ``record_nodes=True`` (see :class:`Node`).
NODE_REPORTERS = {
    "node_id": "index",
    "jurisdiction": "jurisdiction",
    "model_kind": "model_kind",
    "status": "status",
    "compliant": "compliant",
}


def configure(
    scenario: ScenarioLike, overrides: Mapping[str, Any], *, steps: int | None = None
) -> Scenario:
    """The scenario with every dotted path of ``overrides`` set to its value, validated;
    ``steps`` days (dropping timeline events after the last, as ``sim.run`` does).

    Raises:
        ScenarioError: a path names no field, or a value is invalid.
        ValueError: ``steps`` is below 1.
    """
    spec = load_scenario(scenario)
    if overrides:
        data = spec.to_dict()
        for path, value in overrides.items():
            set_path(data, path, plain(value))
        spec = validate(data, source=f"<{spec.name} with {', '.join(overrides)}>")
    return with_steps(spec, steps)


def last_day_metrics(model: DiriskModel) -> dict[str, Any]:
    """The headline metrics of the model's last completed day, read from its recorder:
    the same values as that day's row of ``sim.run(...).metrics`` (without ``step``).

    Raises:
        ValueError: the model has not completed a day.
    """
    rows = model.recorder.headline(first=-1).to_dict("records")
    if not rows:
        raise ValueError("no day has been recorded yet: step the model first")
    row = rows[0]
    del row["step"]
    return row


def _reading(name: str, model: BatchModel) -> Any:
    """Model reporter: metric ``name`` of the model's last completed day."""
    return model.last_metrics[name]


class BatchModel(DiriskModel):
    """A dirisk run for ``mesa.batch_run``: scenario parameters as keyword arguments and
    a ``datacollector`` of the headline metrics, one entry per day.

    Args:
        scenario: Preset name, path, mapping or Scenario.
        seed: Seed of the run (default: the scenario's).
        rng: Alias of ``seed`` (Mesa's name); pass at most one.
        steps: Days to simulate (default: the scenario's); ``running`` turns False after.
        record_nodes: Also record :data:`NODE_REPORTERS` of every node each day
            (``datacollector.get_agenttype_vars_dataframe(Node)``; its ``Step`` counts
            days completed, one more than the day index; ``batch_run`` ignores them).
        **overrides: Dotted scenario paths and their values.

    Attributes:
        last_metrics: Headline metrics of the last completed day, by name.

    Raises:
        ScenarioError: a path names no field, or a value is invalid.
    """

    def __init__(
        self,
        scenario: ScenarioLike = "classroom_demo",
        *,
        seed: int | None = None,
        rng: int | None = None,
        steps: int | None = None,
        record_nodes: bool = False,
        **overrides: Any,
    ) -> None:
        if seed is not None and rng is not None:
            raise ValueError("pass seed or rng, not both")
        spec = configure(scenario, overrides, steps=steps)
        super().__init__(spec, seed=rng if seed is None else seed)
        self.last_metrics: dict[str, Any] = {}
        self.datacollector = mesa.DataCollector(
            model_reporters={name: partial(_reading, name) for name in METRICS},
            agenttype_reporters={Node: NODE_REPORTERS} if record_nodes else None,
        )

    def step(self) -> None:
        """One day, then collect its metrics."""
        super().step()
        self.last_metrics = last_day_metrics(self)
        self.datacollector.collect(self)
        self.running = self.steps < self.scenario.steps


def ema_name(path: str) -> str:
    """The EMA parameter name of a dotted path: ``.`` becomes ``_``, ``*`` ``all``."""
    return path.replace("*", "all").replace(".", "_")


@dataclass(frozen=True)
class EmaRun:
    """The function an EMA model calls (picklable, for EMA's multiprocessing evaluator):
    runs the scenario with the sampled dotted paths set and returns its outcomes."""

    scenario: Scenario
    outcomes: tuple[ExperimentOutcome, ...]
    series: tuple[str, ...]
    seed: int | None

    def __call__(self, **values: Any) -> dict[str, Any]:
        """Outcomes of one run: scalars by outcome column, per-day arrays by metric."""
        metrics = run(configure(self.scenario, values), seed=self.seed).metrics
        out: dict[str, Any] = summarise_metrics(metrics, list(self.outcomes))
        out.update({name: metrics[name].to_numpy(dtype=float) for name in self.series})
        return out


def _import_ema() -> Any:
    try:
        import ema_workbench
    except ImportError as exc:
        raise ImportError(
            "the EMA Workbench adapter needs ema_workbench: pip install 'dirisk[ema]'"
        ) from exc
    return ema_workbench


def _parameters(ema: Any, ranges: Mapping[str, tuple[float, float]]) -> list[Any]:
    """EMA parameters for dotted paths: integer bounds give an IntegerParameter."""
    out = []
    for path, (low, high) in ranges.items():
        integer = all(
            isinstance(b, int | np.integer) and not isinstance(b, bool) for b in (low, high)
        )
        kind = ema.IntegerParameter if integer else ema.RealParameter
        out.append(kind(ema_name(path), low, high, variable_name=path))
    return out


def _outcome(spec: str | Mapping[str, Any]) -> ExperimentOutcome:
    outcome = ExperimentOutcome.model_validate(spec if isinstance(spec, str) else dict(spec))
    if outcome.metric is not None:
        _check_metric(outcome.metric)
    return outcome


def _check_metric(name: str) -> None:
    if name not in METRICS:
        raise ValueError(f"unknown metric {name!r}; see `dirisk describe metrics`")


def ema_model(
    scenario: ScenarioLike = "classroom_demo",
    *,
    uncertainties: Mapping[str, tuple[float, float]],
    levers: Mapping[str, tuple[float, float]] | None = None,
    outcomes: Sequence[str | Mapping[str, Any]] | None = None,
    series: Sequence[str] = (),
    steps: int | None = None,
    seed: int | None = None,
    name: str = "dirisk",
) -> ema_workbench.Model:
    """An EMA Workbench model of a dirisk scenario.

    Args:
        scenario: Preset name, path, mapping or Scenario.
        uncertainties: Dotted path -> (low, high), sampled as uncertainties.
        levers: Dotted path -> (low, high), sampled as policy levers.
        outcomes: Run-level outcomes: names of the outcome registry
            (:mod:`sim.results.outcomes`), metric names (mean over days) or experiment
            outcome mappings (default: ``dirisk sweep``'s defaults).
        series: Metrics also returned per day, as time series outcomes.
        steps: Days per run (default: the scenario's).
        seed: Seed of every run (default: the scenario's ``seed``, itself a path that may
            be an integer uncertainty for replications).
        name: EMA model name (alphanumeric).

    Raises:
        ImportError: ema_workbench is not installed.
        ScenarioError: a path or bound gives an invalid scenario.
        ValueError: unknown metric, two paths with the same EMA name, or ``seed`` both
            fixed and sampled.
    """
    ema = _import_ema()
    levers = dict(levers or {})
    ranges = {**uncertainties, **levers}
    names = [ema_name(p) for p in [*uncertainties, *levers]]
    clash = sorted({n for n in names if names.count(n) > 1})
    if clash:
        raise ValueError(f"paths must have distinct EMA names, repeated: {clash}")
    if seed is not None and "seed" in ranges:
        raise ValueError("seed is sampled: pass no seed= as well")
    spec = configure(scenario, {}, steps=steps)
    for bound in (0, 1):  # both corners must give valid scenarios
        configure(spec, {path: b[bound] for path, b in ranges.items()})
    scalars = tuple(_outcome(o) for o in (outcomes or DEFAULT_OUTCOMES))
    for metric in series:
        _check_metric(metric)
    model = ema.Model(name, function=EmaRun(spec, scalars, tuple(series), seed))
    model.uncertainties = _parameters(ema, uncertainties)
    model.levers = _parameters(ema, levers)
    model.outcomes = [ema.ScalarOutcome(o.column) for o in scalars] + [
        ema.TimeSeriesOutcome(metric) for metric in series
    ]
    return model
