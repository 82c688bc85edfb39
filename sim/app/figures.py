"""Figures for the explorer: the node network, the cross-border flow diagram (and the
frames of the Watch page's player, computed once per run), a sweep's heatmap, harm vs
over-refusal frontier and sensitivity indices, and the waterfall of an attribution to
channels of leakage."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import networkx as nx
import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from sim.app.charts import TimelineMark, timeline_marks
from sim.engine.model import scenario_permissive
from sim.results.tables import Results
from sim.scenario import load_scenario

__all__ = [
    "BAR_COLUMNS",
    "FLOW_VIEWS",
    "HIGHLIGHT",
    "LAWFUL_LINK",
    "LAYOUT_SEED",
    "LEAKED_LINK",
    "MARGIN",
    "PALETTE",
    "SYMBOLS",
    "NetworkLayout",
    "PlayerFrames",
    "flow_table",
    "flow_view",
    "frontier_figure",
    "heatmap_figure",
    "network_figure",
    "network_layout",
    "node_days",
    "player_frames",
    "sankey_figure",
    "sensitivity_figure",
    "waterfall_figure",
]

#: Colour-blind-safe palette (Okabe-Ito) for jurisdictions.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
#: Margins of the plotly figures, px.
MARGIN = dict(l=10, r=10, t=10, b=10)


#: Flow diagram link colours: flows lawful where the requesters live, and leaked flows
#: (prohibited where the requesters live, served anyway); neither is a jurisdiction colour.
LAWFUL_LINK = "rgba(136,136,136,0.35)"
LEAKED_LINK = "rgba(204,0,0,0.8)"
#: The flow diagram's views, as offered on the Watch page.
FLOW_VIEWS = ("All requests", "Harmful only", "Prohibited at origin only")
#: Plotly marker symbol per model kind (cycled); offline nodes use its "-open" variant.
SYMBOLS = ("circle", "square", "diamond", "triangle-up", "triangle-down", "pentagon", "star", "x")
#: Seed of the node network's layout (and of the sample drawn in large markets).
LAYOUT_SEED = 7
#: Colour of the ring around highlighted nodes.
HIGHLIGHT = "#CC0000"


def flow_table(flows: pd.DataFrame, requests: pd.DataFrame, harmful: Iterable[str]) -> pd.DataFrame:
    """The run's flows (requests served per day, requester's jurisdiction ``origin``,
    serving node's jurisdiction ``destination``, category) with three flags:
    ``harmful`` (a harmful category), ``prohibited`` (the category is prohibited that day
    where the requester lives: the requests table's ``prohibited_at_residence``) and
    ``leaked`` (prohibited and served anyway; every flow counts served requests, so the
    same rows as ``prohibited``)."""
    rules = (
        requests.groupby(["step", "jurisdiction", "category"], observed=True)[
            "prohibited_at_residence"
        ]
        .any()
        .rename("prohibited")
        .reset_index()
        .rename(columns={"jurisdiction": "origin"})
    )
    out = flows.merge(rules, on=["step", "origin", "category"], how="left")
    out["prohibited"] = out["prohibited"].fillna(False).astype(bool)
    out["harmful"] = out["category"].isin(list(harmful)).to_numpy()
    out["leaked"] = out["prohibited"].to_numpy() & (out["served"].to_numpy() > 0)
    return out


def flow_view(
    flows: pd.DataFrame, view: str = FLOW_VIEWS[0], categories: Iterable[str] | None = None
) -> pd.DataFrame:
    """The rows of a :func:`flow_table` a view of :data:`FLOW_VIEWS` keeps (all, harmful
    categories only, or categories prohibited where the requester lives only), within
    ``categories`` if given."""
    keep = np.ones(len(flows), dtype=bool)
    if categories is not None:
        keep &= flows["category"].isin(list(categories)).to_numpy()
    if view == FLOW_VIEWS[1]:
        keep &= flows["harmful"].to_numpy(dtype=bool)
    elif view == FLOW_VIEWS[2]:
        keep &= flows["prohibited"].to_numpy(dtype=bool)
    elif view != FLOW_VIEWS[0]:
        raise ValueError(f"unknown view {view!r}: one of {', '.join(FLOW_VIEWS)}")
    return flows[keep]


def sankey_figure(flows: pd.DataFrame, jurisdictions: list[str]) -> go.Figure:
    """Requests served, from the requester's jurisdiction (left) to the serving node's
    jurisdiction (right). With a :func:`flow_table`'s flags, leaked flows (prohibited
    where the requesters live, served anyway) are links of their own in
    :data:`LEAKED_LINK`, lawful ones in :data:`LAWFUL_LINK`; hovering a link shows its
    requests, how many were harmful and whether they leaked."""
    frame = pd.DataFrame(
        {
            "origin": flows["origin"].astype(str).to_numpy(),
            "destination": flows["destination"].astype(str).to_numpy(),
            "leaked": (
                flows["leaked"].to_numpy(dtype=bool)
                if "leaked" in flows
                else np.zeros(len(flows), dtype=bool)
            ),
            "served": flows["served"].to_numpy(),
            "harmful": (
                np.where(flows["harmful"].to_numpy(dtype=bool), flows["served"].to_numpy(), 0)
                if "harmful" in flows
                else np.zeros(len(flows), dtype=np.int64)
            ),
        }
    )
    by_pair = frame.groupby(["origin", "destination", "leaked"], sort=True)[
        ["served", "harmful"]
    ].sum()
    by_pair = by_pair[by_pair["served"] > 0].reset_index()
    index = {j: i for i, j in enumerate(jurisdictions)}
    n = len(jurisdictions)
    colours = [PALETTE[i % len(PALETTE)] for i in range(n)]
    status = np.where(
        by_pair["leaked"],
        "leaked: prohibited where the requesters live, served anyway",
        "lawful where the requesters live",
    )
    figure = go.Figure(
        go.Sankey(
            node=dict(
                label=[f"{j} (requesters)" for j in jurisdictions]
                + [f"{j} (nodes)" for j in jurisdictions],
                color=colours * 2,
                pad=12,
                hovertemplate="%{label}: %{value:,} requests<extra></extra>",
            ),
            link=dict(
                source=[index[o] for o in by_pair["origin"]],
                target=[n + index[d] for d in by_pair["destination"]],
                value=by_pair["served"].tolist(),
                color=[LEAKED_LINK if leak else LAWFUL_LINK for leak in by_pair["leaked"]],
                customdata=np.column_stack(
                    [by_pair["origin"], by_pair["destination"], by_pair["harmful"], status]
                ).tolist(),
                hovertemplate="%{customdata[0]} requesters → %{customdata[1]} nodes<br>"
                "%{value:,} requests served, %{customdata[2]:,} of them harmful<br>"
                "%{customdata[3]}<extra></extra>",
            ),
        )
    )
    figure.update_layout(margin=MARGIN, height=420)
    return figure


def node_days(node_states: pd.DataFrame, flows: pd.DataFrame) -> pd.DataFrame:
    """Each node's state per recorded day (``node_states``, recorded every day) with
    ``served_today`` (requests it served that day: its ``served_total`` less the day
    before's) and ``host_harmful`` (harmful requests served that day by all the nodes
    hosted in its jurisdiction, from a :func:`flow_table`: the tables count harmful
    service per host jurisdiction, not per node)."""
    states = node_states.sort_values(["node_id", "step"], kind="stable")
    before = states.groupby("node_id", sort=False)["served_total"].shift(1).fillna(0)
    states = states.assign(served_today=(states["served_total"] - before).astype(np.int64))
    harmful = (
        flows[flows["harmful"].to_numpy(dtype=bool)]
        .groupby(["step", "destination"], observed=True)["served"]
        .sum()
        .rename("host_harmful")
        .reset_index()
        .rename(columns={"destination": "jurisdiction"})
    )
    states = states.merge(harmful, on=["step", "jurisdiction"], how="left")
    states["host_harmful"] = states["host_harmful"].fillna(0).astype(np.int64)
    return states.sort_values(["step", "node_id"], kind="stable").reset_index(drop=True)


@dataclass(frozen=True)
class NetworkLayout:
    """Where each drawn node of a run sits, computed once per run (the frames of the
    network view do not move)."""

    #: Index ``node_id``; columns ``x``, ``y``.
    positions: pd.DataFrame
    #: The links among drawn nodes as one SVG path (drawn as a single shape: far quicker
    #: for a browser than a line trace of every link).
    edge_path: str
    #: Nodes that joined during the run (on the outer ring: their links are not recorded).
    joined: tuple[int, ...]


def network_layout(
    graph: nx.Graph, node_ids: Iterable[int], *, max_nodes: int = 300, seed: int = LAYOUT_SEED
) -> NetworkLayout:
    """Positions of the nodes drawn: a spring layout of the node network (``graph``, as
    the run starts) with a fixed seed, so the same network always looks the same; nodes
    not in ``graph`` (they joined during the run) on a ring around it. Markets of more
    than ``max_nodes`` nodes show a fixed random sample of them."""
    ids = np.unique(np.asarray(list(node_ids), dtype=np.int64))
    if ids.size > max_nodes:
        ids = np.sort(np.random.default_rng(seed).choice(ids, max_nodes, replace=False))
    start = [int(n) for n in ids if graph.has_node(int(n))]
    joined = [int(n) for n in ids if not graph.has_node(int(n))]
    sub = graph.subgraph(start)
    pos = nx.spring_layout(sub, seed=seed) if start else {}
    angles = 2 * np.pi * np.arange(len(joined)) / max(len(joined), 1)
    for node, angle in zip(joined, angles, strict=True):
        pos[node] = np.array([1.3 * np.cos(angle), 1.3 * np.sin(angle)])
    positions = pd.DataFrame(
        [(n, float(pos[n][0]), float(pos[n][1])) for n in start + joined],
        columns=["node_id", "x", "y"],
    ).set_index("node_id")
    edge_path = "".join(
        f"M{pos[u][0]:.4f},{pos[u][1]:.4f}L{pos[v][0]:.4f},{pos[v][1]:.4f}" for u, v in sub.edges()
    )
    return NetworkLayout(positions, edge_path, tuple(joined))


def network_figure(
    states: pd.DataFrame,
    layout: NetworkLayout,
    *,
    highlight: bool = False,
    permissive: Iterable[str] = (),
) -> go.Figure:
    """The node network on one day (plotly): colour = host jurisdiction, symbol = model
    kind, hollow = offline at the end of the day (taken down, exited or relocating);
    hovering a node shows its host, model kind, status, compliance and what it served
    that day. Only nodes placed by ``layout`` are drawn, where it put them.

    Args:
        states: The day's rows of :func:`node_days`.
        layout: The run's :func:`network_layout`.
        highlight: Ring the nodes that served requests that day in a host jurisdiction
            whose nodes served harmful requests that day (per-node harmful service is not
            recorded).
        permissive: Names of the permissive model kinds (said in the hover text).
    """
    jurisdictions = list(states["jurisdiction"].cat.categories)
    models = list(states["model"].cat.categories)
    drawn = states[states["node_id"].isin(layout.positions.index)]
    at = layout.positions.loc[drawn["node_id"]]
    drawn = drawn.assign(x=at["x"].to_numpy(), y=at["y"].to_numpy())
    permissive = set(permissive)
    figure = go.Figure()
    if layout.edge_path:
        figure.add_shape(
            type="path",
            path=layout.edge_path,
            line=dict(color="rgba(120,120,120,0.25)", width=0.6),
            layer="below",
        )
    symbol_of = {m: SYMBOLS[i % len(SYMBOLS)] for i, m in enumerate(models)}
    for j_index, jur in enumerate(jurisdictions):
        here = drawn[drawn["jurisdiction"] == jur]
        if here.empty:
            continue
        active = (here["status"] == "active").to_numpy()
        symbols = [
            symbol_of[m] if on else f"{symbol_of[m]}-open"
            for m, on in zip(here["model"], active, strict=True)
        ]
        text = [
            f"<b>node {node}</b><br>host: {jur}<br>model kind: {model}"
            f"{' (permissive)' if model in permissive else ''}<br>"
            f"status (end of day): {status.replace('_', ' ')}<br>"
            f"compliant: {'yes' if ok else 'no'}<br>served today: {served:,} requests<br>"
            f"harmful requests served by {jur}'s nodes today: {harm:,}"
            for node, model, status, ok, served, harm in zip(
                here["node_id"],
                here["model"],
                here["status"],
                here["compliant"],
                here["served_today"],
                here["host_harmful"],
                strict=True,
            )
        ]
        colour = PALETTE[j_index % len(PALETTE)]
        figure.add_scatter(  # the legend's entry: clicking it hides the host's nodes
            x=[None],
            y=[None],
            mode="markers",
            name=str(jur),
            legendgroup=str(jur),
            marker=dict(symbol="circle", size=9, color=colour),
            hoverinfo="skip",
        )
        figure.add_scatter(
            x=here["x"].tolist(),
            y=here["y"].tolist(),
            mode="markers",
            name=str(jur),
            legendgroup=str(jur),
            showlegend=False,
            marker=dict(symbol=symbols, size=9, color=colour, line=dict(color=colour, width=1.2)),
            text=text,
            hovertemplate="%{text}<extra></extra>",
        )
    for model in models:
        figure.add_scatter(
            x=[None],
            y=[None],
            mode="markers",
            name=str(model),
            marker=dict(symbol=symbol_of[model], size=9, color="grey"),
            hoverinfo="skip",
        )
    if highlight:
        lit = drawn[(drawn["served_today"] > 0) & (drawn["host_harmful"] > 0)]
        figure.add_scatter(
            x=lit["x"].tolist(),
            y=lit["y"].tolist(),
            mode="markers",
            name="served where harmful requests were served today",
            marker=dict(symbol="circle-open", size=17, color=HIGHLIGHT, line=dict(width=2)),
            hoverinfo="skip",
        )
    xs, ys = layout.positions["x"], layout.positions["y"]
    pad = 0.08
    figure.update_xaxes(visible=False, range=[xs.min() - pad, xs.max() + pad], fixedrange=False)
    figure.update_yaxes(visible=False, range=[ys.min() - pad, ys.max() + pad])
    figure.update_layout(
        margin=MARGIN,
        height=520,
        plot_bgcolor="white",
        hovermode="closest",
        uirevision="network",
        legend=dict(title_text="colour: host<br>symbol: model kind<br>(hollow: offline)"),
    )
    return figure


@dataclass(frozen=True)
class PlayerFrames:
    """What each day of a run draws on the Watch page, computed once per run: showing a
    day is a dictionary lookup. Days are numbered from 1 (day ``d`` is step ``d - 1``),
    as on the Run page's charts."""

    name: str
    seed: int
    days: int
    jurisdictions: tuple[str, ...]
    categories: tuple[str, ...]
    permissive: tuple[str, ...]
    #: The metrics table, index ``step``.
    metrics: pd.DataFrame
    #: Step -> that day's rows of :func:`flow_table`.
    flows: Mapping[int, pd.DataFrame]
    #: Step -> that day's rows of :func:`node_days` for the nodes drawn.
    nodes: Mapping[int, pd.DataFrame]
    layout: NetworkLayout
    marks: tuple[TimelineMark, ...]

    def flows_on(self, day: int) -> pd.DataFrame:
        """Day ``day``'s flows (none: an empty table)."""
        return self.flows.get(day - 1, self._no_flows)

    def nodes_on(self, day: int) -> pd.DataFrame | None:
        """Day ``day``'s node states (None: not recorded that day)."""
        return self.nodes.get(day - 1)

    @property
    def _no_flows(self) -> pd.DataFrame:
        first = next(iter(self.flows.values()), None)
        return first.iloc[:0] if first is not None else pd.DataFrame()


def player_frames(results: Results, graph: nx.Graph, *, max_nodes: int = 300) -> PlayerFrames:
    """The frames of a run recorded with every node's state every day
    (``recording.node_snapshot_every: 1``): flows and node states grouped by day, node
    positions from ``graph`` (the node network as the run starts) and the timeline's
    events."""
    spec = load_scenario(results.meta["scenario"])
    harmful = [name for name, category in spec.categories.items() if category.harmful]
    flows = flow_table(results.flows, results.requests, harmful)
    layout = network_layout(graph, results.node_states["node_id"], max_nodes=max_nodes)
    states = results.node_states[results.node_states["node_id"].isin(layout.positions.index)]
    nodes = node_days(states, flows)
    return PlayerFrames(
        name=spec.name,
        seed=int(results.meta["seed"]),
        days=int(results.meta["steps"]),
        jurisdictions=tuple(spec.jurisdictions),
        categories=tuple(spec.categories),
        permissive=tuple(scenario_permissive(spec)),
        metrics=results.metrics.set_index("step"),
        flows={int(s): f.reset_index(drop=True) for s, f in flows.groupby("step", sort=True)},
        nodes={int(s): f.reset_index(drop=True) for s, f in nodes.groupby("step", sort=True)},
        layout=layout,
        marks=tuple(timeline_marks(spec)),
    )


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
