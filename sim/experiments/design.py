"""Design points of an experiment: a full grid, a Latin hypercube, or the Saltelli and
Morris samples of SALib, as a table with one row per point and one column per factor."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pandas as pd
from SALib.sample import latin, morris, sobol

from sim.experiments.experiment import Experiment, Factor, cast_value

__all__ = ["design_points", "grid_values", "salib_problem"]


def salib_problem(factors: list[Factor]) -> dict[str, Any]:
    """The SALib problem of the range factors (names and bounds)."""
    return {
        "num_vars": len(factors),
        "names": [f.name for f in factors],
        "bounds": [list(f.range) for f in factors if f.range is not None],
    }


def grid_values(factor: Factor, levels: int) -> list[Any]:
    """A factor's settings in a grid: its list, or ``levels`` evenly spaced values over
    its range (distinct whole numbers for an integer factor)."""
    if factor.values is not None:
        return [cast_value(factor, v) for v in factor.values]
    low, high = factor.range  # type: ignore[misc]
    values = [cast_value(factor, v) for v in np.linspace(low, high, levels)]
    return list(dict.fromkeys(values))


def design_points(experiment: Experiment) -> pd.DataFrame:
    """The experiment's design: column ``point`` (0, 1, ...) and one column per factor
    (per uncertain parameter's path, for an experiment of futures).

    The same experiment always gives the same points (SALib samplers are seeded with
    ``design.seed``, default the experiment's seed). Saltelli and Morris points come in
    the order their SALib analysers expect.
    """
    if experiment.futures is not None:
        table = pd.DataFrame(experiment.futures)
        table.insert(0, "point", np.arange(len(table), dtype="int64"))
        return table
    design, factors = experiment.design, experiment.factors
    seed = experiment.design_seed
    names = [f.name for f in factors]
    if design.kind == "grid":
        rows = list(itertools.product(*(grid_values(f, design.levels) for f in factors)))
        table = pd.DataFrame(rows, columns=names)
    else:
        problem = salib_problem(factors)
        if design.kind == "lhs":
            sample = latin.sample(problem, design.samples, seed=seed)
        elif design.kind == "saltelli":
            sample = sobol.sample(
                problem, design.samples, calc_second_order=design.second_order, seed=seed
            )
        else:
            sample = morris.sample(problem, design.samples, num_levels=design.levels, seed=seed)
        table = pd.DataFrame(sample, columns=names)
        for factor in factors:
            if factor.integer:
                table[factor.name] = table[factor.name].round().astype("int64")
    table.insert(0, "point", np.arange(len(table), dtype="int64"))
    return table
