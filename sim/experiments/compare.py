"""Paired comparison of two scenarios over common random numbers (``dirisk compare`` and
the explorer's Compare page).

Both scenarios run on the same seeds. The model draws every random number from one
generator per run, so runs of A and B with one seed share their random stream for as
long as the two scenarios ask it the same questions in the same order (set-up, the first
days before a changed rule first acts); from the first divergence on, the draws are
independent. The pairing then still removes the variation both runs share. Each outcome
is compared by the interval of its per-seed differences (Student's t at the number of
seeds), so ``paired.csv`` recomputes ``summary.csv`` exactly.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from sim.common.files import atomic_write_text
from sim.common.seeds import replication_seeds
from sim.common.stats import INTERVAL_METHOD, paired_difference
from sim.experiments.folder import utc_now
from sim.results.outcomes import FRONTIER_OUTCOMES, outcome, outcome_values
from sim.results.runner import ScenarioLike, run_metrics, versions, with_steps
from sim.scenario import (
    Scenario,
    ScenarioError,
    load_scenario,
    scenario_to_yaml,
    set_path,
    validate,
)

__all__ = [
    "COMPARE_OUTCOMES",
    "DEFAULT_SEEDS",
    "MAX_SEEDS",
    "SUMMARY_COLUMNS",
    "Comparison",
    "MetricsRunner",
    "PrecisionReport",
    "compare",
    "parse_param",
    "summarize_pairs",
    "with_params",
]

#: Outcomes compared (run-level outcomes of :mod:`sim.results.outcomes`).
COMPARE_OUTCOMES = FRONTIER_OUTCOMES
#: Seeds per scenario when neither a count nor a precision is given.
DEFAULT_SEEDS = 5
#: Most seeds a precision target may add.
MAX_SEEDS = 100
#: Columns of a comparison's summary table (summary.csv).
SUMMARY_COLUMNS = (
    "metric",
    "mean_a",
    "mean_b",
    "diff",
    "diff_low",
    "diff_high",
    "n",
    "method",
    "verdict",
)

#: Runs one scenario with one seed and returns its metrics table.
MetricsRunner = Callable[[Scenario, int], pd.DataFrame]


def parse_param(text: str) -> tuple[str, Any]:
    """``PATH=VALUE`` as (dotted path, value parsed as YAML: ``0.05`` is a number,
    ``[eu, us]`` a list).

    Raises:
        ScenarioError: no ``=``, an empty path or a value that is not YAML.
    """
    path, sep, value = text.partition("=")
    if not sep or not path.strip():
        raise ScenarioError("--param", text, "expected PATH=VALUE, e.g. nodes.filter_recall=0.9")
    try:
        return path.strip(), yaml.safe_load(value)
    except yaml.YAMLError as exc:
        raise ScenarioError(
            "--param", path.strip(), f"a YAML value, got {value!r} ({exc})"
        ) from None


def with_params(scenario: ScenarioLike, params: Iterable[tuple[str, Any]]) -> Scenario:
    """``scenario`` with each dotted path set to its value (``*`` for every key), validated.

    Raises:
        ScenarioError: a path that does not exist, or a value the schema rejects.
    """
    spec = load_scenario(scenario)
    changes = list(params)
    if not changes:
        return spec
    data = spec.to_dict()
    for path, value in changes:
        set_path(data, path, value)
    described = ", ".join(f"{p}={v}" for p, v in changes)
    return validate(data, source=f"{spec.name} with {described}")


@dataclass(frozen=True)
class PrecisionReport:
    """What a precision target did.

    Attributes:
        outcome: The outcome whose interval of B − A was sized.
        target: The half-width asked for.
        half_width: The half-width reached.
        seeds: Seeds run.
        reached: Whether the target was met (else the seed cap was hit).
    """

    outcome: str
    target: float
    half_width: float
    seeds: int
    reached: bool

    def describe(self) -> str:
        """One sentence for people."""
        verb = "reached" if self.reached else f"not reached (cap of {self.seeds} seeds hit)"
        return (
            f"precision target ±{self.target:g} for B − A of {self.outcome}: {verb}; "
            f"half-width {self.half_width:.4g} with {self.seeds} seeds"
        )


@dataclass(frozen=True)
class Comparison:
    """A paired comparison of scenarios A and B.

    Attributes:
        name_a, name_b: The scenarios' names.
        seeds: The common seeds, in run order.
        paired: One row per seed and outcome: ``seed``, ``metric``, ``a``, ``b``.
        summary: One row per outcome (:data:`SUMMARY_COLUMNS`), from ``paired``.
        precision: What a precision target did (None without one).
        scenarios: The merged scenarios A and B as run (``--param`` changes and steps
            applied), or None.
    """

    name_a: str
    name_b: str
    seeds: list[int]
    paired: pd.DataFrame
    summary: pd.DataFrame
    precision: PrecisionReport | None = None
    scenarios: tuple[Scenario, Scenario] | None = None

    def save(self, directory: str | Path) -> Path:
        """Write ``summary.csv``, ``paired.csv`` and ``compare.json`` into ``directory``,
        and with the scenarios ``a.yaml`` and ``b.yaml`` (each atomically): rerunning
        ``dirisk compare a.yaml b.yaml`` with the recorded seeds reproduces the tables."""
        out = Path(directory)
        atomic_write_text(out / "summary.csv", self.summary.to_csv(index=False))
        atomic_write_text(out / "paired.csv", self.paired.to_csv(index=False))
        record: dict[str, Any] = {
            "a": self.name_a,
            "b": self.name_b,
            "seeds": [int(s) for s in self.seeds],
            "outcomes": list(dict.fromkeys(self.paired["metric"])),
            "interval": INTERVAL_METHOD,
            "precision": None if self.precision is None else asdict(self.precision),
            "scenario_hashes": None,
            "created_at": utc_now(),
            "versions": versions(),
        }
        if self.scenarios is not None:
            record["scenario_hashes"] = [spec.content_hash() for spec in self.scenarios]
            for label, spec in zip(("a", "b"), self.scenarios, strict=True):
                atomic_write_text(out / f"{label}.yaml", scenario_to_yaml(spec))
        atomic_write_text(out / "compare.json", json.dumps(record, indent=2) + "\n")
        return out


def summarize_pairs(paired: pd.DataFrame, metrics: Sequence[str] | None = None) -> pd.DataFrame:
    """The summary of a paired table (``seed, metric, a, b``): per metric, both means,
    the mean difference B − A, its 95% interval, the pairs used and the verdict."""
    names = list(metrics) if metrics is not None else list(dict.fromkeys(paired["metric"]))
    rows = []
    for name in names:
        part = paired[paired["metric"] == name]
        d = paired_difference(part["a"], part["b"])
        rows.append(
            (name, d.mean_a, d.mean_b, d.diff, d.low, d.high, d.n, INTERVAL_METHOD, d.verdict)
        )
    return pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))


def compare(
    a: ScenarioLike,
    b: ScenarioLike | None = None,
    *,
    params: Iterable[tuple[str, Any]] = (),
    seeds: int | Sequence[int] | None = None,
    precision: float | None = None,
    precision_outcome: str = "harm_completion_rate",
    max_seeds: int = MAX_SEEDS,
    steps: int | None = None,
    outcomes: Sequence[str] = COMPARE_OUTCOMES,
    runner: MetricsRunner | None = None,
) -> Comparison:
    """Compare scenario B with scenario A over common seeds.

    Args:
        a: Scenario A (preset name, path, mapping or Scenario).
        b: Scenario B (default: A); ``params`` are applied to it.
        params: (dotted path, value) changes that make B from ``b``.
        seeds: A count (derived from A's seed) or explicit seeds; default
            :data:`DEFAULT_SEEDS`. Not with ``precision``.
        precision: Target half-width of the 95% interval of B − A for
            ``precision_outcome``: seeds are added one at a time, from 3, until it is met
            or ``max_seeds`` is reached.
        precision_outcome: The outcome the precision target applies to.
        max_seeds: Cap on the seeds a precision target may run.
        steps: Days per run (default: each scenario's).
        outcomes: Run-level outcomes to compare.
        runner: Runs one scenario and seed and returns its metrics (default: a fresh run;
            the explorer passes its cache).

    Raises:
        ScenarioError: a scenario or parameter is invalid.
        ValueError: both ``seeds`` and ``precision``, or an unknown outcome.
    """
    if seeds is not None and precision is not None:
        raise ValueError("give seeds or precision, not both")
    if precision is not None and precision <= 0:
        raise ValueError(f"precision must be a positive half-width, got {precision}")
    for name in (*outcomes, precision_outcome):
        outcome(name)
    changes = list(params)
    spec_a = with_steps(load_scenario(a), steps)
    spec_b = with_steps(with_params(a if b is None else b, changes), steps)
    name_b = spec_b.name + (" with " + ", ".join(f"{p}={v}" for p, v in changes) if changes else "")
    metrics_of = runner or (lambda spec, seed: run_metrics(spec, seed=seed))
    rows: list[dict[str, Any]] = []

    def run_seed(seed: int) -> None:
        values_a = outcome_values(metrics_of(spec_a, seed), outcomes)
        values_b = outcome_values(metrics_of(spec_b, seed), outcomes)
        rows.extend(
            {"seed": seed, "metric": name, "a": values_a[name], "b": values_b[name]}
            for name in outcomes
        )

    report = None
    if precision is None:
        count = DEFAULT_SEEDS if seeds is None else seeds
        seed_list = (
            replication_seeds(spec_a.seed, count)
            if isinstance(count, int)
            else [int(s) for s in count]
        )
        for seed in seed_list:
            run_seed(seed)
    else:
        pool = replication_seeds(spec_a.seed, max(max_seeds, 3))
        seed_list = []
        for seed in pool:
            seed_list.append(seed)
            run_seed(seed)
            if len(seed_list) < 3:
                continue
            d = summarize_pairs(pd.DataFrame(rows), [precision_outcome]).iloc[0]
            half = (d["diff_high"] - d["diff_low"]) / 2
            if half <= precision:
                break
        report = PrecisionReport(
            outcome=precision_outcome,
            target=precision,
            half_width=float(half),
            seeds=len(seed_list),
            reached=bool(half <= precision),
        )
    paired = pd.DataFrame(rows, columns=["seed", "metric", "a", "b"])
    return Comparison(
        name_a=spec_a.name,
        name_b=name_b,
        seeds=seed_list,
        paired=paired,
        summary=summarize_pairs(paired, outcomes),
        precision=report,
        scenarios=(spec_a, spec_b),
    )
