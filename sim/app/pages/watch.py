"""Watch: play the Run page's run day by day: who serves whom, and the node network.

The player draws frames computed once per run (``sim.app.figures.player_frames``): the
Run page's run simulated once more with every node's state recorded each day (recording
draws no random numbers, so it is the same run), kept apart from the runs the other pages
show and export. Showing a day, stepping and playing are lookups in those frames.
"""

from __future__ import annotations

import time

import streamlit as st

from sim.app.figures import (
    FLOW_VIEWS,
    PlayerFrames,
    flow_view,
    network_figure,
    player_frames,
    sankey_figure,
)
from sim.app.session import MAX_RUNS
from sim.results import runner
from sim.results.tables import Results
from sim.scenario import load_scenario

__all__: list[str] = []

#: Playing speeds offered, days per second.
SPEEDS = (1, 2, 4, 8, 15, 30)
state = st.session_state

st.title("Watch a run day by day")
shown = state.get("shown_run")
runs: dict[str, Results] = state.get("runs", {})
source_key = shown["key"] if shown and shown.get("key") in runs else state.get("last_run")
source = runs.get(source_key) if source_key else None
if source is None:
    st.info("Run a scenario on the **Run** page first; it will play here.")
    st.stop()


def frames_of(key: str, results: Results) -> PlayerFrames:
    """The player's frames of the run ``results`` (kept per browser tab by the run's key,
    apart from ``runs``): simulated with daily node states the first time only."""
    players: dict[str, PlayerFrames] = state.setdefault("player_runs", {})
    if key not in players:
        spec = load_scenario(results.meta["scenario"])
        daily = spec.model_copy(
            update={"recording": spec.recording.model_copy(update={"node_snapshot_every": 1})}
        )
        seed = int(results.meta["seed"])
        bar = st.progress(0.0, text=f"Preparing the player: simulating {spec.name}…")
        recorded = runner.run(
            daily,
            seed=seed,
            progress=lambda done, total: bar.progress(
                done / total, text=f"Preparing the player: day {done} of {total}"
            ),
        )
        # The node network as the run starts (building a model simulates nothing).
        graph = runner.build_model(daily, seed=seed).node_graph
        players[key] = player_frames(recorded, graph)
        bar.empty()
        while len(players) > MAX_RUNS:
            players.pop(next(iter(players)))
    return players[key]


frames = frames_of(source_key, source)
last = frames.days

# The day on screen is state["watch_day"]; the slider (key "day") is set to it before it
# renders on every run of the page, so it always shows the day drawn.
if state.get("watch_run") != source_key:  # another run: from its first day, stopped
    state["watch_run"] = source_key
    state["watch_day"] = 1
    state["watch_playing"] = False
    state["watch_tick"] = False
state["watch_day"] = min(max(int(state.get("watch_day", 1)), 1), last)
# Playing: each run of the page draws one day, then sleeps for the rest of the frame's
# time and asks for the next run with st.rerun() (after setting "watch_tick"), which moves
# the day on. This works in a browser and in AppTest (which reruns on st.rerun in one
# AppTest.run); a fragment's run_every timer is driven by the browser and never fires in
# AppTest. A control pressed meanwhile runs its callback first and clears the tick.
if state.pop("watch_tick", False) and state.get("watch_playing"):
    state["watch_day"] = min(state["watch_day"] + 1, last)
if state["watch_day"] >= last:
    state["watch_playing"] = False
started = time.perf_counter()


def go_to(day: int) -> None:
    """Show ``day`` (within the run), stopped."""
    state["watch_day"] = min(max(day, 1), last)
    state["watch_playing"] = False
    state["watch_tick"] = False


def play() -> None:
    """Play from the day shown (from the first day when at the last)."""
    if state["watch_day"] >= last:
        state["watch_day"] = 1
    state["watch_playing"] = True
    state["watch_tick"] = False


def pause() -> None:
    state["watch_playing"] = False
    state["watch_tick"] = False


def slid() -> None:
    """The slider was moved: show its day (playing on from there if playing)."""
    state["watch_day"] = int(state["day"])
    state["watch_tick"] = False


st.markdown(
    f"Playing the run the **Run** page shows: **{frames.name}**, seed {frames.seed}, "
    f"{last} days. The player uses a copy of it simulated once more with every node's "
    "state recorded each day (the same run); **Export** offers the Run page's run."
)
playing = bool(state.get("watch_playing"))
buttons = st.columns([1, 1, 1, 1, 1, 3])
buttons[0].button(
    "⏮ Reset", key="watch_reset", on_click=go_to, args=(1,), help="Back to day 1", width="stretch"
)
buttons[1].button(
    "◀ Back",
    key="watch_back",
    on_click=go_to,
    args=(state["watch_day"] - 1,),
    disabled=state["watch_day"] <= 1,
    help="One day back",
    width="stretch",
)
buttons[2].button(
    "▶ Play", key="watch_play", on_click=play, disabled=playing, type="primary", width="stretch"
)
buttons[3].button(
    "⏸ Pause", key="watch_pause", on_click=pause, disabled=not playing, width="stretch"
)
buttons[4].button(
    "Forward ▶",
    key="watch_forward",
    on_click=go_to,
    args=(state["watch_day"] + 1,),
    disabled=state["watch_day"] >= last,
    help="One day forward",
    width="stretch",
)
buttons[5].select_slider(
    "Speed (days per second)", SPEEDS, value=4, key="watch_speed", persist_state="session"
)
state["day"] = state["watch_day"]
day = st.slider("Day", 1, last, key="day", on_change=slid)
step = day - 1
m = frames.metrics.loc[step]
st.caption(
    f"Day {day}: {int(m['requests_served']):,} requests served, "
    f"{m['cross_border_share']:.0%} of them across borders; "
    f"{int(m['harmful_completed']):,} harmful requests completed; "
    f"{int(m['prohibited_served']):,} prohibited where the requester lives served anyway; "
    f"{int(m['active_nodes']):,} active nodes, {m['permissive_node_share']:.0%} permissive."
)
happened = [mark for mark in frames.marks if mark.day <= day]
if happened:
    latest = happened[-1]
    today = " (today)" if latest.day == day else ""
    st.warning(f"Timeline: {latest.label}{today}.", icon="📅")
    if len(happened) > 1:
        st.caption("Earlier: " + "; ".join(mark.label for mark in happened[:-1]) + ".")
coming = [mark for mark in frames.marks if mark.day > day]
if coming:
    st.caption("Coming: " + "; ".join(mark.label for mark in coming) + ".")

left, right = st.columns(2)
with left:
    st.subheader(f"Day {day}: requests served, from requester to serving jurisdiction")
    view = st.segmented_control(
        "Show",
        FLOW_VIEWS,
        default=FLOW_VIEWS[0],
        key="watch_view",
        required=True,
        persist_state="session",
    )
    with st.expander("Request categories"):
        chosen = st.multiselect(
            "Request categories in the flow diagram",
            list(frames.categories),
            default=list(frames.categories),
            key="categories",
            persist_state="session",
        )
    flows = flow_view(frames.flows_on(day), view or FLOW_VIEWS[0], chosen)
    if flows.empty or int(flows["served"].sum()) == 0:
        what = {
            FLOW_VIEWS[0]: "No requests",
            FLOW_VIEWS[1]: "No harmful requests",
            FLOW_VIEWS[2]: "No requests prohibited where the requester lives",
        }[view or FLOW_VIEWS[0]]
        st.info(f"{what} in the chosen categories were served on day {day}.")
    else:
        st.plotly_chart(
            sankey_figure(flows, list(frames.jurisdictions)), key="watch_sankey", width="stretch"
        )
        leaked = int(flows.loc[flows["leaked"], "served"].sum())
        st.caption(
            f"{int(flows['served'].sum()):,} requests. Red links: {leaked:,} leaked "
            "(prohibited where the requesters live, served anyway); grey links: lawful "
            "where the requesters live. Hover a link or a jurisdiction for its numbers."
        )
with right:
    st.subheader("The node network")
    highlight = st.toggle(
        "Highlight nodes that may have served harmful requests today",
        key="watch_highlight",
        persist_state="session",
    )
    nodes = frames.nodes_on(day)
    if nodes is None:
        st.info(f"Node states were not recorded on day {day}.")
    else:
        st.plotly_chart(
            network_figure(nodes, frames.layout, highlight=highlight, permissive=frames.permissive),
            key="watch_network",
            width="stretch",
        )
        joined = (
            " Nodes that joined during the run sit on the outer ring (their links are not "
            "recorded)."
            if frames.layout.joined
            else ""
        )
        st.caption(
            "Colour: host jurisdiction; symbol: model kind; hollow: offline at the end of "
            "the day. Hover a node for its host, model, status, compliance and what it "
            f"served today. Positions stay fixed for the run.{joined}"
        )
        if highlight:
            st.caption(
                "Ringed: nodes that served requests today in a jurisdiction whose nodes "
                "served harmful requests today. The run counts harmful service per host "
                "jurisdiction and day, not per node, so a ringed node may have served only "
                "lawful requests; nodes with permissive models are the likeliest to have "
                "served harmful ones."
            )

if state.get("watch_playing"):
    time.sleep(max(0.0, 1.0 / float(state["watch_speed"]) - (time.perf_counter() - started)))
    state["watch_tick"] = True
    st.rerun()
