"""Compare: two scenarios side by side over the same seeds, with uncertainty."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
import yaml

from sim.app.controls import Controls, apply
from sim.app.session import run_cached
from sim.common.stats import INTERVAL_METHOD
from sim.experiments.compare import compare
from sim.results.outcomes import outcome
from sim.scenario import ScenarioError, list_presets, load_scenario, set_path, validate

__all__: list[str] = []

st.title("Compare two scenarios")
st.caption(
    "Both scenarios run on the same seeds (common random numbers), so the difference "
    "between them is measured more precisely than either alone."
)
CURRENT = "the Run page's scenario, with its levers"
presets = list(list_presets())
current = st.session_state.get("run_page_scenario")
choices = ([CURRENT] if current else []) + presets
left, right = st.columns(2)
name_a = left.selectbox(
    "Scenario A", choices, index=choices.index("baseline") if not current else 0, key="a"
)
mode = right.radio("Scenario B is", ["another preset", "A with one parameter changed"], key="mode")
if mode == "another preset":
    name_b = right.selectbox(
        "Scenario B", choices, index=choices.index("defence_in_depth"), key="b"
    )
else:
    path = right.text_input(
        "Parameter (dotted path, * for every key)",
        "jurisdictions.*.enforcement.audit_rate",
        key="path",
    )
    value = right.text_input("New value (YAML)", "0.05", key="value")
    name_b = f"{name_a} with {path} = {value}"
replications = st.slider("Replications (seeds)", 2, 10, 3, key="replications")
steps = st.slider("Days per run", 10, 365, 60, key="compare_steps")


def scenario_of(name: str) -> dict:
    """A choice as a scenario mapping: a preset, or the Run page's (levers applied)."""
    return copy.deepcopy(current) if name == CURRENT else load_scenario(name).to_dict()


inputs = (
    name_a,
    mode,
    name_b,
    replications,
    steps,
    str(current) if CURRENT in (name_a, name_b) else "",
)
kept = st.session_state.get("comparison")
if st.button("Compare", type="primary", key="compare"):
    data_a = scenario_of(name_a)
    try:
        if mode == "another preset":
            data_b = scenario_of(name_b)
        else:
            data_b = copy.deepcopy(data_a)
            set_path(data_b, path, yaml.safe_load(value))
        specs = [
            validate(apply(data, Controls(steps=steps)), source=name)
            for data, name in ((data_a, name_a), (data_b, name_b))
        ]
    except (ScenarioError, yaml.YAMLError) as exc:
        st.error(str(exc).splitlines()[0])
        st.stop()
    result = compare(
        specs[0],
        specs[1],
        seeds=replications,
        runner=lambda spec, seed: run_cached(spec, seed, remember=False).metrics,
    )
    kept = {"inputs": inputs, "result": result, "names": (name_a, name_b)}
    st.session_state["comparison"] = kept
if kept is None:
    st.stop()
if kept["inputs"] != inputs:
    st.info("The choices above have changed since this comparison: press **Compare** to update it.")
result = kept["result"]
name_a, name_b = kept["names"]


def shown(value: float, unit: str, *, signed: bool = False) -> str:
    """A value for people: shares as percentages (differences in points), counts and
    money with thousands separators, never e-notation."""
    if np.isnan(value):
        return "n/a"
    sign = "+" if signed else ""
    if unit == "share":
        return f"{100 * value:{sign}.1f} pp" if signed else f"{value:.1%}"
    if unit == "USD":
        return f"{'-' if value < 0 else sign}${abs(value):,.0f}"
    return f"{value:{sign},.0f}"


rows = []
for row in result.summary.itertuples(index=False):
    unit = outcome(row.metric).unit
    rows.append(
        {
            "measure": outcome(row.metric).label,
            f"A: {name_a}": shown(row.mean_a, unit),
            f"B: {name_b}": shown(row.mean_b, unit),
            "B − A": shown(row.diff, unit, signed=True),
            "95% interval of B − A": f"[{shown(row.diff_low, unit, signed=True)}, "
            f"{shown(row.diff_high, unit, signed=True)}]",
            "verdict": row.verdict,
        }
    )
st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
st.caption(
    f"{len(result.seeds)} common seeds. The interval is that of the per-seed differences "
    f"B − A ({INTERVAL_METHOD} at n = {len(result.seeds)}): 'B higher' or 'B lower' only "
    "when it excludes zero; 'not distinguishable' means these seeds cannot tell A and B "
    "apart, not that they are equal (add seeds). Differences of shares are in percentage "
    "points. `dirisk compare` gives the same numbers on the command line."
)

shares = result.summary[[outcome(m).unit == "share" for m in result.summary["metric"]]]
figure = go.Figure(
    go.Scatter(
        x=100 * shares["diff"],
        y=[outcome(m).label for m in shares["metric"]],
        mode="markers",
        marker={"size": 10, "color": "#0072B2"},
        error_x={
            "type": "data",
            "symmetric": False,
            "array": 100 * (shares["diff_high"] - shares["diff"]),
            "arrayminus": 100 * (shares["diff"] - shares["diff_low"]),
        },
        hovertemplate="%{y}: %{x:+.1f} pp<extra></extra>",
    )
)
figure.add_vline(x=0, line_color="black", line_width=1)
figure.update_layout(
    xaxis_title="B − A (percentage points), with its 95% interval",
    height=320,
    margin={"t": 20, "b": 10},
)
st.plotly_chart(figure, key="difference_chart")
