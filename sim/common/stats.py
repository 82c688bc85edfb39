"""Statistics reported to users: every interval and test in one place."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["Z95", "ci_columns", "mean_ci"]

#: Two-sided 95% normal quantile.
Z95 = 1.959963984540054


def mean_ci(values: pd.Series) -> tuple[float, float]:
    """Mean over replications and the half-width of its 95% confidence interval (normal
    approximation; 0 with one value, NaN with none). NaN replications are left out."""
    clean = values.dropna()
    if clean.empty:
        return float("nan"), float("nan")
    half = Z95 * clean.std(ddof=1) / np.sqrt(clean.size) if clean.size > 1 else 0.0
    return float(clean.mean()), float(half)


def ci_columns(name: str, values: pd.Series) -> dict[str, float]:
    """``name``, ``name_ci_low`` and ``name_ci_high``: the mean of ``values`` over
    replications and its 95% confidence interval (see :func:`mean_ci`)."""
    mean, half = mean_ci(values)
    return {name: mean, f"{name}_ci_low": mean - half, f"{name}_ci_high": mean + half}
