"""Publication-quality report of one or more runs of a scenario (replications).

``dirisk report RUN_DIR [RUN_DIR ...] [--out DIR]`` writes ``report.html`` with its
figures as PNG and SVG beside it. Several run folders of the same scenario (different
seeds) give replication bands (mean and 95% interval over runs).
"""

from __future__ import annotations

import base64
import html
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from sim.common.files import atomic_write, atomic_write_text  # noqa: E402
from sim.common.stats import INTERVAL_METHOD, mean_ci  # noqa: E402
from sim.common.stats import band as stats_band  # noqa: E402
from sim.results.tables import Results  # noqa: E402

__all__ = [
    "FIGURES",
    "HEADLINES",
    "ReportError",
    "STYLES",
    "band",
    "composition_figure",
    "event_figure",
    "figure_section",
    "frontier_figure",
    "headline_figure",
    "html_page",
    "leakage_figure",
    "load_runs",
    "make_report",
    "save_figure",
]

#: Okabe-Ito colours (colour-blind safe) with line styles and markers so lines stay
#: distinguishable in greyscale.
STYLES = [
    dict(color=c, linestyle=ls, marker=mk, markevery=0.1)
    for c, ls, mk in zip(
        ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442"),
        ("-", "--", "-.", ":", "-", "--", "-.", ":"),
        ("o", "s", "^", "D", "v", "P", "X", "*"),
        strict=True,
    )
]

HEADLINES = (
    ("harm_completion_rate", "harm completion rate"),
    ("malicious_success_share", "malicious success share"),
    ("benign_over_refusal", "benign over-refusal"),
    ("dual_use_over_refusal", "dual-use over-refusal"),
    ("policy_leakage", "policy leakage"),
    ("cross_border_share", "cross-border share"),
)


class ReportError(ValueError):
    """The folders given cannot make one report."""


def load_runs(directories: list[Path]) -> list[Results]:
    """Runs of one scenario, one per folder.

    Raises:
        ReportError: a folder is not a finished run, or the runs differ in scenario.
    """
    runs = []
    for directory in directories:
        try:
            runs.append(Results.load(directory))
        except FileNotFoundError as exc:
            raise ReportError(str(exc)) from None
    hashes = {r.meta["scenario_hash"] for r in runs}
    if len(hashes) > 1:
        raise ReportError(
            "the runs are of different scenarios (content hashes differ): report "
            "replications of one scenario together"
        )
    return runs


def band(runs: list[Results], column: str) -> pd.DataFrame:
    """Per step: mean over runs and its 95% interval (Student's t at the number of runs;
    with one run the band is the run itself)."""
    values = pd.concat([r.metrics.set_index("step")[column] for r in runs], axis=1)
    mean, half = stats_band(values.to_numpy(dtype=float))
    half = np.nan_to_num(half)  # one run: no band to draw
    return pd.DataFrame({"mean": mean, "low": mean - half, "high": mean + half}, index=values.index)


def save_figure(fig: plt.Figure, title: str, name: str, out: Path) -> str:
    """Save a figure as PNG and SVG; return the PNG file name."""
    fig.suptitle(title, fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.4 / fig.get_figheight()))  # room for the title
    for suffix in ("png", "svg"):
        atomic_write(
            out / f"{name}.{suffix}",
            lambda p, s=suffix: fig.savefig(p, format=s, dpi=150 if s == "png" else None),
        )
    plt.close(fig)
    return f"{name}.png"


def headline_figure(runs: list[Results], scenario: str, out: Path) -> str:
    """Headline metrics over time, with replication bands."""
    fig, axes = plt.subplots(2, 3, figsize=(11, 6), sharex=True)
    for ax, (column, label), style in zip(
        axes.ravel(), HEADLINES, STYLES[: len(HEADLINES)], strict=True
    ):
        b = band(runs, column)
        ax.plot(b.index, b["mean"], **style, linewidth=1.4, markersize=3)
        ax.fill_between(b.index, b["low"], b["high"], color=style["color"], alpha=0.2, linewidth=0)
        ax.set_title(label, fontsize=9)
        ax.set_ylim(0, 1)
        ax.set_ylabel("share (0–1)", fontsize=8)
        ax.grid(alpha=0.3)
    for ax in axes[-1]:
        ax.set_xlabel("day")
    n = len(runs)
    return save_figure(
        fig,
        f"{scenario}: headline metrics (mean of {n} run{'s' * (n > 1)}"
        f"{', band: 95% interval' if n > 1 else ''})",
        "headline",
        out,
    )


def leakage_figure(runs: list[Results], scenario: str, out: Path) -> str:
    """Share of each jurisdiction's served requests served in each jurisdiction."""
    flows = pd.concat([r.flows for r in runs])
    matrix = flows.pivot_table(
        index="origin", columns="destination", values="served", aggfunc="sum", observed=False
    ).fillna(0)
    share = matrix.div(matrix.sum(axis=1).replace(0, np.nan), axis=0)
    fig, ax = plt.subplots(figsize=(6, 5))
    image = ax.imshow(share.to_numpy(), cmap="cividis", vmin=0, vmax=1)
    ax.set_xticks(range(share.shape[1]), share.columns, rotation=45, ha="right")
    ax.set_yticks(range(share.shape[0]), share.index)
    ax.set_xlabel("serving jurisdiction (node's host)")
    ax.set_ylabel("requester's jurisdiction")
    for i in range(share.shape[0]):
        for j in range(share.shape[1]):
            value = share.iat[i, j]
            if not np.isnan(value):
                ax.text(
                    j,
                    i,
                    f"{value:.0%}",
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if value < 0.5 else "black",
                )
    fig.colorbar(image, ax=ax, label="share of the row's served requests")
    return save_figure(
        fig, f"{scenario}: where each jurisdiction's requests are served", "leakage", out
    )


def composition_figure(runs: list[Results], scenario: str, out: Path) -> str:
    """Active nodes by host jurisdiction and by model kind over time (first run)."""
    nodes = runs[0].nodes
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for ax, column in zip(axes, ("jurisdiction", "model"), strict=True):
        table = nodes.pivot_table(
            index="step", columns=column, values="nodes_active", aggfunc="sum", observed=True
        )
        hatches = ("", "//", "\\\\", "xx", "..", "oo", "++", "--")
        stacks = ax.stackplot(
            table.index,
            table.to_numpy().T,
            labels=list(table.columns),
            colors=[s["color"] for s in STYLES[: table.shape[1]]],
            alpha=0.85,
        )
        for stack, hatch in zip(stacks, hatches, strict=False):
            stack.set_hatch(hatch)
        ax.set_title(
            f"active nodes by {'host jurisdiction' if column == 'jurisdiction' else 'model kind'}",
            fontsize=9,
        )
        ax.set_xlabel("day")
        ax.legend(fontsize=7, loc="lower left")
    axes[0].set_ylabel("nodes")
    return save_figure(
        fig, f"{scenario}: node composition (seed {runs[0].meta['seed']})", "composition", out
    )


def frontier_figure(runs: list[Results], scenario: str, out: Path) -> str:
    """Harm completion against legitimate users' over-refusal, day by day and per run."""
    fig, ax = plt.subplots(figsize=(6, 4.5))
    for run, style in zip(runs, STYLES * len(runs), strict=False):
        m = run.metrics
        over = (m["benign_over_refusal"] + m["dual_use_over_refusal"]) / 2
        ax.scatter(
            over,
            m["harm_completion_rate"],
            s=10,
            color=style["color"],
            marker=style["marker"],
            alpha=0.6,
            label=f"seed {run.meta['seed']}",
        )
    ax.set_xlabel("over-refusal of legitimate users (mean of benign and dual-use, share)")
    ax.set_ylabel("harm completion rate (share)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return save_figure(fig, f"{scenario}: harm vs over-refusal (each point a day)", "frontier", out)


def event_figure(runs: list[Results], scenario: str, out: Path) -> str:
    """Events per day by kind (first run)."""
    events = runs[0].events
    counts = events.groupby(["step", "event"]).size().unstack(fill_value=0)
    fig, ax = plt.subplots(figsize=(11, 3.5))
    for (kind, series), style in zip(counts.items(), STYLES * len(counts.columns), strict=False):
        ax.plot(series.index, series.to_numpy(), label=kind, **style, linewidth=1, markersize=3)
    ax.set_xlabel("day")
    ax.set_ylabel("events per day")
    ax.grid(alpha=0.3)
    if len(counts.columns):
        ax.legend(fontsize=7, ncol=4)
    title = f"{scenario}: event timeline (seed {runs[0].meta['seed']})"
    return save_figure(fig, title, "events", out)


FIGURES = (
    ("Headline metrics", headline_figure),
    ("Cross-border leakage", leakage_figure),
    ("Node composition", composition_figure),
    ("Harm against over-refusal", frontier_figure),
    ("Event timeline", event_figure),
)


def figure_section(title: str, png: str, out: Path) -> str:
    """HTML of one figure: a heading, the PNG embedded (the page stands alone) and links
    to the PNG and SVG files beside it."""
    embedded = base64.b64encode((out / png).read_bytes()).decode()
    return (
        f'<h2>{html.escape(title)}</h2>\n<img src="data:image/png;base64,{embedded}" '
        f'alt="{html.escape(title)}" data-file="{png}">\n'
        f'<p class="files">Files: <a href="{png}">{png}</a>, '
        f'<a href="{png[:-4]}.svg">{png[:-4]}.svg</a></p>'
    )


def html_page(title: str, body: str) -> str:
    """A self-contained HTML report page."""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto;line-height:1.4}}
img{{max-width:100%}} table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 8px}}
.files{{font-size:0.85em;color:#555}}</style></head><body>
<h1>{html.escape(title)}</h1>
{body}
</body></html>
"""


def _half_width(values: pd.Series) -> str:
    """The 95% half-width over runs, or n/a with one run."""
    half = mean_ci(values)[1]
    return "n/a" if np.isnan(half) else f"{half:,.2g}"


def make_report(directories: list[Path], out: Path) -> Path:
    """Write report.html and its figures for runs of one scenario into ``out``.

    Returns:
        The path of report.html.
    """
    runs = load_runs(directories)
    meta = runs[0].meta
    scenario = meta["scenario_name"]
    out.mkdir(parents=True, exist_ok=True)
    sections = [figure_section(title, draw(runs, scenario, out), out) for title, draw in FIGURES]
    summary = pd.concat([r.summary().set_index("metric")["value"] for r in runs], axis=1)
    rows = "\n".join(
        f"<tr><td>{html.escape(metric)}</td><td>{values.mean():,.4g}</td>"
        f"<td>{_half_width(values)}</td></tr>"
        for metric, values in summary.iterrows()
    )
    spec = meta["scenario"]
    body = f"""<p>{html.escape(spec.get("description", ""))}</p>
<p><b>Question.</b> {html.escape(spec.get("question", ""))}</p>
<p>{len(runs)} run(s), seeds {", ".join(str(r.meta["seed"]) for r in runs)}; {meta["steps"]} days;
scenario hash <code>{meta["scenario_hash"][:16]}</code>; dirisk {meta["versions"]["dirisk"]},
mesa {meta["versions"]["mesa"]}, numpy {meta["versions"]["numpy"]}.</p>
<h2>Summary</h2>
<table><tr><th>measure</th><th>mean over runs</th>
<th>95% half-width ({INTERVAL_METHOD} over {len(runs)} run(s))</th></tr>
{rows}</table>
{chr(10).join(sections)}"""
    page = html_page(f"dirisk report: {scenario}", body)
    path = out / "report.html"
    atomic_write_text(path, page)
    return path
