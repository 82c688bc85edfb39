"""Scenario discovery: where in the factor space an outcome crosses a threshold.

The cases are a sweep's successful runs; a run is a *case of interest* when its outcome is
above (or below) the threshold. A *box* is a range per factor; its ``coverage`` is the
share of all cases of interest that fall in it, its ``density`` the share of the runs in it
that are cases of interest, and ``runs`` how many runs it holds.

- ``tree``: a shallow decision tree (scikit-learn); every leaf where cases of interest are
  the majority is a box, bounded by the tree's thresholds.
- ``prim``: the Patient Rule Induction Method (ema_workbench, ``pip install
  "dirisk[ema]"``): one box peeled from the whole space, taken from its peeling
  trajectory where the density first reaches the threshold (or at the trade-off's knee).

``dirisk discover SWEEP_DIR --outcome NAME --above X`` writes ``discovery.csv`` in the
sweep folder.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.common.files import atomic_write_text

__all__ = ["DiscoveryError", "METHODS", "boxes_prim", "boxes_tree", "discover"]

METHODS = ("tree", "prim")


class DiscoveryError(ValueError):
    """Scenario discovery cannot run on these inputs."""


def _number(value: float) -> str:
    return f"{value:.4g}"


def _rule(limits: dict[str, tuple[float | None, float | None]], strict_low: bool) -> str:
    """A box as text, e.g. ``audit_rate <= 0.05 and vpn_use > 0.42``; ``None`` marks an
    unrestricted side; lower limits are exclusive when ``strict_low``."""
    low_op = "<" if strict_low else "<="
    terms = []
    for name, (low, high) in limits.items():
        if low is not None and high is not None:
            terms.append(f"{_number(low)} {low_op} {name} <= {_number(high)}")
        elif high is not None:
            terms.append(f"{name} <= {_number(high)}")
        elif low is not None:
            terms.append(f"{name} {'>' if strict_low else '>='} {_number(low)}")
    return " and ".join(terms) or "all runs"


def _table(rows: list[dict[str, object]], factors: list[str]) -> pd.DataFrame:
    """Boxes as a table: ``box`` (1 = most coverage), ``rule``, ``coverage``, ``density``,
    ``runs`` and ``<factor>_low``/``<factor>_high`` per factor."""
    columns = ["box", "rule", "coverage", "density", "runs"] + [
        f"{name}_{side}" for name in factors for side in ("low", "high")
    ]
    table = pd.DataFrame(rows, columns=columns[1:])
    table = table.sort_values(["coverage", "density"], ascending=False, ignore_index=True)
    table.insert(0, "box", np.arange(1, len(table) + 1, dtype="int64"))
    return table


def _leaves(tree: Any, node: int = 0) -> Iterator[tuple[int, list[tuple[int, float, bool]]]]:
    """Each leaf of a fitted scikit-learn tree with its path: (feature, threshold, upper)
    steps, ``upper`` meaning ``x <= threshold``."""
    left, right = tree.children_left[node], tree.children_right[node]
    if left == -1:
        yield node, []
        return
    feature, threshold = int(tree.feature[node]), float(tree.threshold[node])
    for child, upper in ((left, True), (right, False)):
        for leaf, path in _leaves(tree, child):
            yield leaf, [(feature, threshold, upper), *path]


def boxes_tree(
    x: pd.DataFrame, y: np.ndarray, *, max_depth: int = 3, min_share: float = 0.05
) -> pd.DataFrame:
    """Boxes from a decision tree: one per leaf where cases of interest are the majority.

    Args:
        x: Factor values, one row per run (numeric columns).
        y: True where the run is a case of interest.
        max_depth: Depth of the tree (a box restricts at most this many times).
        min_share: Smallest leaf, as a share of the runs.

    Returns:
        The boxes (see :func:`_table`); a lower limit taken from the tree is exclusive
        (the rule says ``>``), an upper one inclusive; unrestricted sides are the data's
        range.
    """
    from sklearn.tree import DecisionTreeClassifier

    y = np.asarray(y, dtype=bool)
    names = list(x.columns)
    model = DecisionTreeClassifier(
        max_depth=max_depth, min_samples_leaf=max(1, int(min_share * len(y))), random_state=0
    ).fit(x.to_numpy(dtype=float), y)
    leaf_of = model.apply(x.to_numpy(dtype=float))
    total = int(y.sum())
    rows = []
    for leaf, path in _leaves(model.tree_):
        if not model.classes_[np.argmax(model.tree_.value[leaf][0])]:
            continue
        limits: dict[str, tuple[float | None, float | None]] = {}
        for feature, threshold, upper in path:
            low, high = limits.get(names[feature], (None, None))
            if upper:
                high = threshold if high is None else min(high, threshold)
            else:
                low = threshold if low is None else max(low, threshold)
            limits[names[feature]] = (low, high)
        inside = leaf_of == leaf
        cases = int(y[inside].sum())
        row: dict[str, object] = {
            "rule": _rule({n: limits[n] for n in names if n in limits}, strict_low=True),
            "coverage": cases / total,
            "density": cases / int(inside.sum()),
            "runs": int(inside.sum()),
        }
        for name in names:
            low, high = limits.get(name, (None, None))
            row[f"{name}_low"] = float(x[name].min()) if low is None else low
            row[f"{name}_high"] = float(x[name].max()) if high is None else high
        rows.append(row)
    return _table(rows, names)


def boxes_prim(
    x: pd.DataFrame, y: np.ndarray, *, threshold: float = 0.8, min_share: float = 0.05
) -> pd.DataFrame:
    """One PRIM box: on the peeling trajectory, the box of most coverage among those with
    density >= ``threshold``, or if none reaches it the knee of the trade-off (the box
    nearest to coverage 1 and density 1).

    Args:
        x: Factor values, one row per run (numeric columns).
        y: True where the run is a case of interest.
        threshold: The density a box should reach (share of its runs).
        min_share: Smallest box, as a share of the runs (PRIM's ``mass_min``).

    Returns:
        The box (see :func:`_table`); its limits are inclusive.

    Raises:
        DiscoveryError: ema_workbench is not installed.
    """
    y = np.asarray(y, dtype=int)
    names = list(x.columns)
    with warnings.catch_warnings():
        # Its deprecations and the optional back-ends it does not find are not ours.
        warnings.filterwarnings("ignore", module="ema_workbench")
        try:
            from ema_workbench.analysis.prim import Prim
        except ImportError:
            raise DiscoveryError(
                'the prim method needs ema_workbench: pip install "dirisk[ema]"'
            ) from None
        # ema_workbench keeps the peeled box only if its last (densest) box reaches
        # Prim's threshold; a tiny one keeps the whole trajectory (cases of interest are
        # still y == 1) and the box is chosen here. The factors go in as floats:
        # ema_workbench 2.5.3 writes limits halfway between two values (1.5) into the
        # columns' own dtype, which pandas 3 refuses for an int64 column.
        cases = x.reset_index(drop=True).astype(float)
        box = Prim(cases, y, threshold=1e-9, mass_min=min_share).find_box()
    trajectory = box.peeling_trajectory
    dense = trajectory[trajectory["density"] >= threshold]
    if len(dense):
        chosen = int(dense.sort_values(["coverage", "density"]).index[-1])
    else:
        # The knee of the trade-off: the box nearest to full coverage and full density.
        gap = (1 - trajectory["coverage"]) ** 2 + (1 - trajectory["density"]) ** 2
        chosen = int(gap.astype(float).idxmin())
    lims = box.box_lims[chosen]
    limits: dict[str, tuple[float | None, float | None]] = {}
    row: dict[str, object] = {}
    for name in names:
        data_low, data_high = float(x[name].min()), float(x[name].max())
        low, high = (
            (float(lims[name].iloc[0]), float(lims[name].iloc[1]))
            if name in lims
            else (data_low, data_high)
        )
        row[f"{name}_low"], row[f"{name}_high"] = low, high
        if low > data_low or high < data_high:
            limits[name] = (low if low > data_low else None, high if high < data_high else None)
    step = trajectory.loc[chosen]
    row.update(
        rule=_rule(limits, strict_low=False),
        coverage=float(step["coverage"]),
        density=float(step["density"]),
        runs=int(step["n"]),
    )
    return _table([row], names)


def discover(
    root: str | Path,
    outcome: str,
    *,
    above: float | None = None,
    below: float | None = None,
    method: str = "tree",
    max_depth: int = 3,
    min_share: float = 0.05,
    write: bool = True,
) -> pd.DataFrame:
    """Boxes of the factor space where a sweep's outcome is above (or below) a threshold.

    Args:
        root: The sweep folder.
        outcome: An outcome column of the sweep.
        above, below: The threshold (give exactly one): runs with the outcome strictly
            above (below) it are the cases of interest.
        method: ``tree`` or ``prim`` (see the module docs).
        max_depth: Depth of the tree (``tree``).
        min_share: Smallest box, as a share of the runs.
        write: Also save ``discovery.csv`` in the sweep folder.

    Returns:
        One row per box (see :func:`_table`); ``attrs`` hold ``runs`` (successful runs
        with a value), ``cases`` (cases of interest) and ``condition`` (as text).

    Raises:
        DiscoveryError: bad arguments, not a sweep folder, an unknown outcome, or no
            (or only) cases of interest.
    """
    from sim.experiments.folder import SweepError, SweepFolder, read_parts

    if (above is None) == (below is None):
        raise DiscoveryError("give exactly one threshold: above or below (--above or --below)")
    if method not in METHODS:
        raise DiscoveryError(f"unknown method {method!r}; expected one of {list(METHODS)}")
    try:
        manifest = SweepFolder(root).manifest()
    except SweepError as exc:
        raise DiscoveryError(str(exc)) from None
    if outcome not in manifest["outcomes"]:
        raise DiscoveryError(
            f"unknown outcome {outcome!r}; this sweep has {list(manifest['outcomes'])}"
        )
    factors = list(manifest["factors"])
    runs = read_parts(root)
    runs = runs[(runs["status"] == "ok") & runs[outcome].notna()]
    x = runs[factors].reset_index(drop=True)
    text = [name for name in factors if not pd.api.types.is_numeric_dtype(x[name])]
    if text:
        raise DiscoveryError(f"discovery needs numeric factors; {text} are not")
    value = runs[outcome].to_numpy(dtype=float)
    y = value > above if above is not None else value < below
    condition = f"{outcome} > {above:g}" if above is not None else f"{outcome} < {below:g}"
    cases = int(y.sum())
    if not len(y):
        raise DiscoveryError(f"{root}: no successful run has a value of {outcome}")
    if cases in (0, len(y)):
        raise DiscoveryError(
            f"{'every' if cases else 'no'} successful run has {condition} ({len(y)} runs, "
            f"{outcome} from {value.min():.4g} to {value.max():.4g}): choose a threshold "
            "inside that range"
        )
    if method == "tree":
        table = boxes_tree(x, y, max_depth=max_depth, min_share=min_share)
    else:
        table = boxes_prim(x, y, min_share=min_share)
    if write:
        atomic_write_text(Path(root) / "discovery.csv", table.to_csv(index=False))
    table.attrs.update(runs=len(y), cases=cases, condition=condition)
    return table
