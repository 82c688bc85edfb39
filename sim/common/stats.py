"""Statistics reported to users: every interval and test dirisk shows, in one place.

Intervals are 95% Student's t intervals at the number of replications actually run
(``mean ± t(0.975, n − 1) × s / √n``): at 2 seeds the t quantile is 12.7, not the normal
1.96, so small replications show the uncertainty they have. Comparisons of two scenarios
are paired over common random numbers: the interval is that of the per-seed differences.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

__all__ = [
    "CONFIDENCE",
    "INTERVAL_METHOD",
    "PairedDifference",
    "band",
    "ci_columns",
    "mean_ci",
    "paired_difference",
    "t_quantile",
]

#: Confidence level of every interval dirisk reports.
CONFIDENCE = 0.95
#: How intervals are computed, as reported next to them.
INTERVAL_METHOD = "Student's t, 95%"


def t_quantile(n: int) -> float:
    """The two-sided 95% quantile of Student's t with ``n − 1`` degrees of freedom (NaN
    for fewer than 2 values)."""
    if n < 2:
        return float("nan")
    return float(stats.t.ppf(0.5 + CONFIDENCE / 2, n - 1))


def mean_ci(values: pd.Series | np.ndarray) -> tuple[float, float]:
    """Mean over replications and the half-width of its 95% confidence interval
    (Student's t at the number of values). NaN replications are left out; the half-width
    is NaN with one value (no spread to estimate) and both are NaN with none."""
    clean = pd.Series(values, dtype=float).dropna()
    if clean.empty:
        return float("nan"), float("nan")
    n = clean.size
    half = t_quantile(n) * clean.std(ddof=1) / np.sqrt(n) if n > 1 else float("nan")
    return float(clean.mean()), float(half)


def ci_columns(name: str, values: pd.Series) -> dict[str, float]:
    """``name``, ``name_ci_low`` and ``name_ci_high``: the mean of ``values`` over
    replications and its 95% confidence interval (see :func:`mean_ci`)."""
    mean, half = mean_ci(values)
    return {name: mean, f"{name}_ci_low": mean - half, f"{name}_ci_high": mean + half}


def band(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise mean and 95% half-width of ``values`` (rows: steps; columns: runs), for
    bands over time (Student's t at the number of runs; half-width NaN with one run)."""
    n = values.shape[1]
    mean = values.mean(axis=1)
    if n < 2:
        return mean, np.full(mean.shape, np.nan)
    return mean, t_quantile(n) * values.std(axis=1, ddof=1) / np.sqrt(n)


@dataclass(frozen=True)
class PairedDifference:
    """B − A over common random numbers: per-seed differences and their interval.

    Attributes:
        mean_a, mean_b: Means over the seeds where both values are defined.
        diff: Mean of the per-seed differences b − a.
        low, high: Its 95% confidence interval (Student's t; NaN below 2 pairs).
        n: Pairs used (seeds where both are defined).
        verdict: ``"B higher"``, ``"B lower"`` or ``"not distinguishable at n = N"``.
    """

    mean_a: float
    mean_b: float
    diff: float
    low: float
    high: float
    n: int
    verdict: str


def paired_difference(a: pd.Series | np.ndarray, b: pd.Series | np.ndarray) -> PairedDifference:
    """Compare paired replications (the same seeds, in the same order) of two scenarios.

    The verdict says "B higher" or "B lower" only when the interval of the difference
    excludes zero; otherwise the data cannot tell them apart at this number of seeds,
    which is not evidence of no effect.
    """
    frame = pd.DataFrame({"a": np.asarray(a, dtype=float), "b": np.asarray(b, dtype=float)})
    frame = frame.dropna()
    diff, half = mean_ci(frame["b"] - frame["a"])
    low, high = diff - half, diff + half
    n = len(frame)
    if n >= 2 and (low > 0 or high < 0):
        verdict = "B higher" if diff > 0 else "B lower"
    elif n >= 2 and half == 0 and diff == 0:
        verdict = f"identical at n = {n}"
    else:
        verdict = f"not distinguishable at n = {n}"
    return PairedDifference(
        mean_a=float(frame["a"].mean()) if n else float("nan"),
        mean_b=float(frame["b"].mean()) if n else float("nan"),
        diff=diff,
        low=low,
        high=high,
        n=n,
        verdict=verdict,
    )
