"""Robustness: open a folder written by ``dirisk robust`` and read whether each policy
holds across plausible futures, what it costs, its regret, and where it fails."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from sim.analysis.robustness import (
    RobustnessError,
    recorded_thresholds,
    robust_record,
    robustness_of,
)
from sim.app.folders import choose_folder
from sim.results.outcomes import outcome

__all__: list[str] = []

st.title("Robust policies across plausible futures")
st.caption(
    "Most of what drives the model's numbers is assumed. `dirisk robust POLICY... --against "
    "BASE` runs every policy and the base in the same plausible futures, drawn from the "
    "uncertainty catalogue, with the same seeds; open its folder here."
)
root = choose_folder(
    "Robustness folder",
    "robust/",
    marker="robust.json",
    what="robustness folder",
    command="`dirisk robust`",
    choice="Analysis",
    key="robust_dir",
    choice_key="robust_choice",
)
try:
    recorded_harm, recorded_cost = recorded_thresholds(robust_record(root))
except (RobustnessError, ValueError) as exc:
    st.error(str(exc).splitlines()[0])
    st.stop()
harm = st.slider(
    "A policy holds when harm falls by at least",
    0.0,
    max(0.5, recorded_harm),
    recorded_harm,
    0.05,
    key=f"harm_{root}",
)
cost = st.slider(
    "It is costly when over-refusal rises by more than (share points)",
    0.0,
    max(0.05, recorded_cost),
    recorded_cost,
    0.005,
    format="%.3f",
    key=f"cost_{root}",
)
st.caption("The thresholds start at those of the command that wrote the folder.")
try:
    result = robustness_of(root, harm_threshold=harm, cost_threshold=cost)
except (RobustnessError, OSError, ValueError) as exc:
    st.error(str(exc).splitlines()[0])
    st.stop()

st.header(f"Against {result.base}, in {len(result.futures)} futures")
verdicts = result.summary[result.summary["outcome"] == "harmful_completed"]
st.dataframe(
    pd.DataFrame(
        {
            "policy": verdicts["policy"],
            "holds in": [f"{v:.0%}" for v in verdicts["holds_share"]],
            "costly in": [f"{v:.0%}" for v in verdicts["costly_share"]],
            "mean effect on harm completed": [f"{v:+,.0f}" for v in verdicts["mean_effect"]],
        }
    ),
    hide_index=True,
    key="verdicts",
)
st.caption(
    f"Holds: harmful requests completed fall by at least {harm:.0%} of the base's in that "
    f"future. Costly: benign or dual-use over-refusal rises by more than {100 * cost:g} "
    "percentage points."
)

st.header("Effects across futures")
name = st.selectbox(
    "Outcome",
    list(dict.fromkeys(result.effects["outcome"])),
    format_func=lambda n: outcome(n).label,
    key="robust_outcome",
)
scale = 100 if outcome(name).unit == "share" else 1
per_future = (
    result.effects[result.effects["outcome"] == name]
    .groupby(["policy", "future"])["effect"]
    .mean()
    .reset_index()
)
figure = go.Figure(
    [
        go.Box(x=scale * part["effect"], name=policy, boxpoints="all", jitter=0.4)
        for policy, part in per_future.groupby("policy", sort=False)
    ]
)
unit = "percentage points" if scale == 100 else outcome(name).unit
figure.add_vline(x=0, line_color="black", line_width=1)
figure.update_layout(
    xaxis_title=f"effect on {outcome(name).label} ({unit}), one point per future",
    height=360,
    showlegend=False,
    margin={"t": 20, "b": 10},
)
st.plotly_chart(figure, key="effects_chart")

st.header("Regret")
st.dataframe(result.regret, hide_index=True, key="regret")
st.caption(
    "Regret in a future: harmful requests completed under this choice minus under the best "
    "choice (base or policy) of that future; best in: the share of futures where it is best."
)

st.header("Where each policy fails")
if result.boxes.empty:
    st.info("Every policy holds everywhere, or fails everywhere: there is no region to find.")
else:
    st.dataframe(
        result.boxes[["policy", "method", "box", "rule", "coverage", "density"]],
        hide_index=True,
        key="boxes",
    )
    st.caption(
        "Boxes over the uncertain parameters where a policy does not hold: coverage is the "
        "share of its failing futures inside the box, density the share of the box's futures "
        "where it fails."
    )
