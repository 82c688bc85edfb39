"""Figures for the explorer: the node network and the cross-border flow diagram."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import networkx as nx  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import plotly.graph_objects as go  # noqa: E402

#: Colour-blind-safe palette (Okabe-Ito) for jurisdictions.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
#: Marker per model kind (cycled).
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


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
    figure.update_layout(margin=dict(l=10, r=10, t=10, b=10), height=420)
    return figure


def _with_alpha(hex_colour: str, alpha: float) -> str:
    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"
