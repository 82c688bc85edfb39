"""Report of a sweep: ``dirisk report SWEEP_DIR [--out DIR]``.

``report.html`` (figures embedded, PNG and SVG beside it) with the experiment, the run
counts and failures, heatmaps of each outcome over two factors, each outcome's main
effects, the harm vs over-refusal frontier over design points and, for Saltelli and
Morris designs, the sensitivity indices.
"""

from __future__ import annotations

import html
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from sim.analysis.query import first_match, heatmap, is_number, summarize
from sim.common.files import atomic_write_text
from sim.experiments.folder import SweepError, SweepFolder, read_parts
from sim.output.report import STYLES, ReportError, figure_section, html_page, save_figure

__all__ = [
    "MAX_OUTCOMES",
    "frontier_figure",
    "heatmap_figure",
    "main_effects_figure",
    "make_sweep_report",
    "sensitivity_figure",
]

#: Most outcomes drawn in the heatmap and main-effect figures.
MAX_OUTCOMES = 6


def _grid(n: int, width: float = 5.0, height: float = 4.0) -> tuple[plt.Figure, np.ndarray]:
    """A figure with ``n`` panels, up to three per row."""
    cols = min(n, 3)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False)
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    return fig, axes.ravel()


def heatmap_figure(root: Path, name: str, outcomes: list[str], x: str, y: str, out: Path) -> str:
    """Each outcome's mean per (x, y) cell, across replications and other factors."""
    fig, axes = _grid(len(outcomes))
    for ax, outcome in zip(axes, outcomes, strict=False):
        cells = heatmap(root, outcome, x, y)
        grid = cells.pivot_table(index=["y_order", "y"], columns=["x_order", "x"], values="value")
        image = ax.imshow(grid.to_numpy(), cmap="cividis", origin="lower", aspect="auto")
        ax.set_xticks(range(grid.shape[1]), [c[1] for c in grid.columns], rotation=45, ha="right")
        ax.set_yticks(range(grid.shape[0]), [i[1] for i in grid.index])
        ax.set_xlabel(x)
        ax.set_ylabel(y)
        ax.set_title(outcome, fontsize=9)
        middle = np.nanmean(grid.to_numpy()) if np.isfinite(grid.to_numpy()).any() else 0
        for (i, j), value in np.ndenumerate(grid.to_numpy()):
            if np.isfinite(value):
                colour = "white" if value < middle else "black"
                ax.text(j, i, f"{value:.3g}", ha="center", va="center", fontsize=7, color=colour)
        fig.colorbar(image, ax=ax, label=f"mean {outcome}")
    return save_figure(
        fig,
        f"{name}: outcomes over {x} and {y} (mean across replications and other factors)",
        "sweep_heatmaps",
        out,
    )


def main_effects_figure(
    summary: pd.DataFrame, name: str, outcomes: list[str], factors: list[str], out: Path
) -> str:
    """Each outcome against each factor: the mean over design points sharing a setting
    (or a decile of a continuous factor), with the range of those points' CIs."""
    size = (3.6 * len(factors), 2.8 * len(outcomes))
    fig, axes = plt.subplots(len(outcomes), len(factors), figsize=size, squeeze=False)
    for row, outcome in zip(axes, outcomes, strict=True):
        for ax, factor, style in zip(row, factors, STYLES * len(factors), strict=False):
            values = summary[factor]
            numeric = is_number(values)
            many = numeric and values.nunique() > 10
            key = pd.qcut(values, 10, duplicates="drop") if many else values
            groups = summary.groupby(key, observed=True, sort=True)
            mean = groups[outcome].mean()
            low = groups[f"{outcome}_ci_low"].mean()
            high = groups[f"{outcome}_ci_high"].mean()
            xs = [g.mid for g in mean.index] if many else list(mean.index)
            positions = xs if numeric else range(len(xs))
            ax.plot(positions, mean.to_numpy(), **style, linewidth=1.2, markersize=4)
            ax.fill_between(positions, low, high, color=style["color"], alpha=0.2, linewidth=0)
            if not numeric:
                ax.set_xticks(list(positions), [str(v) for v in xs], rotation=30, ha="right")
            ax.set_xlabel(factor, fontsize=8)
            ax.grid(alpha=0.3)
        row[0].set_ylabel(outcome, fontsize=8)
    return save_figure(
        fig,
        f"{name}: main effects (mean over design points; band: mean 95% CI)",
        "sweep_main_effects",
        out,
    )


def frontier_figure(
    summary: pd.DataFrame, name: str, harm: str, refusal: str, factor: str, out: Path
) -> str:
    """Harm against over-refusal, one point per design point, with 95% CIs, shaded by a
    factor."""
    fig, ax = plt.subplots(figsize=(7, 5))
    ax.errorbar(
        summary[refusal],
        summary[harm],
        xerr=(summary[refusal] - summary[f"{refusal}_ci_low"]).abs(),
        yerr=(summary[harm] - summary[f"{harm}_ci_low"]).abs(),
        fmt="none",
        ecolor="#999999",
        elinewidth=0.8,
    )
    shade = pd.to_numeric(summary[factor], errors="coerce")
    points = ax.scatter(
        summary[refusal],
        summary[harm],
        c=shade if shade.notna().all() else None,
        cmap="cividis",
        edgecolors="black",
        linewidths=0.5,
        s=30,
    )
    if shade.notna().all():
        fig.colorbar(points, ax=ax, label=factor)
    ax.set_xlabel(f"{refusal} (over-refusal of legitimate users)")
    ax.set_ylabel(f"{harm} (harm)")
    ax.grid(alpha=0.3)
    return save_figure(
        fig, f"{name}: harm vs over-refusal, one point per design point", "sweep_frontier", out
    )


def make_sweep_report(root: Path, out: Path) -> Path:
    """Write report.html and its figures for the sweep folder ``root`` into ``out``.

    Raises:
        ReportError: ``root`` is not a sweep folder or has no successful run.

    Returns:
        The path of report.html.
    """
    try:
        manifest = SweepFolder(root).manifest()
        summary = summarize(root, write=False)
    except SweepError as exc:
        raise ReportError(str(exc)) from None
    name, factors = manifest["experiment_name"], list(manifest["factors"])
    outcomes = [o for o in manifest["outcomes"] if summary[o].notna().any()][:MAX_OUTCOMES]
    if not outcomes:
        raise ReportError(f"{root}: no successful run to report on")
    out.mkdir(parents=True, exist_ok=True)
    sections = []
    if len(factors) >= 2:
        png = heatmap_figure(root, name, outcomes, factors[0], factors[1], out)
        sections.append(figure_section("Heatmaps", png, out))
    png = main_effects_figure(summary, name, outcomes, factors, out)
    sections.append(figure_section("Main effects", png, out))
    harm = first_match(outcomes, "malicious_success", "harm")
    refusal = first_match(outcomes, "dual_use_over_refusal", "over_refusal")
    if harm and refusal:
        png = frontier_figure(summary, name, harm, refusal, factors[0], out)
        sections.append(figure_section("Harm against over-refusal", png, out))
    if manifest["design"] in ("saltelli", "morris"):
        sections.append(_sensitivity_section(root, name, outcomes, out))
    body = _header(root, manifest, summary) + "\n".join(sections)
    path = out / "report.html"
    atomic_write_text(path, html_page(f"dirisk sweep report: {name}", body))
    return path


def _sensitivity_section(root: Path, name: str, outcomes: list[str], out: Path) -> str:
    """The sensitivity figure and table, or why they could not be computed."""
    from sim.analysis.sensitivity import SensitivityError, analyze, index_warnings

    try:
        table = analyze(root, outcomes)
    except SensitivityError as exc:
        return f"<h2>Sensitivity</h2>\n<p>Not computed: {html.escape(str(exc))}</p>"
    png = sensitivity_figure(table, out, name)[0].name
    warnings = "".join(f"<li>{html.escape(w)}</li>" for w in index_warnings(table))
    caution = f"<p><b>Caution.</b></p><ul>{warnings}</ul>" if warnings else ""
    return (
        figure_section("Sensitivity", png, out)
        + table.to_html(index=False, float_format=lambda v: f"{v:.3g}")
        + caution
    )


def _header(root: Path, manifest: dict, summary: pd.DataFrame) -> str:
    """The experiment, the run counts, and the first failures."""
    runs = read_parts(root, columns=["point", "replication", "status", "error"])
    failed = runs[runs["status"] != "ok"]
    missing = manifest["runs"] - len(runs)
    errors = "".join(
        f"<li>point {int(r.point)}, replication {int(r.replication)}: {html.escape(r.error)}</li>"
        for r in failed.head(10).itertuples()
    )
    experiment = SweepFolder(root).experiment()
    base = experiment.scenario
    return f"""<p>{html.escape(experiment.description)}</p>
<p>Design <b>{html.escape(manifest["design"])}</b>: {manifest["points"]} points ×
{manifest["replications"]} replications = {manifest["runs"]} runs; {len(runs) - len(failed)} ok,
{len(failed)} failed, {missing} missing. Factors: {html.escape(", ".join(manifest["factors"]))}.
Base scenario <code>{html.escape(base["name"])}</code>, {base["steps"]} days;
experiment hash <code>{manifest["experiment_hash"][:16]}</code>.</p>
{f"<p>First failures:</p><ul>{errors}</ul>" if errors else ""}
<h2>Summary by design point</h2>
<p>Mean over successful replications, with the 95% confidence interval (first 50 points;
all in summary.csv from <code>dirisk summarize</code>).</p>
{summary.head(50).to_html(index=False, float_format=lambda v: f"{v:.4g}", na_rep="n/a")}
"""


def sensitivity_figure(table: pd.DataFrame, out_dir: str | Path, name: str) -> list[Path]:
    """Figures of a sensitivity table (from :func:`sim.analysis.sensitivity.analyze`), as
    PNG and SVG.

    Sobol: per outcome, S1 (hatched) and ST (plain) bars per factor with 95% intervals.
    Morris: per outcome, mu_star against sigma (each factor labelled) and mu_star bars
    with 95% intervals.

    Args:
        table: The indices, with an ``outcome`` column.
        out_dir: Folder for ``sobol.png``/``.svg`` or ``morris.png``/``.svg``.
        name: The experiment's name, for the title.

    Returns:
        The paths of the files written.
    """
    out = Path(out_dir)
    sobol_kind = "S1" in table.columns
    groups = list(table.groupby("outcome", sort=False))
    height = max(2.6, 0.9 + 0.35 * table.groupby("outcome").size().max())
    fig = Figure(figsize=(8 if sobol_kind else 11, height * len(groups)))
    axes = fig.subplots(len(groups), 1 if sobol_kind else 2, squeeze=False)
    blue, orange = STYLES[0]["color"], STYLES[1]["color"]
    for row, (outcome, part) in zip(axes, groups, strict=True):
        rows = np.arange(len(part))
        labels = part["factor"].tolist()
        if sobol_kind:
            ax = row[0]
            for offset, col, colour, hatch, label in (
                (-0.2, "S1", blue, "//", "first order S1 (alone)"),
                (0.2, "ST", orange, "", "total ST (with interactions)"),
            ):
                ax.barh(
                    rows + offset,
                    part[col],
                    height=0.4,
                    xerr=part[f"{col}_conf"],
                    color=colour,
                    hatch=hatch,
                    edgecolor="black",
                    linewidth=0.5,
                    error_kw={"elinewidth": 0.8, "capsize": 2},
                    label=label,
                )
            ax.axvline(0, color="black", linewidth=0.6)
            ax.set_xlabel("share of the outcome's variance (0–1)")
            if ax is axes[0][0]:
                ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))
        else:
            scatter, ax = row
            scatter.scatter(
                part["mu_star"], part["sigma"], color=blue, marker="o", edgecolor="black"
            )
            for x, y, label in zip(part["mu_star"], part["sigma"], labels, strict=True):
                scatter.annotate(label, (x, y), textcoords="offset points", xytext=(4, 4))
            scatter.margins(0.2)
            scatter.set_xlim(left=0)
            scatter.set_ylim(bottom=0)
            scatter.set_xlabel("mu* (mean |effect|, outcome units per factor range)")
            scatter.set_ylabel("sigma (spread of effects)")
            scatter.set_title(outcome, fontsize=9)
            scatter.grid(alpha=0.3)
            ax.barh(
                rows,
                part["mu_star"],
                xerr=part["mu_star_conf"],
                color=blue,
                hatch="//",
                edgecolor="black",
                linewidth=0.5,
                error_kw={"elinewidth": 0.8, "capsize": 2},
            )
            ax.set_xlabel("mu* (mean |effect|, outcome units per factor range)")
        ax.set_yticks(rows, labels)
        ax.invert_yaxis()
        ax.set_title(outcome, fontsize=9)
        ax.grid(axis="x", alpha=0.3)
    kind = "sobol" if sobol_kind else "morris"
    title = (
        f"{name}: Sobol sensitivity indices (bars: 95% interval)"
        if sobol_kind
        else f"{name}: Morris elementary effects (bars: 95% interval)"
    )
    save_figure(fig, title, kind, out)
    return [out / f"{kind}.png", out / f"{kind}.svg"]
