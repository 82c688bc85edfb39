"""Global sensitivity of a sweep's outcomes to its factors (SALib).

A Saltelli design gives Sobol indices: ``S1`` (first order, the share of the outcome's
variance explained by the factor alone) and ``ST`` (total, including its interactions),
both unitless shares of variance with 95% confidence half-widths (``_conf``, bootstrap).
A Morris design gives elementary effects: ``mu`` (mean effect, sign kept), ``mu_star``
(mean absolute effect, with its 95% half-width ``mu_star_conf``) and ``sigma`` (their
spread: non-linearity or interactions). An elementary effect is the outcome's change over
one Morris step divided by the step as a share of the factor's range: outcome units per
the factor's full range.

``dirisk sensitivity SWEEP_DIR`` writes ``sensitivity.csv``/``.parquet`` in the sweep
folder and the figures into ``SWEEP_DIR/sensitivity/``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from SALib.analyze import morris, sobol

from sim.common.files import atomic_write, atomic_write_text

__all__ = ["COLUMNS", "SensitivityError", "analyze", "index_warnings", "indices"]

#: Columns of the indices table per design kind (after ``factor``).
COLUMNS: dict[str, tuple[str, ...]] = {
    "saltelli": ("S1", "S1_conf", "ST", "ST_conf"),
    "morris": ("mu", "mu_star", "mu_star_conf", "sigma"),
}


class SensitivityError(ValueError):
    """The sweep cannot give sensitivity indices (wrong design, failed or missing runs)."""


def _check_kind(kind: str) -> None:
    if kind not in COLUMNS:
        raise SensitivityError(
            f"sensitivity needs a saltelli or morris design; this sweep is {kind}: "
            "use dirisk summarize / discover"
        )


def indices(
    problem: dict[str, Any],
    kind: str,
    design: pd.DataFrame,
    y: np.ndarray,
    *,
    second_order: bool = False,
    num_levels: int = 4,
    seed: int = 0,
) -> pd.DataFrame:
    """Sensitivity indices of one outcome, one row per factor.

    Args:
        problem: The SALib problem (``sim.experiments.design.salib_problem``).
        kind: The design kind, ``saltelli`` (Sobol indices) or ``morris``.
        design: The design points in SALib's order (a column per factor).
        y: The outcome at each design point.
        second_order: The Saltelli design includes the second-order points.
        num_levels: The Morris design's grid levels.
        seed: Seed of the bootstrap confidence intervals.

    Returns:
        ``factor`` then ``S1``, ``S1_conf``, ``ST``, ``ST_conf`` (saltelli) or ``mu``,
        ``mu_star``, ``mu_star_conf``, ``sigma`` (morris); see the module docs.

    Raises:
        SensitivityError: another design kind, a NaN outcome, or ``y`` and the design
            differ in length.
    """
    _check_kind(kind)
    y = np.asarray(y, dtype=float)
    if len(y) != len(design):
        raise SensitivityError(
            f"the outcome has {len(y)} values but the design {len(design)} points "
            "(an incomplete sweep: rerun it to finish)"
        )
    missing = np.flatnonzero(np.isnan(y))
    if len(missing):
        raise SensitivityError(
            f"{len(missing)} of {len(y)} design points have no outcome value (failed runs "
            f"or an undefined metric), e.g. points {missing[:5].tolist()}; "
            "sensitivity needs every point"
        )
    if kind == "saltelli":
        if np.ptp(y) == 0:
            raise SensitivityError(
                f"the outcome is {y[0]:g} at every design point: its Sobol indices are "
                "undefined (choose other outcomes)"
            )
        result = sobol.analyze(problem, y, calc_second_order=second_order, seed=seed)
    else:
        x = design[problem["names"]].to_numpy(dtype=float)
        result = morris.analyze(problem, x, y, num_levels=num_levels, seed=seed)
    table = pd.DataFrame({name: np.asarray(result[name], dtype=float) for name in COLUMNS[kind]})
    table.insert(0, "factor", list(problem["names"]))
    return table


def analyze(
    root: str | Path, outcomes: list[str] | None = None, *, write: bool = True
) -> pd.DataFrame:
    """Sensitivity indices of a Saltelli or Morris sweep's outcomes.

    Each outcome is averaged over the successful replications of each design point
    (failed runs left out), then analysed with :func:`indices`.

    Args:
        root: The sweep folder.
        outcomes: Outcome columns to analyse (default: every outcome of the sweep).
        write: Also save ``sensitivity.csv`` and ``sensitivity.parquet`` in the folder.

    Returns:
        One row per outcome and factor: ``outcome``, ``factor`` and the indices.

    Raises:
        SensitivityError: not a sweep folder, another design kind, an unknown outcome,
            or a design point without a successful run.
    """
    from sim.experiments.design import salib_problem
    from sim.experiments.folder import SweepError, SweepFolder, read_parts

    folder = SweepFolder(root)
    try:
        manifest = folder.manifest()
    except SweepError as exc:
        raise SensitivityError(str(exc)) from None
    kind = manifest["design"]
    _check_kind(kind)
    known = list(manifest["outcomes"])
    chosen = list(outcomes) if outcomes else known
    unknown = [name for name in chosen if name not in known]
    if unknown:
        raise SensitivityError(f"unknown outcome(s) {unknown}; this sweep has {known}")
    experiment = folder.experiment()
    design = folder.design()
    runs = read_parts(root)
    ok = runs[runs["status"] == "ok"]
    means = ok.groupby("point")[chosen].mean().reindex(design["point"])
    empty = means.index[~means.index.isin(ok["point"])].tolist()
    if empty:
        raise SensitivityError(
            f"{len(empty)} of {len(design)} design points have no successful run "
            f"(e.g. points {empty[:5]}): finish the sweep (dirisk sweep --resume "
            f"--retry-failed --out {root})"
        )
    problem = salib_problem(experiment.factors)
    seed = experiment.design_seed
    parts = []
    for name in chosen:
        try:
            part = indices(
                problem,
                kind,
                design,
                means[name].to_numpy(),
                second_order=experiment.design.second_order,
                num_levels=experiment.design.levels,
                seed=seed,
            )
        except SensitivityError as exc:
            raise SensitivityError(f"{name}: {exc}") from None
        part.insert(0, "outcome", name)
        parts.append(part)
    table = pd.concat(parts, ignore_index=True)
    if write:
        root = Path(root)
        atomic_write(root / "sensitivity.parquet", lambda p: table.to_parquet(p, index=False))
        atomic_write_text(root / "sensitivity.csv", table.to_csv(index=False))
    return table


def index_warnings(table: pd.DataFrame) -> list[str]:
    """Plain warnings about indices a reader should not trust: Sobol indices outside
    [0, 1] (impossible for variance shares: the sample is too small), and indices whose
    95% interval is wider than the index itself (the sign or ranking may be noise).

    Args:
        table: Indices from :func:`analyze` (with ``outcome``) or :func:`indices`.
    """
    out = []
    for row in table.itertuples(index=False):
        where = f"{getattr(row, 'outcome', 'outcome')}, {row.factor}"
        if "S1" in table.columns:
            for name in ("S1", "ST"):
                value, conf = getattr(row, name), getattr(row, f"{name}_conf")
                if not 0 <= value <= 1:
                    out.append(
                        f"{where}: {name} = {value:.3g} is outside [0, 1], impossible for a "
                        "share of variance: the sample is too small (raise design.samples)"
                    )
                elif conf > abs(value):
                    out.append(
                        f"{where}: {name} = {value:.3g} ± {conf:.2g}: the interval is wider "
                        "than the index (raise design.samples or replications)"
                    )
        elif row.mu_star_conf > row.mu_star:
            out.append(
                f"{where}: mu* = {row.mu_star:.3g} ± {row.mu_star_conf:.2g}: the interval is "
                "wider than the index (raise design.samples)"
            )
    return out
