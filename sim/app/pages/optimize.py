"""Policy search: open a folder written by ``dirisk optimize`` and read its Pareto
policies (levers and objectives in parallel coordinates, brushable), which of them stay
non-dominated over fresh futures, how the search moved generation by generation, and
each policy as a scenario file to run."""

from __future__ import annotations

from pathlib import Path

import plotly.graph_objects as go
import streamlit as st

from sim.app.folders import choose_folder
from sim.experiments.optimize import (
    REQUIRED_OBJECTIVE,
    OptimizeError,
    OptimizeResult,
    load_result,
)
from sim.output.optimize_report import (
    pareto_table,
    reevaluation_table,
    search_summary,
    stays_non_dominated,
)
from sim.results.outcomes import outcome

__all__: list[str] = []

#: Plotly tick formats by outcome unit.
TICK_FORMATS = {"share": ".1%", "USD": "$,.0f", "count": ",.0f"}


def parcoords(result: OptimizeResult) -> go.Figure:
    """The Pareto policies in parallel coordinates: levers on their bounds, objectives
    with the best value at the bottom, coloured by the first objective; with a
    re-evaluation, a last axis says which stay non-dominated over fresh futures."""
    pareto = result.pareto
    dimensions = []
    for lever in result.levers.levers:
        values = pareto[lever.column].astype(float).tolist()
        dimension = {"label": lever.column, "values": values, "range": [lever.low, lever.high]}
        if lever.type == "bool":
            dimension |= {"tickvals": [0, 1], "ticktext": ["no", "yes"]}
        dimensions.append(dimension)
    for objective in result.objectives:
        values = pareto[objective.outcome].astype(float).tolist()
        low, high = min(values), max(values)
        if low == high:
            low, high = low - 0.5 * abs(low or 1), high + 0.5 * abs(high or 1)
        best_first = [low, high] if objective.direction == "min" else [high, low]
        dimensions.append(
            {
                "label": f"{outcome(objective.outcome).label} ({objective.direction})",
                "values": values,
                "range": best_first,
                "tickformat": TICK_FORMATS[outcome(objective.outcome).unit],
            }
        )
    stays = stays_non_dominated(result)
    if stays is not None:
        dimensions.append(
            {
                "label": "non-dominated over fresh futures",
                "values": stays.astype(int).tolist(),
                "range": [0, 1],
                "tickvals": [0, 1],
                "ticktext": ["no", "yes"],
            }
        )
    first = result.objectives[0]
    figure = go.Figure(
        go.Parcoords(
            line={
                "color": pareto[first.outcome].astype(float).tolist(),
                "colorscale": "Viridis",
                "reversescale": first.direction == "min",
                "showscale": True,
                "colorbar": {
                    "title": {"text": outcome(first.outcome).label, "side": "right"},
                    "x": 1.06,
                    "thickness": 14,
                },
            },
            dimensions=dimensions,
            labelangle=-20,
        )
    )
    figure.update_layout(height=460, margin={"t": 90, "b": 30, "l": 60, "r": 130})
    return figure


def history_figure(result: OptimizeResult) -> go.Figure:
    """Every candidate evaluated, on enforcement spend against the first other objective,
    coloured by generation, with the Pareto policies ringed."""
    spend = REQUIRED_OBJECTIVE
    others = [o for o in result.objectives if o.outcome != spend]
    y = (others or result.objectives)[0]
    history, pareto = result.history, result.pareto
    generations = int(history["generation"].max()) + 1 if len(history) else 1
    yscale = 100 if outcome(y.outcome).unit == "share" else 1
    figure = go.Figure(
        [
            go.Scatter(
                x=history[spend].tolist(),
                y=(yscale * history[y.outcome]).tolist(),
                mode="markers",
                name="candidates",
                marker={
                    "color": (history["generation"] + 1).tolist(),
                    "colorscale": [[0.0, "#9ecae1"], [1.0, "#08306b"]],  # light to dark blue
                    "cmin": 1,
                    "cmax": max(2, generations),
                    "showscale": True,
                    "colorbar": {
                        "title": {"text": "generation"},
                        "tickformat": "d",
                        "dtick": max(1, generations // 10),
                    },
                    "size": 7,
                },
                customdata=(history[["generation", "candidate"]] + [1, 0]).to_numpy().tolist(),
                hovertemplate="generation %{customdata[0]}, candidate %{customdata[1]}"
                "<extra></extra>",
            ),
            go.Scatter(
                x=pareto[spend].tolist(),
                y=(yscale * pareto[y.outcome]).tolist(),
                mode="markers",
                name="Pareto policies",
                marker={
                    "symbol": "circle-open",
                    "size": 13,
                    "color": "#D55E00",
                    "line": {"width": 2},
                },
                customdata=pareto["policy"].tolist(),
                hovertemplate="policy %{customdata}<extra></extra>",
            ),
        ]
    )
    ylabel = "%" if yscale == 100 else outcome(y.outcome).unit
    figure.update_layout(
        xaxis_title=f"{outcome(spend).label} (USD)",
        yaxis_title=f"{outcome(y.outcome).label} ({ylabel})",
        height=420,
        margin={"t": 20, "b": 10},
        legend={"orientation": "h", "y": 1.08},
    )
    return figure


st.title("Policy search")
st.caption(
    "`dirisk optimize BASE --levers FILE` searches the settings of a few policy levers for "
    "the ones no other setting beats on every objective at once (the Pareto set), each "
    "scored over the same plausible futures, then re-runs them in fresh futures to see "
    "which stay on the frontier. Open its folder here."
)
root = choose_folder(
    "Optimisation folder",
    "optimizations/",
    marker="optimization.json",
    what="optimisation folder",
    command="`dirisk optimize`",
    choice="Search",
    key="optimize_dir",
    choice_key="optimize_choice",
)
try:
    result = load_result(root)
except (OptimizeError, OSError, ValueError, KeyError) as exc:
    st.error(str(exc).splitlines()[0])
    st.stop()

settings = result.settings
st.header(f"{settings.get('base_name', 'Search')}: {len(result.pareto)} Pareto-optimal policies")
st.caption(search_summary(result))
if settings.get("state") != "complete":
    st.warning(
        f"This search is {settings.get('state', 'unfinished')}: rerun the same `dirisk "
        "optimize` command with this --out folder to finish it."
    )
if result.pareto.empty:
    st.info("No candidate was evaluated, so there is no Pareto policy to show.")
    st.stop()

st.plotly_chart(parcoords(result), key="pareto_chart")
st.caption(
    "One line per Pareto policy. Levers span their bounds; objectives span the policies' "
    "range with the best value at the bottom. Drag along an axis to keep only the policies "
    "within a range."
)
st.dataframe(pareto_table(result), hide_index=True, key="pareto_table")

stays = stays_non_dominated(result)
if stays is not None:
    st.header("Across fresh futures")
    st.write(
        f"{int(stays.sum())} of {len(stays)} Pareto policies stay non-dominated when run "
        f"again in {settings.get('reevaluate')} fresh futures with fresh seeds. A policy "
        "that drops off was partly fitted to the futures of the search."
    )
    st.dataframe(reevaluation_table(result), hide_index=True, key="reevaluation_table")

st.header("The search")
st.plotly_chart(history_figure(result), key="history_chart")
st.caption(
    "Every candidate evaluated, darker in later generations; the ringed ones are the "
    "Pareto policies. Two objectives only: with more, a Pareto policy may look beaten here "
    "and be better on another. Each candidate's runs are a sweep folder under generations/, "
    "which Explore sweeps opens."
)

st.header("Run a policy")
chosen = st.selectbox(
    "Policy",
    result.pareto["policy"].astype(int).tolist(),
    format_func=lambda k: f"policy {k}",
    key="policy_choice",
)
path = Path(root) / "policies" / f"policy_{chosen}.yaml"
try:
    text = path.read_text(encoding="utf-8")
except OSError as exc:
    st.error(f"{path}: unreadable ({exc.strerror})")
    st.stop()
steps = settings.get("steps")
st.code(f"dirisk run {path}" + (f" --steps {steps}" if steps else ""), language="bash")
st.download_button(
    f"Download policy_{chosen}.yaml",
    text,
    file_name=f"policy_{chosen}.yaml",
    mime="application/x-yaml",
    key="policy_download",
)
st.code(text, language="yaml")
