"""The registry of run-level outcomes: every number dirisk reports about a whole run,
defined once with its formula, unit and aggregation.

The run summary (``dirisk run``), the policy-cost frontier, sweeps' default outcomes, the
reports, the explorer, the Mesa and EMA adapters, the preset catalogue and the data
dictionary all read these definitions, so one name always means one number. Where a ratio
of totals and a mean of daily ratios are both useful they get two names
(``harm_completion_rate`` and ``harm_completion_rate_daily_mean``).

Every outcome is computed from a run's metrics table (one row per step), optionally over
its last ``last`` steps only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import pandas as pd

__all__ = [
    "FRONTIER_OUTCOMES",
    "HEADLINE_OUTCOMES",
    "OUTCOMES",
    "SWEEP_DEFAULT_OUTCOMES",
    "Aggregation",
    "RunOutcome",
    "outcome",
    "outcome_values",
]

Aggregation = Literal["total", "ratio of totals", "mean over steps", "last step"]


@dataclass(frozen=True)
class RunOutcome:
    """One run-level outcome.

    Attributes:
        name: Its name everywhere (a column of sweep tables, a key of adapters' results).
        label: Readable name for tables and figures.
        unit: ``count``, ``share`` (0–1) or ``USD``.
        aggregation: How the per-step metrics become one number for the run.
        columns: The metrics columns it reads: one, or numerator and denominator.
        basis: One phrase a reader sees beside the value (what it counts, how).
        meaning: The exact definition, for the data dictionary.
    """

    name: str
    label: str
    unit: Literal["count", "share", "USD"]
    aggregation: Aggregation
    columns: tuple[str, ...]
    basis: str
    meaning: str

    @property
    def formula(self) -> str:
        """The formula over the metrics table, e.g. ``Σ harmful_completed / Σ
        harmful_requests``."""
        if self.aggregation == "ratio of totals":
            return f"Σ {self.columns[0]} / Σ {self.columns[1]}"
        return {
            "total": f"Σ {self.columns[0]}",
            "mean over steps": f"mean of {self.columns[0]} over steps (NaN days left out)",
            "last step": f"{self.columns[0]} at the last step",
        }[self.aggregation]

    def value(self, metrics: pd.DataFrame, *, last: int | None = None) -> float:
        """The outcome of one run from its metrics table (over its last ``last`` steps;
        NaN when undefined: no steps, or a ratio whose denominator is 0)."""
        rows = metrics if last is None else metrics.iloc[-last:]
        if rows.empty:
            return 0.0 if self.aggregation == "total" else float("nan")
        first = rows[self.columns[0]]
        if self.aggregation == "total":
            return float(first.sum())
        if self.aggregation == "mean over steps":
            return float(first.mean())
        if self.aggregation == "last step":
            return float(first.iloc[-1])
        den = float(rows[self.columns[1]].sum())
        return float(first.sum()) / den if den else float("nan")


def _total(name: str, label: str, unit: str, basis: str, meaning: str) -> RunOutcome:
    return RunOutcome(name, label, unit, "total", (name,), basis, meaning)  # type: ignore[arg-type]


def _daily_mean(name: str, label: str, column: str, meaning: str) -> RunOutcome:
    return RunOutcome(
        name, label, "share", "mean over steps", (column,), "mean over steps", meaning
    )


def _last(name: str, label: str, unit: str, meaning: str) -> RunOutcome:
    return RunOutcome(name, label, unit, "last step", (name,), "last step", meaning)  # type: ignore[arg-type]


_DEFINITIONS: tuple[RunOutcome, ...] = (
    _total(
        "requests_emitted", "requests emitted", "count", "total", "Requests emitted over the run."
    ),
    _total(
        "requests_served",
        "requests served",
        "count",
        "total",
        "Requests whose final status is served, over the run.",
    ),
    _total(
        "harmful_completed",
        "harmful requests completed",
        "count",
        "total, malicious intent",
        "Harmful-category requests of malicious requesters served, over the run.",
    ),
    RunOutcome(
        "harm_completion_rate",
        "harm completion rate",
        "share",
        "ratio of totals",
        ("harmful_completed", "harmful_requests"),
        "completed / attempted",
        "Harmful requests of malicious requesters served / emitted, over the run (every "
        "request weighs the same); NaN when none was emitted.",
    ),
    _daily_mean(
        "harm_completion_rate_daily_mean",
        "harm completion rate (mean of days)",
        "harm_completion_rate",
        "The daily harm completion rate averaged over the days it is defined (every day "
        "weighs the same).",
    ),
    _daily_mean(
        "malicious_success_share",
        "malicious success share",
        "malicious_success_share",
        "Of the malicious requesters seeking harm on a day, the share with at least one "
        "harmful request served, averaged over days.",
    ),
    _daily_mean(
        "benign_over_refusal",
        "benign over-refusal",
        "benign_over_refusal",
        "The daily share of benign requests refused, averaged over days.",
    ),
    _daily_mean(
        "dual_use_over_refusal",
        "dual-use over-refusal",
        "dual_use_over_refusal",
        "The daily share of legitimate dual-use requests refused, averaged over days.",
    ),
    _daily_mean(
        "cross_border_share",
        "cross-border share of service",
        "cross_border_share",
        "The daily share of served requests served from outside the requester's "
        "residence, averaged over days.",
    ),
    RunOutcome(
        "policy_leakage",
        "policy leakage",
        "share",
        "ratio of totals",
        ("prohibited_served", "prohibited_requests"),
        "prohibited at residence, served anyway",
        "Requests prohibited where their requester lives that were served / such requests "
        "emitted, over the run; NaN when none was emitted.",
    ),
    _daily_mean(
        "policy_leakage_daily_mean",
        "policy leakage (mean of days)",
        "policy_leakage",
        "The daily policy leakage averaged over the days it is defined.",
    ),
    _last("active_nodes", "active nodes", "count", "Nodes active at the end of the run."),
    _last(
        "permissive_node_share",
        "permissive node share",
        "share",
        "Share of the active nodes running a permissive model kind at the end of the run.",
    ),
    _total("takedowns", "takedowns", "count", "total", "Nodes taken down over the run."),
    _total(
        "relocations",
        "relocations",
        "count",
        "total",
        "Revising nodes that decided to move host, over the run.",
    ),
    _last(
        "treaty_links",
        "treaty links",
        "count",
        "Pairs of jurisdictions linked by at least one treaty at the end of the run.",
    ),
    _total("fines_usd", "fines", "USD", "total", "Fines imposed over the run."),
    _total(
        "enforcement_spend_usd",
        "enforcement spend",
        "USD",
        "total",
        "Audit spending of every jurisdiction over the run.",
    ),
)

#: Every run-level outcome by name.
OUTCOMES: dict[str, RunOutcome] = {o.name: o for o in _DEFINITIONS}

#: The rows of a run's summary (``dirisk run``, the explorer's headline), in order.
HEADLINE_OUTCOMES = (
    "requests_emitted",
    "requests_served",
    "harmful_completed",
    "harm_completion_rate",
    "malicious_success_share",
    "benign_over_refusal",
    "dual_use_over_refusal",
    "cross_border_share",
    "policy_leakage",
    "active_nodes",
    "takedowns",
    "fines_usd",
)

#: Outcomes of the policy-cost frontier and of scenario comparisons.
FRONTIER_OUTCOMES = (
    "harm_completion_rate",
    "harmful_completed",
    "malicious_success_share",
    "benign_over_refusal",
    "dual_use_over_refusal",
    "policy_leakage",
    "cross_border_share",
    "enforcement_spend_usd",
)

#: Outcomes a sweep summarises when its experiment names none.
SWEEP_DEFAULT_OUTCOMES = (
    "malicious_success_share",
    "harm_completion_rate",
    "benign_over_refusal",
    "dual_use_over_refusal",
    "policy_leakage",
    "harmful_completed",
    "enforcement_spend_usd",
    "permissive_node_share",
)


def outcome(name: str) -> RunOutcome:
    """The outcome called ``name`` (KeyError naming the known ones otherwise)."""
    try:
        return OUTCOMES[name]
    except KeyError:
        raise KeyError(f"no outcome {name!r}; expected one of {sorted(OUTCOMES)}") from None


def outcome_values(
    metrics: pd.DataFrame, names: Iterable[str], *, last: int | None = None
) -> dict[str, float]:
    """The named outcomes of one run from its metrics table."""
    return {name: outcome(name).value(metrics, last=last) for name in names}
