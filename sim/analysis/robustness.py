"""Robust policy conclusions under deep uncertainty (``dirisk robust``): each policy's
effect in every plausible future, how often it holds, what it costs legitimate users,
its regret against the best policy of each future, and where it fails.

A policy *holds* in a future when it lowers harmful requests completed by at least the
harm threshold (a share of the base's, default 10%); it is *costly* there when it
raises benign or dual-use over-refusal by more than the cost threshold (in share points,
default 1 point). Effects are paired: the policy and the base run with the same seeds
in the same future. The futures where a policy does not hold are described by scenario
discovery (a decision tree, and PRIM where the EMA Workbench is installed) as boxes over
the uncertain parameters.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.analysis.discovery import boxes_prim, boxes_tree
from sim.common.files import atomic_write_text
from sim.common.stats import mean_ci
from sim.experiments.folder import SweepError, read_parts
from sim.experiments.robust import ROBUST_OUTCOMES, plan_robustness
from sim.experiments.sweep import Progress, dask_client, sweep
from sim.results.runner import ScenarioLike

__all__ = [
    "COST_OUTCOMES",
    "DEFAULT_COST_THRESHOLD",
    "DEFAULT_HARM_THRESHOLD",
    "Robustness",
    "RobustnessError",
    "failure_boxes",
    "recorded_thresholds",
    "robust",
    "robust_record",
    "robustness_of",
]

#: Harmful requests completed must fall by this share of the base's for a policy to hold.
DEFAULT_HARM_THRESHOLD = 0.10
#: A rise in over-refusal above this (share points) is a cost to legitimate users.
DEFAULT_COST_THRESHOLD = 0.01
#: Outcomes whose rise is a cost to legitimate users.
COST_OUTCOMES = ("benign_over_refusal", "dual_use_over_refusal")


class RobustnessError(ValueError):
    """A robustness folder cannot be read (not one, or runs missing)."""


@dataclass(frozen=True)
class Robustness:
    """The result of a robustness analysis.

    Attributes:
        base: The base scenario's label.
        effects: ``future, seed, policy, outcome, base, value, effect`` (value − base), one
            row per future, seed, policy and outcome.
        futures: ``future`` and the value of every uncertain parameter.
        summary: Per policy and outcome: the mean effect over futures with its 95%
            interval, the 5%, 50% and 95% quantiles of the per-future effect, and for
            the policy the share of futures where it holds and where it is costly.
        regret: Per policy: mean and worst regret of harmful requests completed against
            the best scenario (base or policy) of each future.
        boxes: Per policy: the boxes of futures where it does not hold (method, rule,
            coverage, density).
    """

    base: str
    effects: pd.DataFrame
    futures: pd.DataFrame
    summary: pd.DataFrame
    regret: pd.DataFrame
    boxes: pd.DataFrame

    def save(self, directory: str | Path) -> Path:
        """Write effects.csv, futures.csv, summary.csv, regret.csv and boxes.csv."""
        out = Path(directory)
        for name in ("effects", "futures", "summary", "regret", "boxes"):
            frame: pd.DataFrame = getattr(self, name)
            atomic_write_text(out / f"{name}.csv", frame.to_csv(index=False))
        return out


def _runs(folder: Path, outcomes: Sequence[str]) -> pd.DataFrame:
    try:
        runs = read_parts(folder)
    except (SweepError, OSError) as exc:
        raise RobustnessError(f"{folder}: unreadable ({exc})") from None
    ok = runs[runs["status"] == "ok"]
    return ok[["point", "seed", *outcomes]].rename(columns={"point": "future"})


def robust_record(root: str | Path) -> dict[str, Any]:
    """The settings a robustness folder records (its robust.json).

    Raises:
        RobustnessError: no robust.json, or not a JSON object.
    """
    path = Path(root) / "robust.json"
    if not path.is_file():
        raise RobustnessError(f"{root}: no robust.json (not a dirisk robustness folder)")
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RobustnessError(f"{path}: unreadable ({exc})") from None
    if not isinstance(record, dict):
        raise RobustnessError(f"{path}: not a JSON object")
    return record


def recorded_thresholds(record: Mapping[str, Any]) -> tuple[float, float]:
    """The harm and cost thresholds a robust.json records (the defaults for a folder
    written before they were recorded)."""
    return (
        float(record.get("harm_threshold", DEFAULT_HARM_THRESHOLD)),
        float(record.get("cost_threshold", DEFAULT_COST_THRESHOLD)),
    )


def robustness_of(
    root: str | Path,
    *,
    harm_threshold: float | None = None,
    cost_threshold: float | None = None,
) -> Robustness:
    """The robustness analysis of a finished robustness folder.

    Args:
        root: The robustness folder.
        harm_threshold: Share of the base's harmful requests a policy must prevent to
            hold (default: robust.json's ``harm_threshold``, else
            :data:`DEFAULT_HARM_THRESHOLD`).
        cost_threshold: Rise in over-refusal (share points) that counts as a cost
            (default: robust.json's ``cost_threshold``, else
            :data:`DEFAULT_COST_THRESHOLD`).

    Raises:
        RobustnessError: no robust.json, or a scenario's runs are missing.
    """
    root = Path(root)
    record = robust_record(root)
    names, outcomes = list(record["names"]), list(record["outcomes"])
    recorded_harm, recorded_cost = recorded_thresholds(record)
    harm_threshold = recorded_harm if harm_threshold is None else harm_threshold
    cost_threshold = recorded_cost if cost_threshold is None else cost_threshold
    base_name, policies = names[0], names[1:]
    futures = pd.read_csv(root / "futures.csv")
    base = _runs(root / base_name, outcomes)
    expected = len(futures) * int(record["seeds"])
    tables = []
    for name in names:
        runs = base if name == base_name else _runs(root / name, outcomes)
        if len(runs) < expected:
            raise RobustnessError(
                f"{root / name}: {expected - len(runs)} of {expected} runs missing or failed; "
                "rerun the same dirisk robust command to finish them"
            )
        tables.append(runs.assign(policy=name))
    everything = pd.concat(tables, ignore_index=True)
    long = everything.melt(
        id_vars=["future", "seed", "policy"], value_vars=outcomes, var_name="outcome"
    )
    base_values = long[long["policy"] == base_name].drop(columns="policy")
    effects = long[long["policy"] != base_name].merge(
        base_values, on=["future", "seed", "outcome"], suffixes=("", "_base")
    )
    effects = effects.rename(columns={"value_base": "base"})
    effects["effect"] = effects["value"] - effects["base"]
    effects = effects[["future", "seed", "policy", "outcome", "base", "value", "effect"]]
    effects = effects.sort_values(["policy", "future", "seed", "outcome"], ignore_index=True)
    per_future = (
        effects.groupby(["policy", "outcome", "future"])[["base", "value", "effect"]]
        .mean()
        .sort_index()
    )
    holds, costly = _verdicts(per_future, harm_threshold, cost_threshold)
    summary = _summary(per_future, policies, outcomes, holds, costly)
    regret = _regret(everything, names)
    boxes = failure_boxes(futures, holds, policies)
    return Robustness(
        base=base_name,
        effects=effects,
        futures=futures,
        summary=summary,
        regret=regret,
        boxes=boxes,
    )


def _verdicts(
    per_future: pd.DataFrame, harm_threshold: float, cost_threshold: float
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per policy (columns) and future (rows): whether it holds, whether it is costly."""
    harm = per_future.xs("harmful_completed", level="outcome")
    cut = (harm["base"] - harm["value"]) >= harm_threshold * harm["base"]
    holds = cut.unstack("policy")
    rises = [
        per_future.xs(name, level="outcome")["effect"] > cost_threshold
        for name in COST_OUTCOMES
        if name in per_future.index.get_level_values("outcome")
    ]
    costly = pd.concat(rises, axis=1).any(axis=1).unstack("policy") if rises else holds & False
    return holds, costly


def _summary(
    per_future: pd.DataFrame,
    policies: list[str],
    outcomes: list[str],
    holds: pd.DataFrame,
    costly: pd.DataFrame,
) -> pd.DataFrame:
    rows = []
    for policy in policies:
        for name in outcomes:
            effect = per_future.loc[(policy, name), "effect"]
            mean, half = mean_ci(effect)
            q05, q50, q95 = np.quantile(effect.to_numpy(dtype=float), [0.05, 0.5, 0.95])
            rows.append(
                {
                    "policy": policy,
                    "outcome": name,
                    "mean_effect": mean,
                    "low": mean - half,
                    "high": mean + half,
                    "q05": q05,
                    "median": q50,
                    "q95": q95,
                    "futures": len(effect),
                    "holds_share": float(holds[policy].mean()),
                    "costly_share": float(costly[policy].mean()),
                }
            )
    return pd.DataFrame(rows)


def _regret(everything: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """Regret of harmful requests completed: per future (mean over seeds), a scenario's
    value minus the best (lowest) of all scenarios in that future."""
    harm = everything.groupby(["future", "policy"])["harmful_completed"].mean().unstack()
    regret = harm.sub(harm.min(axis=1), axis=0)
    best = harm.idxmin(axis=1)
    return pd.DataFrame(
        {
            "policy": names,
            "mean_regret": [float(regret[n].mean()) for n in names],
            "worst_regret": [float(regret[n].max()) for n in names],
            "best_in_share": [float((best == n).mean()) for n in names],
        }
    )


def failure_boxes(
    futures: pd.DataFrame, holds: pd.DataFrame, policies: Sequence[str]
) -> pd.DataFrame:
    """Boxes of futures where each policy does not hold, by a decision tree and by PRIM
    (``futures``: ``future`` and the uncertain parameters; ``holds``: one bool column per
    policy, indexed by future)."""
    x = futures.set_index("future").astype(float)
    x = x.loc[:, x.nunique() > 1]
    parts = []
    for policy in policies:
        fails = ~holds[policy].reindex(x.index, fill_value=True).astype(bool)
        if not fails.any() or fails.all() or x.empty:
            continue
        found = [("tree", boxes_tree(x, fails.to_numpy()))]
        try:
            found.append(("prim", boxes_prim(x, fails.to_numpy())))
        except ImportError:  # PRIM needs the EMA Workbench (dirisk[ema])
            pass
        for method, table in found:
            parts.append(
                table[["box", "rule", "coverage", "density", "runs"]].assign(
                    policy=policy, method=method
                )
            )
    columns = ["policy", "method", "box", "rule", "coverage", "density", "runs"]
    if not parts:
        return pd.DataFrame(columns=columns)
    return pd.concat(parts, ignore_index=True)[columns]


def robust(
    base: ScenarioLike,
    policies: Sequence[tuple[str, ScenarioLike]],
    out: str | Path,
    *,
    futures: int = 100,
    seeds: int = 3,
    steps: int | None = None,
    seed: int = 0,
    harm_threshold: float = DEFAULT_HARM_THRESHOLD,
    cost_threshold: float = DEFAULT_COST_THRESHOLD,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: Progress | None = None,
) -> Robustness:
    """Run (or resume) every scenario in the same futures into ``out`` and analyse them;
    the tables are written into ``out`` too.

    Args:
        base: The base scenario.
        policies: (label, scenario) of each policy.
        out: The robustness folder: ``futures.csv``, ``robust.json`` and one sweep folder
            per scenario; rerun the same command to resume.
        futures: Futures drawn (Latin hypercube over the uncertainty catalogue).
        seeds: Common seeds per future.
        steps: Days per run.
        seed: Seed of the futures and the runs.
        harm_threshold: Share of the base's harmful requests a policy must prevent to hold.
        cost_threshold: Rise in over-refusal (share points) that counts as a cost.
        workers: Local worker processes; scheduler: a Dask scheduler's address instead.
        progress: Called as runs of each scenario finish.
    """
    plan = plan_robustness(base, policies, futures=futures, seeds=seeds, steps=steps, seed=seed)
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    atomic_write_text(root / "futures.csv", plan.futures.to_csv(index=False))
    record = {
        "names": plan.names,
        "outcomes": list(ROBUST_OUTCOMES),
        "futures": futures,
        "seeds": seeds,
        "seed": seed,
        "levers": plan.levers,
        "harm_threshold": harm_threshold,
        "cost_threshold": cost_threshold,
    }
    atomic_write_text(root / "robust.json", json.dumps(record, indent=2) + "\n")
    with dask_client(workers, scheduler) as client:  # one client for every scenario
        for name in plan.names:
            sweep(
                plan.experiments[name],
                root / name,
                scheduler=scheduler,
                progress=progress,
                client=client,
            )
    result = robustness_of(root, harm_threshold=harm_threshold, cost_threshold=cost_threshold)
    result.save(root)
    return result
