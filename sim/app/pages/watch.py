"""Watch: step through the last run day by day: who serves whom, and the node network."""

from __future__ import annotations

import json
import time

import streamlit as st

from sim.app.figures import network_figure, sankey_figure
from sim.app.session import last_run, run_cached
from sim.results.runner import build_model
from sim.scenario import load_scenario

__all__: list[str] = []

st.title("Watch a run day by day")
results = last_run()
if results is None:
    st.info("Run a scenario on the **Run** page first; it will play here.")
    st.stop()

spec = load_scenario(results.meta["scenario"])
seed = int(results.meta["seed"])
# The same run with every node's state recorded daily (recording draws no random numbers,
# so the run is identical).
spec = spec.model_copy(
    update={"recording": spec.recording.model_copy(update={"node_snapshot_every": 1})}
)
results = run_cached(spec, seed)


@st.cache_resource(show_spinner=False)
def node_graph(scenario_json: str, seed: int):
    """The node network the run starts with (rebuilt: construction is deterministic)."""
    return build_model(load_scenario(json.loads(scenario_json)), seed=seed).node_graph


graph = node_graph(spec.model_dump_json(), seed)
last_day = int(results.metrics["step"].max())
categories = list(spec.categories)
left, right = st.columns([3, 2])
chosen = right.multiselect(
    "Request categories in the flow diagram", categories, default=categories, key="categories"
)
day = left.slider("Day", 0, last_day, last_day, key="day")
play = left.button("Play from this day", key="play")
flow_slot, network_slot, caption_slot = st.empty(), st.empty(), st.empty()


def show(step: int) -> None:
    """Draw the flow diagram and network of one day."""
    flows = results.flows[(results.flows["step"] == step) & results.flows["category"].isin(chosen)]
    states = results.node_states[results.node_states["step"] == step]
    with flow_slot.container():
        st.subheader(f"Day {step}: requests served, from requester to serving jurisdiction")
        st.plotly_chart(sankey_figure(flows, list(spec.jurisdictions)), key=f"sankey_{step}")
    with network_slot.container():
        st.subheader("The node network")
        st.pyplot(network_figure(graph, states, seed=seed), clear_figure=True)
    m = results.metrics.set_index("step").loc[step]
    caption_slot.caption(
        f"Day {step}: {int(m['requests_served']):,} requests served, "
        f"{m['cross_border_share']:.0%} of them across borders; "
        f"{int(m['harmful_completed']):,} harmful requests completed; "
        f"{int(m['active_nodes']):,} active nodes, {m['permissive_node_share']:.0%} permissive."
    )


if play:
    for step in range(day, last_day + 1):
        show(step)
        time.sleep(0.3)
else:
    show(day)
