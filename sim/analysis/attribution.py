"""Why harm leaks: Shapley attribution of an outcome to its channels
(``dirisk attribute``).

For every seed, the value of each coalition of channels (the outcome with those channels
on and the others switched off) comes from one run of an attribution sweep
(:mod:`sim.experiments.attribution`); the channels' Shapley values then add up exactly to
the outcome with every channel on minus the outcome with every applicable channel off,
seed by seed. Contributions are reported as means over seeds with 95% Student's t
intervals, with pairwise interaction indices for channels that act together.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from sim.analysis.shapley import Coalition, interaction_indices, shapley_values
from sim.common.files import atomic_write_text
from sim.common.stats import INTERVAL_METHOD, mean_ci
from sim.experiments.attribution import attribution_experiment
from sim.experiments.channels import CHANNELS, applicability
from sim.experiments.compare import PrecisionReport
from sim.experiments.folder import SweepError, SweepFolder, read_parts
from sim.experiments.sweep import Progress, sweep
from sim.results.runner import ScenarioLike

__all__ = [
    "ATTRIBUTION_COLUMNS",
    "Attribution",
    "AttributionError",
    "attribute",
    "attribution_of",
]

#: Columns of attribution.csv.
ATTRIBUTION_COLUMNS = ("channel", "contribution", "low", "high", "share", "n", "applies", "reason")


class AttributionError(ValueError):
    """An attribution cannot be computed (not an attribution folder, or runs missing)."""


@dataclass(frozen=True)
class Attribution:
    """The attribution of one outcome of one scenario to its channels.

    Attributes:
        scenario: The scenario's name.
        outcome: The outcome attributed.
        table: One row per channel asked for (:data:`ATTRIBUTION_COLUMNS`):
            contribution (mean Shapley value over seeds), its 95% interval, its share of
            the mean total effect, seeds, whether the channel applies and why not.
        per_seed: ``seed, channel, contribution`` for every seed and applicable channel.
        totals: ``seed, all_on, all_off``: the outcome with every channel on and with
            every applicable channel off.
        interactions: ``channel_a, channel_b, interaction, low, high, n``, strongest first.
        by_jurisdiction: With ``by_residence``, ``jurisdiction`` then the columns of
            ``table`` for the outcome among each jurisdiction's residents (else None).
        precision: What a precision target did (None without one).
    """

    scenario: str
    outcome: str
    table: pd.DataFrame
    per_seed: pd.DataFrame
    totals: pd.DataFrame
    interactions: pd.DataFrame
    by_jurisdiction: pd.DataFrame | None = None
    precision: PrecisionReport | None = None

    def save(self, directory: str | Path) -> Path:
        """Write attribution.csv, per_seed.csv, totals.csv and interactions.csv."""
        out = Path(directory)
        for name, frame in (
            ("attribution", self.table),
            ("per_seed", self.per_seed),
            ("totals", self.totals),
            ("interactions", self.interactions),
        ):
            atomic_write_text(out / f"{name}.csv", frame.to_csv(index=False))
        if self.by_jurisdiction is not None:
            text = self.by_jurisdiction.to_csv(index=False)
            atomic_write_text(out / "attribution_by_jurisdiction.csv", text)
        return out


def attribution_of(root: str | Path) -> Attribution:
    """The attribution computed from a finished attribution sweep folder.

    Raises:
        AttributionError: not an attribution folder, or a coalition of some seed has no
            successful run.
    """
    folder = SweepFolder(root)
    try:
        experiment = folder.experiment()
    except (SweepError, OSError) as exc:
        raise AttributionError(f"{root}: not an attribution folder ({exc})") from None
    players = [f.channel for f in experiment.factors if f.channel is not None]
    if not players or len(players) != len(experiment.factors):
        raise AttributionError(f"{root}: not an attribution folder (its factors are not channels)")
    (spec,) = experiment.outcomes
    column = spec.column
    runs = read_parts(root)
    ok = runs[runs["status"] == "ok"]
    expected = 2 ** len(players) * experiment.replications
    if len(ok) < expected:
        raise AttributionError(
            f"{root}: {expected - len(ok)} of {expected} runs are missing or failed; finish "
            f"the sweep (dirisk attribute ... --out {root}, or dirisk sweep --resume "
            f"--retry-failed --out {root})"
        )
    reasons = applicability(experiment.scenario, _asked(Path(root), players))
    per_seed, totals, pairs = _games(ok, players, column)
    by_place = None
    if experiment.by_residence:
        parts = []
        for place in experiment.scenario["jurisdictions"]:
            place_seed, place_totals, _ = _games(ok, players, f"{column}__{place}")
            parts.append(_summary(place_seed, place_totals, reasons).assign(jurisdiction=place))
        by_place = pd.concat(parts, ignore_index=True)
        by_place = by_place[["jurisdiction", *ATTRIBUTION_COLUMNS]]
    return Attribution(
        scenario=experiment.scenario["name"],
        outcome=spec.outcome or column,
        table=_summary(per_seed, totals, reasons),
        per_seed=per_seed,
        totals=totals,
        interactions=_interaction_table(pd.DataFrame(pairs)),
        by_jurisdiction=by_place,
    )


def _games(
    ok: pd.DataFrame, players: list[str], column: str
) -> tuple[pd.DataFrame, pd.DataFrame, list[dict]]:
    """Per seed, the Shapley values of ``column``'s game, its all-on and all-off values,
    and the pairwise interaction indices."""
    per_seed, totals, pairs = [], [], []
    for (_replication, seed), group in ok.groupby(["replication", "seed"], sort=True):
        values: dict[Coalition, float] = {
            frozenset(p for p in players if row[p] == 1): float(row[column])
            for _, row in group.iterrows()
        }
        phi = shapley_values(values, players)
        per_seed += [{"seed": int(seed), "channel": p, "contribution": phi[p]} for p in players]
        totals.append(
            {
                "seed": int(seed),
                "all_on": values[frozenset(players)],
                "all_off": values[frozenset()],
            }
        )
        pairs += [
            {"seed": int(seed), "channel_a": a, "channel_b": b, "interaction": v}
            for (a, b), v in interaction_indices(values, players).items()
        ]
    return (
        pd.DataFrame(per_seed, columns=["seed", "channel", "contribution"]),
        pd.DataFrame(totals, columns=["seed", "all_on", "all_off"]),
        pairs,
    )


def _summary(per_seed: pd.DataFrame, totals: pd.DataFrame, reasons: dict[str, str]) -> pd.DataFrame:
    """One row per channel asked for: mean contribution over seeds with its interval and
    share of the mean total effect, or why the channel does not apply."""
    total_effect = (totals["all_on"] - totals["all_off"]).mean()
    nan = float("nan")
    rows = []
    for name, why in reasons.items():
        if why:
            rows.append((name, nan, nan, nan, nan, 0, False, why))
            continue
        values_of = per_seed.loc[per_seed["channel"] == name, "contribution"]
        mean, half = mean_ci(values_of)
        share = mean / total_effect if total_effect else nan
        rows.append((name, mean, mean - half, mean + half, share, len(values_of), True, ""))
    return pd.DataFrame(rows, columns=list(ATTRIBUTION_COLUMNS))


def _asked(root: Path, players: Sequence[str]) -> list[str]:
    """The channels an attribution was asked for (attribution.json), applicable or not."""
    path = root / "attribution.json"
    if path.is_file():
        return list(json.loads(path.read_text(encoding="utf-8"))["channels"])
    return list(players)


def _interaction_table(pairs: pd.DataFrame) -> pd.DataFrame:
    """Mean interaction index per pair over seeds with its interval, strongest first."""
    columns = ["channel_a", "channel_b", "interaction", "low", "high", "n"]
    if pairs.empty:
        return pd.DataFrame(columns=columns)
    rows = []
    for (a, b), group in pairs.groupby(["channel_a", "channel_b"], sort=False):
        mean, half = mean_ci(group["interaction"])
        rows.append((a, b, mean, mean - half, mean + half, len(group)))
    table = pd.DataFrame(rows, columns=columns)
    return table.reindex(table["interaction"].abs().sort_values(ascending=False).index).reset_index(
        drop=True
    )


def attribute(
    scenario: ScenarioLike,
    out: str | Path,
    *,
    channels: Sequence[str] | None = None,
    outcome_name: str = "harmful_completed",
    seeds: int = 5,
    precision: float | None = None,
    max_seeds: int = 20,
    steps: int | None = None,
    by_residence: bool = False,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: Progress | None = None,
    on_plan: Callable[[int, int], None] | None = None,
) -> Attribution:
    """Run (or resume) the attribution sweep of ``scenario`` into ``out`` and compute the
    attribution; writes its tables into ``out`` too.

    Args:
        scenario: The scenario (preset name, path, mapping or Scenario).
        out: The attribution folder (a sweep folder; rerun to resume).
        channels: Channel names (default: all).
        outcome_name: The run-level outcome to attribute.
        seeds: Common seeds; every coalition runs with each (the first round's, with
            ``precision``).
        precision: Target half-width of every applicable channel's 95% interval, in the
            outcome's unit: seeds are added (the folder grows, earlier runs are kept)
            until it is met or ``max_seeds`` is reached.
        max_seeds: Most seeds ``precision`` may run.
        steps: Days per run.
        by_residence: Also attribute the outcome among each jurisdiction's residents
            (which channels let each regime's prohibited demand out).
        workers: Local worker processes (default: one per core).
        scheduler: Address of a Dask scheduler instead.
        progress: Called as runs finish (see :func:`sim.experiments.sweep.sweep`).
        on_plan: Called with (applicable channels, runs) before each round.
    """
    asked = list(channels) if channels else list(CHANNELS)
    if precision is not None and precision <= 0:
        raise ValueError(f"precision must be a positive half-width, got {precision}")
    count = max(seeds, 3) if precision is not None else seeds
    while True:
        result = _attribute_with(
            scenario, out, asked, outcome_name, count, steps, by_residence,
            workers, scheduler, progress, on_plan,
        )  # fmt: skip
        if precision is None:
            return result
        applying = result.table[result.table["applies"]]
        widest = float(((applying["high"] - applying["low"]) / 2).max())
        if widest <= precision or count >= max_seeds:
            report = PrecisionReport(
                outcome=f"every channel's contribution to {outcome_name}",
                target=precision,
                half_width=widest,
                seeds=count,
                reached=widest <= precision,
            )
            return dataclasses.replace(result, precision=report)
        count = min(max_seeds, count + max(2, count // 2))


def _attribute_with(
    scenario: ScenarioLike,
    out: str | Path,
    asked: list[str],
    outcome_name: str,
    seeds: int,
    steps: int | None,
    by_residence: bool,
    workers: int | None,
    scheduler: str | None,
    progress: Progress | None,
    on_plan: Callable[[int, int], None] | None,
) -> Attribution:
    """One attribution with a fixed number of seeds (see :func:`attribute`)."""
    experiment, reasons = attribution_experiment(
        scenario,
        channels=asked,
        outcome_name=outcome_name,
        seeds=seeds,
        steps=steps,
        by_residence=by_residence,
    )
    if on_plan is not None:
        applying = sum(1 for why in reasons.values() if not why)
        on_plan(applying, 2**applying * seeds)
    sweep(experiment, out, workers=workers, scheduler=scheduler, progress=progress)
    record = {"channels": asked, "outcome": outcome_name, "method": INTERVAL_METHOD}
    atomic_write_text(Path(out) / "attribution.json", json.dumps(record, indent=2) + "\n")
    result = attribution_of(out)
    result.save(out)
    return result
