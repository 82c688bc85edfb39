"""The figure of a policy search (``dirisk optimize``): the Pareto policies in parallel
coordinates, one line per policy across its lever values and its objectives.

Levers are drawn on their bounds (the lowest value at the bottom); objectives on their
range over the Pareto policies, best at the bottom. Each axis is labelled with its
actual values at both ends. Lines are coloured by the first objective; with a
re-evaluation, policies that stay non-dominated over fresh futures are solid and the
others dashed.
"""

from __future__ import annotations

import html
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from sim.common.files import atomic_write_text
from sim.experiments.optimize import Lever, Objective, OptimizeResult, load_result
from sim.output.report import figure_section, html_page, save_figure
from sim.results.outcomes import OUTCOMES

__all__ = [
    "FIGURE_NAME",
    "axis_values",
    "lever_text",
    "make_optimize_report",
    "normalised_axes",
    "objective_text",
    "pareto_figure",
    "pareto_table",
    "reevaluation_table",
    "search_summary",
    "stays_non_dominated",
]

#: File name (without suffix) of the figure in the optimisation folder.
FIGURE_NAME = "pareto"
#: Background of the values at the axes' ends (they sit on the axis lines).
_LABEL_BOX = {"facecolor": "white", "edgecolor": "none", "pad": 1.0}


def axis_values(value: float, unit: str) -> str:
    """An axis-end value for people: shares as percentages, USD with a dollar sign and
    thousands separators, counts with separators, other numbers to 3 digits."""
    if unit == "bool":
        return "true" if value >= 0.5 else "false"
    if unit == "share":
        return f"{value:.1%}"
    if unit == "USD":
        return f"${value:,.0f}"
    if unit in ("count", "integer"):
        return f"{value:,.0f}"
    return f"{value:.3g}"


def _wrap(text: str, width: int = 16) -> str:
    return "\n".join(textwrap.wrap(text, width=width, break_long_words=False)) or text


def normalised_axes(result: OptimizeResult) -> tuple[pd.DataFrame, list[dict[str, str]]]:
    """The Pareto policies on [0, 1] per axis, and each axis's label and end values.

    Levers are scaled by their bounds (false 0, true 1). Objectives are scaled by their
    range over the policies with the best value at 0 (a minimised objective's lowest
    value, a maximised one's highest); a constant objective sits at 0.5.

    Returns:
        One row per policy, a column per axis (levers, then objectives); and per axis
        ``label``, ``bottom`` and ``top`` (values at the ends, as text).
    """
    pareto = result.pareto
    columns: dict[str, np.ndarray] = {}
    axes: list[dict[str, str]] = []
    for lever in result.levers.levers:
        values = pareto[lever.column].astype(float).to_numpy()
        columns[lever.column] = (values - lever.low) / (lever.high - lever.low)
        unit = "bool" if lever.type == "bool" else "integer" if lever.integer else ""
        axes.append(
            {
                "label": _wrap(lever.column.replace("_", " ")),
                "bottom": axis_values(lever.low, unit),
                "top": axis_values(lever.high, unit),
            }
        )
    for objective in result.objectives:
        values = pareto[objective.outcome].astype(float).to_numpy()
        best, worst = _ends(values, objective)
        span = worst - best
        scaled = (values - best) / span if span else np.full(len(values), 0.5)
        columns[objective.outcome] = scaled
        unit = OUTCOMES[objective.outcome].unit
        direction = "lower" if objective.direction == "min" else "higher"
        axes.append(
            {
                "label": _wrap(f"{OUTCOMES[objective.outcome].label} ({direction} is better)"),
                "bottom": axis_values(best, unit),
                "top": axis_values(worst, unit),
            }
        )
    return pd.DataFrame(columns, index=pareto.index), axes


def _ends(values: np.ndarray, objective: Objective) -> tuple[float, float]:
    """(best, worst) of an objective's values over the policies."""
    if not len(values):
        return 0.0, 1.0
    low, high = float(np.nanmin(values)), float(np.nanmax(values))
    return (low, high) if objective.direction == "min" else (high, low)


def pareto_figure(result: OptimizeResult | str | Path, out: Path | None = None) -> list[Path]:
    """Draw the Pareto policies in parallel coordinates as ``pareto.png`` and
    ``pareto.svg``.

    Args:
        result: A finished optimisation, or its folder.
        out: Folder of the figure (default: the optimisation folder).

    Returns:
        The PNG and SVG files written.
    """
    if not isinstance(result, OptimizeResult):
        result = load_result(result)
    out = Path(out or result.folder)
    scaled, axes = normalised_axes(result)
    n_axes, n_levers = len(axes), len(result.levers.levers)
    fig = Figure(figsize=(max(8.0, 1.35 * n_axes + 2.0), 5.6))
    ax = fig.subplots()
    first = result.objectives[0]
    values = result.pareto[first.outcome].astype(float)
    colours = colormaps["viridis_r" if first.direction == "min" else "viridis"]
    low, high = float(values.min()), float(values.max())
    norm = Normalize(low, high) if high > low else Normalize(low - 0.5, high + 0.5)
    robust = stays_non_dominated(result)
    x = np.arange(n_axes)
    for position, (index, row) in enumerate(scaled.iterrows()):
        stays = robust is None or bool(robust.iloc[position])
        ax.plot(
            x,
            row.to_numpy(dtype=float),
            color=colours(norm(values.loc[index])),
            linestyle="-" if stays else "--",
            linewidth=1.6 if stays else 1.0,
            alpha=0.9 if stays else 0.6,
            marker="o",
            markersize=3,
        )
    ax.axvspan(n_levers - 0.5, n_axes - 0.5, color="#999999", alpha=0.12, linewidth=0)
    for k, axis in enumerate(axes):
        ax.axvline(k, color="black", linewidth=0.8)
        ax.text(k, -0.05, axis["bottom"], ha="center", va="top", fontsize=8, bbox=_LABEL_BOX)
        ax.text(k, 1.05, axis["top"], ha="center", va="bottom", fontsize=8, bbox=_LABEL_BOX)
    ax.text((n_levers - 1) / 2, 1.16, "levers", ha="center", fontsize=9, weight="bold")
    ax.text(
        n_levers + (n_axes - n_levers - 1) / 2,
        1.16,
        "objectives",
        ha="center",
        fontsize=9,
        weight="bold",
    )
    ax.set_xlim(-0.5, n_axes - 0.5)
    ax.set_ylim(-0.15, 1.22)
    ax.set_xticks(x, [a["label"] for a in axes], fontsize=8)
    ax.set_yticks([])
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.set_ylabel(
        "levers: bounds, lowest at the bottom\nobjectives: range over the policies, best "
        "at the bottom",
        fontsize=8,
    )
    mappable = ScalarMappable(norm=norm, cmap=colours)
    mappable.set_array([])
    bar = fig.colorbar(mappable, ax=ax, fraction=0.03, pad=0.02, label=first.label)
    bar.ax.tick_params(labelsize=8)
    if robust is not None:
        fresh = result.settings.get("reevaluate")
        ax.legend(
            handles=[
                Line2D([], [], color="black", linestyle="-", label="non-dominated"),
                Line2D([], [], color="black", linestyle="--", linewidth=1.0, label="dominated"),
            ],
            title=f"over {fresh} fresh futures",
            title_fontsize=8,
            fontsize=8,
            loc="upper left",
            bbox_to_anchor=(1.12, 1.0),
            frameon=False,
        )
    settings = result.settings
    title = (
        f"{settings.get('base_name', 'policy search')}: {len(result.pareto)} Pareto-optimal "
        f"policies, {settings.get('statistic', 'mean')} over {settings.get('futures')} futures"
    )
    if robust is not None:
        title += f"; {int(robust.sum())} stay non-dominated over fresh futures"
    save_figure(fig, title, FIGURE_NAME, out)
    return [out / f"{FIGURE_NAME}.png", out / f"{FIGURE_NAME}.svg"]


def stays_non_dominated(result: OptimizeResult) -> pd.Series | None:
    """Per Pareto policy (in order, indexed from 0), whether it stays non-dominated over
    fresh futures (a policy the re-evaluation lacks counts as staying); None without a
    re-evaluation."""
    table = result.reevaluation
    if table is None or table.empty:
        return None
    verdict = table.set_index("policy")["non_dominated"].astype(bool)
    return verdict.reindex(result.pareto["policy"]).fillna(True).reset_index(drop=True)


def lever_text(lever: Lever, value: object) -> str:
    """A lever's value for people: yes/no for a switch, whole numbers for an integer
    lever, three significant digits otherwise."""
    if lever.type == "bool":
        return "yes" if str(value).lower() in ("true", "1", "1.0") else "no"
    return f"{float(value):,.0f}" if lever.integer else f"{float(value):.3g}"


def objective_text(objective: Objective, value: float) -> str:
    """An objective's value in its unit (shares as percentages, USD with a sign)."""
    return axis_values(float(value), OUTCOMES[objective.outcome].unit)


def pareto_table(result: OptimizeResult) -> pd.DataFrame:
    """The Pareto policies for reading: levers and objectives formatted, and whether each
    stays non-dominated over fresh futures (with a re-evaluation)."""
    pareto = result.pareto
    table = pd.DataFrame({"policy": pareto["policy"].astype(int)})
    for lever in result.levers.levers:
        table[lever.column] = [lever_text(lever, v) for v in pareto[lever.column]]
    for objective in result.objectives:
        table[OUTCOMES[objective.outcome].label] = [
            objective_text(objective, v) for v in pareto[objective.outcome]
        ]
    stays = stays_non_dominated(result)
    if stays is not None:
        table["over fresh futures"] = np.where(stays, "non-dominated", "dominated")
    return table


def reevaluation_table(result: OptimizeResult) -> pd.DataFrame:
    """Each Pareto policy's objectives over the search's futures and over fresh ones."""
    table = pd.DataFrame({"policy": result.reevaluation["policy"].astype(int)})
    for objective in result.objectives:
        label = OUTCOMES[objective.outcome].label
        for suffix, heading in (("", "search futures"), ("_reevaluated", "fresh futures")):
            table[f"{label}, {heading}"] = [
                objective_text(objective, v)
                for v in result.reevaluation[f"{objective.outcome}{suffix}"]
            ]
    table["rank over fresh futures"] = result.reevaluation["rank_reevaluated"].astype(int)
    return table


def search_summary(result: OptimizeResult) -> str:
    """One paragraph on how the search was made: algorithm, candidates, generations, the
    statistic over how many futures, the seed and the objectives."""
    settings = result.settings
    objectives = ", ".join(
        f"{OUTCOMES[o.outcome].label} ({o.direction})" for o in result.objectives
    )
    return (
        f"{settings.get('algorithm', 'NSGA')} over {len(result.history)} candidates in "
        f"{result.history['generation'].nunique()} generations; each scored by its "
        f"{settings.get('statistic', 'mean')} over {settings.get('futures')} futures of "
        f"{settings.get('uncertain_parameters', '?')} uncertain parameters (seed "
        f"{settings.get('seed')}). Objectives: {objectives}."
    )


def make_optimize_report(root: Path, out: Path) -> Path:
    """Write report.html for an optimisation folder (``dirisk report OPT_DIR``): the
    search's settings, the parallel-coordinates figure, the Pareto policies and their
    re-evaluation over fresh futures."""
    result = load_result(root)
    out.mkdir(parents=True, exist_ok=True)
    png = pareto_figure(result, out)[0].name
    settings = result.settings
    levers = ", ".join(
        lever.column
        + (" (a switch)" if lever.type == "bool" else f" ({lever.low:g} to {lever.high:g})")
        for lever in result.levers.levers
    )
    body = (
        f"<p>{html.escape(str(settings.get('base_name', '')))}, levers {html.escape(levers)}: "
        f"{html.escape(search_summary(result))}</p>"
        + figure_section("Pareto-optimal policies", png, out)
        + "<h2>The policies</h2>"
        + pareto_table(result).to_html(index=False)
        + "<p>Each is a scenario file: <code>policies/policy_&lt;k&gt;.yaml</code>.</p>"
    )
    stays = stays_non_dominated(result)
    if stays is not None:
        body += (
            f"<h2>Across {settings.get('reevaluate')} fresh futures</h2><p>{int(stays.sum())} "
            f"of {len(stays)} policies stay non-dominated.</p>"
            + reevaluation_table(result).to_html(index=False)
        )
    path = out / "report.html"
    title = f"dirisk policy search: {settings.get('base_name', root.name)}"
    atomic_write_text(path, html_page(title, body))
    return path
