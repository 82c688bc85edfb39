"""Report of an attribution: a waterfall from the outcome with every channel switched
off to the outcome with every channel on, one step per channel, with 95% intervals
(``dirisk report ATTRIBUTION_DIR``)."""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from sim.analysis.attribution import Attribution, attribution_of
from sim.common.files import atomic_write_text
from sim.common.stats import INTERVAL_METHOD, mean_ci
from sim.experiments.channels import CHANNELS
from sim.output.report import STYLES, figure_section, html_page, save_figure
from sim.results.outcomes import OUTCOMES

__all__ = ["describe_attribution", "make_attribution_report", "waterfall_figure"]


def _label(outcome: str) -> str:
    return OUTCOMES[outcome].label if outcome in OUTCOMES else outcome


def waterfall_figure(result: Attribution, out: Path) -> str:
    """Draw the waterfall as PNG and SVG in ``out``; return the PNG's file name."""
    applying = result.table[result.table["applies"]]
    start = float(result.totals["all_off"].mean())
    end = float(result.totals["all_on"].mean())
    labels = ["all channels off", *(CHANNELS[c].label for c in applying["channel"]), "all on"]
    fig = Figure(figsize=(max(6.0, 1.1 * len(labels)), 4.2))
    ax = fig.subplots()
    level = start
    blue, orange, grey = STYLES[0]["color"], STYLES[1]["color"], "#777777"
    ax.bar(0, start, color=grey, edgecolor="black", linewidth=0.5)
    for k, row in enumerate(applying.itertuples(index=False), start=1):
        colour = orange if row.contribution >= 0 else blue
        ax.bar(k, row.contribution, bottom=level, color=colour, edgecolor="black", linewidth=0.5)
        top = level + row.contribution
        ax.errorbar(
            k,
            top,
            yerr=[[row.contribution - row.low], [row.high - row.contribution]],
            color="black",
            capsize=3,
            linewidth=0.8,
        )
        ax.plot([k - 0.4, k + 1.4], [top, top], color="black", linewidth=0.4, linestyle=":")
        level = top
    ax.bar(len(labels) - 1, end, color=grey, edgecolor="black", linewidth=0.5)
    ax.set_xticks(np.arange(len(labels)), labels, rotation=30, ha="right", fontsize=8)
    unit = OUTCOMES[result.outcome].unit if result.outcome in OUTCOMES else ""
    ax.set_ylabel(f"{_label(result.outcome)} ({unit})" if unit else _label(result.outcome))
    ax.grid(axis="y", alpha=0.3)
    title = (
        f"{result.scenario}: why {_label(result.outcome)} leaks "
        f"(Shapley contributions, {INTERVAL_METHOD} over {len(result.totals)} seeds)"
    )
    save_figure(fig, title, "waterfall", out)
    return "waterfall.png"


def describe_attribution(result: Attribution) -> str:
    """A paragraph a class can read, from the numbers."""
    table = result.table[result.table["applies"]].sort_values("contribution", ascending=False)
    on, _ = mean_ci(result.totals["all_on"])
    off, _ = mean_ci(result.totals["all_off"])
    label = _label(result.outcome)
    parts = [
        f"With every channel on, {label} is {on:,.4g}; with every applicable channel switched "
        f"off, {off:,.4g}."
    ]
    if not table.empty:
        top = table.iloc[0]
        parts.append(
            f"The largest contribution comes from {CHANNELS[top['channel']].label} "
            f"({top['contribution']:,.4g}, {top['share']:.0%} of the difference): with it "
            f"off, {CHANNELS[top['channel']].off}."
        )
    unclear = table.loc[(table["low"] <= 0) & (table["high"] >= 0), "channel"]
    if not unclear.empty:
        names = ", ".join(CHANNELS[c].label for c in unclear)
        parts.append(
            f"The intervals of {names} include zero: at {len(result.totals)} seeds their "
            "effect is not distinguishable from none."
        )
    if not result.interactions.empty:
        pair = result.interactions.iloc[0]
        how = "more together than apart" if pair["interaction"] > 0 else "less together than apart"
        parts.append(
            f"The strongest interaction: {CHANNELS[pair['channel_a']].label} and "
            f"{CHANNELS[pair['channel_b']].label} leak {how} ({pair['interaction']:,.4g})."
        )
    return " ".join(parts)


def make_attribution_report(root: Path, out: Path) -> Path:
    """Write report.html with the waterfall and the tables of an attribution folder."""
    result = attribution_of(root)
    out.mkdir(parents=True, exist_ok=True)
    png = waterfall_figure(result, out)
    shown = result.table.assign(channel=[CHANNELS[c].label for c in result.table["channel"]]).drop(
        columns=["applies"]
    )
    body = (
        f"<p>{html.escape(describe_attribution(result))}</p>"
        + figure_section("Contributions", png, out)
        + shown.to_html(index=False, float_format=lambda v: f"{v:,.4g}", na_rep="does not apply")
        + "<h2>Strongest interactions</h2>"
        + result.interactions.head(5).to_html(index=False, float_format=lambda v: f"{v:,.4g}")
    )
    path = out / "report.html"
    atomic_write_text(path, html_page(f"dirisk attribution: {result.scenario}", body))
    return path
