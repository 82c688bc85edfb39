"""Figures for the explorer: the node network, the cross-border flow diagram, a sweep's
heatmap, harm vs over-refusal frontier and sensitivity indices, and the waterfall of an
attribution to channels of leakage."""

from __future__ import annotations

import re
from collections.abc import Mapping

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import networkx as nx  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import plotly.express as px  # noqa: E402
import plotly.graph_objects as go  # noqa: E402

__all__ = [
    "BAR_COLUMNS",
    "MARGIN",
    "MARKERS",
    "PALETTE",
    "frontier_figure",
    "heatmap_figure",
    "network_figure",
    "sankey_figure",
    "sensitivity_figure",
    "waterfall_figure",
]

#: Colour-blind-safe palette (Okabe-Ito) for jurisdictions.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
#: Marker per model kind (cycled).
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
#: Margins of the plotly figures, px.
MARGIN = dict(l=10, r=10, t=10, b=10)


def network_figure(
    graph: nx.Graph, states: pd.DataFrame, *, max_nodes: int = 300, seed: int = 0
) -> plt.Figure:
    """The node network at one step: colour = host jurisdiction, marker = model kind,
    hollow = taken down, exited or relocating. Large markets show a random sample of
    ``max_nodes`` nodes with the links among them."""
    states = states.set_index("node_id")
    nodes = states.index.to_numpy()
    if nodes.size > max_nodes:
        nodes = np.sort(np.random.default_rng(seed).choice(nodes, max_nodes, replace=False))
    sub = graph.subgraph(nodes.tolist())
    pos = nx.spring_layout(sub, seed=seed)
    jurisdictions = list(states["jurisdiction"].cat.categories)
    models = list(states["model"].cat.categories)
    fig, ax = plt.subplots(figsize=(7, 5.5))
    nx.draw_networkx_edges(sub, pos, ax=ax, alpha=0.15, width=0.5)
    for m_index, model in enumerate(models):
        for j_index, jur in enumerate(jurisdictions):
            here = [
                n
                for n in sub
                if states.at[n, "model"] == model and states.at[n, "jurisdiction"] == jur
            ]
            if not here:
                continue
            alive = [n for n in here if states.at[n, "status"] == "active"]
            gone = [n for n in here if states.at[n, "status"] != "active"]
            colour = PALETTE[j_index % len(PALETTE)]
            marker = MARKERS[m_index % len(MARKERS)]
            for group, face in ((alive, colour), (gone, "none")):
                if group:
                    ax.scatter(
                        [pos[n][0] for n in group],
                        [pos[n][1] for n in group],
                        s=28,
                        marker=marker,
                        facecolors=face,
                        edgecolors=colour,
                        linewidths=0.8,
                    )
    handles = [
        plt.Line2D([], [], ls="", marker="o", color=PALETTE[i % len(PALETTE)], label=j)
        for i, j in enumerate(jurisdictions)
    ]
    handles += [
        plt.Line2D([], [], ls="", marker=MARKERS[i % len(MARKERS)], color="grey", label=m)
        for i, m in enumerate(models)
    ]
    ax.legend(
        handles=handles,
        loc="center left",
        bbox_to_anchor=(1.0, 0.5),
        frameon=False,
        title="host / model (hollow: offline)",
    )
    ax.set_axis_off()
    fig.tight_layout()
    return fig


def sankey_figure(flows: pd.DataFrame, jurisdictions: list[str]) -> go.Figure:
    """Requests served, from the requester's jurisdiction (left) to the serving node's
    jurisdiction (right)."""
    by_pair = flows.groupby(["origin", "destination"], observed=True)["served"].sum().reset_index()
    index = {j: i for i, j in enumerate(jurisdictions)}
    n = len(jurisdictions)
    colours = [PALETTE[i % len(PALETTE)] for i in range(n)]
    link_colours = [_with_alpha(colours[index[o]], 0.4) for o in by_pair["origin"]]
    figure = go.Figure(
        go.Sankey(
            node=dict(
                label=[f"{j} (requesters)" for j in jurisdictions]
                + [f"{j} (nodes)" for j in jurisdictions],
                color=colours * 2,
                pad=12,
            ),
            link=dict(
                source=[index[o] for o in by_pair["origin"]],
                target=[n + index[d] for d in by_pair["destination"]],
                value=by_pair["served"].tolist(),
                color=link_colours,
            ),
        )
    )
    figure.update_layout(margin=MARGIN, height=420)
    return figure


def _rounded(label: str) -> str:
    """A tick label with its numbers to 3 significant digits (bins keep their brackets)."""
    return re.sub(r"-?\d+\.\d+(?:e-?\d+)?", lambda m: f"{float(m[0]):.3g}", label)


def heatmap_figure(
    cells: pd.DataFrame, *, x_title: str, y_title: str, value_title: str
) -> go.Figure:
    """A sweep heatmap from ``sim.analysis.query.heatmap_sql``'s table (``x``, ``y`` labels
    in ``x_order``/``y_order``, ``value``, ``runs``); hovering shows a cell's runs."""
    xs = cells.sort_values("x_order")["x"].unique()
    ys = cells.sort_values("y_order")["y"].unique()
    grid = {
        column: cells.pivot_table(index="y", columns="x", values=column, aggfunc=how)
        .reindex(index=ys, columns=xs)
        .to_numpy()
        for column, how in (("value", "mean"), ("runs", "sum"))
    }
    figure = go.Figure(
        go.Heatmap(
            x=[_rounded(str(v)) for v in xs],
            y=[_rounded(str(v)) for v in ys],
            z=grid["value"],
            customdata=grid["runs"],
            texttemplate="%{z:.3g}",
            colorscale="Viridis",
            colorbar=dict(title=dict(text=value_title, side="right")),
            hovertemplate=f"{x_title}: %{{x}}<br>{y_title}: %{{y}}<br>"
            f"{value_title}: %{{z:.4g}}<br>runs: %{{customdata}}<extra></extra>",
        )
    )
    figure.update_xaxes(title_text=x_title, type="category")
    figure.update_yaxes(title_text=y_title, type="category")
    figure.update_layout(margin=MARGIN, height=460)
    return figure


#: Columns of the frontier's interval bars (hidden from its hover labels).
BAR_COLUMNS = ("x_plus", "x_minus", "y_plus", "y_minus")


def frontier_figure(summary: pd.DataFrame, harm: str, refusal: str, colour: str) -> go.Figure:
    """Harm (up) against over-refusal (right), one dot per design point of a sweep's
    summary (``sim.analysis.query.summarize``), with 95% interval bars, coloured by a factor."""
    table = summary.assign(
        x_plus=summary[f"{refusal}_ci_high"] - summary[refusal],
        x_minus=summary[refusal] - summary[f"{refusal}_ci_low"],
        y_plus=summary[f"{harm}_ci_high"] - summary[harm],
        y_minus=summary[harm] - summary[f"{harm}_ci_low"],
    )
    figure = px.scatter(
        table,
        x=refusal,
        y=harm,
        color=colour,
        error_x="x_plus",
        error_x_minus="x_minus",
        error_y="y_plus",
        error_y_minus="y_minus",
        hover_data={"point": True, "runs_ok": True, **dict.fromkeys(BAR_COLUMNS, False)},
        color_continuous_scale="Viridis",
        color_discrete_sequence=PALETTE,
    )
    figure.update_traces(
        marker=dict(size=10, line=dict(width=0.5, color="black")),
        error_x=dict(color="grey", thickness=1),
        error_y=dict(color="grey", thickness=1),
    )
    figure.update_layout(margin=MARGIN, height=460)
    return figure


def sensitivity_figure(indices: pd.DataFrame) -> go.Figure:
    """Bars of one outcome's sensitivity indices per factor (``sim.analysis.sensitivity.analyze``):
    Sobol S1 and ST, or Morris mu*, with 95% interval bars."""
    sobol = "S1" in indices.columns
    names = ("S1", "ST") if sobol else ("mu_star",)
    figure = go.Figure(
        [
            go.Bar(
                x=indices[name],
                y=indices["factor"],
                orientation="h",
                name=name,
                error_x=dict(type="data", array=indices[f"{name}_conf"]),
                marker_color=PALETTE[i],
            )
            for i, name in enumerate(names)
        ]
    )
    title = (
        "share of the outcome's variance (0–1)"
        if sobol
        else "mu* (mean |effect|, outcome units per factor range)"
    )
    figure.update_xaxes(title_text=title)
    figure.update_yaxes(title_text="factor", autorange="reversed")
    figure.update_layout(barmode="group", margin=MARGIN, height=120 + 50 * len(indices))
    return figure


def waterfall_figure(
    table: pd.DataFrame,
    totals: pd.DataFrame,
    *,
    labels: Mapping[str, str],
    value_title: str,
    share: bool = False,
    start_label: str = "every channel off",
    end_label: str = "every channel on",
) -> go.Figure:
    """The waterfall of an attribution (``sim.analysis.attribution.Attribution``): a bar
    for the outcome with every channel off (the mean of ``totals.all_off``), one bar per
    applicable channel adding its mean contribution with its 95% interval as error bars
    (largest effect first), and the outcome with every channel on (the mean of
    ``totals.all_on``), top to bottom.

    Channels that do not apply (``applies`` False) are not drawn. The contributions add
    up to ``mean(all_on) − mean(all_off)`` exactly, seed by seed and so on average.

    Args:
        table: The attribution table (``channel, contribution, low, high, share, applies``).
        totals: ``seed, all_on, all_off``.
        labels: A readable name per channel.
        value_title: The value axis's title, with its unit.
        share: The outcome is a share: percentages on the axis, differences in points.
        start_label: The first bar's name.
        end_label: The last bar's name.
    """
    drawn = table[table["applies"].astype(bool)]
    drawn = drawn.reindex(drawn["contribution"].abs().sort_values(ascending=False).index)
    start = float(totals["all_off"].mean())
    end = float(totals["all_on"].mean())
    names = [labels.get(c, c) for c in drawn["channel"]]
    contributions = drawn["contribution"].to_numpy(dtype=float)
    n = len(totals)
    hover = [f"<b>{start_label}</b><br>{_amount(start, share)} (mean of {n} seeds)"]
    for name, row in zip(names, drawn.itertuples(index=False), strict=True):
        of_total = "" if np.isnan(row.share) else f", {row.share:.0%} of the difference"
        hover.append(
            f"<b>{name}</b><br>adds {_amount(row.contribution, share, signed=True)}"
            f"{of_total}<br>95% interval: {_amount(row.low, share, signed=True)} to "
            f"{_amount(row.high, share, signed=True)}"
        )
    hover.append(f"<b>{end_label}</b><br>{_amount(end, share)} (mean of {n} seeds)")
    text = [
        _amount(start, share),
        *(
            f"{_amount(row.contribution, share, signed=True)} "
            f"({_amount(row.low, share, signed=True)} to {_amount(row.high, share, signed=True)})"
            for row in drawn.itertuples(index=False)
        ),
        _amount(end, share),
    ]
    bars = go.Waterfall(
        orientation="h",
        y=[start_label, *names, end_label],
        x=[start, *contributions.tolist(), end],
        measure=["absolute", *["relative"] * len(names), "total"],
        hovertext=hover,
        hovertemplate="%{hovertext}<extra></extra>",
        increasing=dict(marker=dict(color=PALETTE[5])),
        decreasing=dict(marker=dict(color=PALETTE[0])),
        totals=dict(marker=dict(color="#7f7f7f")),
        connector=dict(line=dict(color="#bbbbbb", width=1)),
        name="outcome",
        showlegend=False,
    )
    ends = start + np.cumsum(contributions)
    intervals = go.Scatter(
        x=ends.tolist(),
        y=names,
        mode="markers",
        marker=dict(size=1, color="black"),
        error_x=dict(
            type="data",
            symmetric=False,
            array=(drawn["high"].to_numpy(dtype=float) - contributions).tolist(),
            arrayminus=(contributions - drawn["low"].to_numpy(dtype=float)).tolist(),
            color="black",
            thickness=1.5,
            width=6,
        ),
        hoverinfo="skip",
        name="95% interval",
        showlegend=False,
    )
    figure = go.Figure([bars, intervals])
    # The numbers in a column right of the plot, clear of the bars and whiskers.
    rows = [start_label, *names, end_label]
    for row, value in zip(rows, text, strict=True):
        figure.add_annotation(
            x=1.01, xref="paper", xanchor="left", y=row, yref="y", text=value, showarrow=False
        )
    figure.add_annotation(
        x=1.01,
        xref="paper",
        xanchor="left",
        y=1.0,
        yref="paper",
        yanchor="bottom",
        text="<b>mean (95% interval)</b>",
        showarrow=False,
    )
    figure.update_xaxes(title_text=value_title, tickformat=".0%" if share else ",")
    figure.update_yaxes(title_text="", autorange="reversed", type="category")
    figure.update_layout(
        margin=dict(MARGIN, t=30, r=230), height=150 + 42 * len(rows), hovermode="closest"
    )
    return figure


def _amount(value: float, share: bool, *, signed: bool = False) -> str:
    """A value for a label: shares as percentages (differences in points), counts with
    thousands separators and at most one decimal."""
    if np.isnan(value):
        return "n/a"
    sign = "+" if signed else ""
    if share:
        return f"{100 * value:{sign}.1f} pp" if signed else f"{value:.1%}"
    return f"{value:{sign},.0f}" if abs(value) >= 100 else f"{value:{sign},.1f}"


def _with_alpha(hex_colour: str, alpha: float) -> str:
    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"
