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
#: How long after the last frame played a slider value among the last frames played is
#: taken for a browser's stale value rather than a choice, seconds.
STALE_SECONDS = 3.0
state = st.session_state

st.title("Watch a run day by day")
shown = state.get("shown_run")
runs: dict[str, Results] = state.get("runs", {})
source_key = shown["key"] if shown and shown.get("key") in runs else state.get("last_run")
source = runs.get(source_key) if source_key else None
if source is None:
    st.info(
        "The Run page's run is no longer kept in this browser tab (older runs make way for "
        "new ones): press **Run** on the **Run** page again; it will play here."
        if shown
        else "Run a scenario on the **Run** page first; it will play here."
    )
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
st.markdown(
    f"Playing the run the **Run** page shows: **{frames.name}**, seed {frames.seed}, "
    f"{last} days. The player uses a copy of it simulated once more with every node's "
    "state recorded each day (the same run); **Export** offers the Run page's run."
)

# The day on screen is state["watch_day"]. The slider (key "day") is set to it before it
# renders, on every run, so it always shows the day drawn.
if state.get("watch_run") != source_key:  # another run: from its first day, stopped
    state["watch_run"] = source_key
    state["watch_day"] = 1
    state["watch_playing"] = False
state["watch_day"] = min(max(int(state.get("watch_day", 1)), 1), last)
if state["watch_day"] >= last:
    state["watch_playing"] = False


def touch() -> None:
    """A control was used: the next run of the player shows its effect without moving the
    day on."""
    state["watch_touched"] = True


def step(days: int) -> None:
    """Move ``days`` days (within the run), stopped."""
    state["watch_day"] = min(max(state["watch_day"] + days, 1), last)
    state["watch_playing"] = False
    touch()


def reset() -> None:
    state["watch_day"] = 1
    state["watch_playing"] = False
    touch()


def play() -> None:
    """Play from the day shown (from the first day when at the last)."""
    if state["watch_day"] >= last:
        state["watch_day"] = 1
    state["watch_playing"] = True
    state.pop("watch_recent", None)
    touch()


def pause() -> None:
    state["watch_playing"] = False
    touch()


def slid() -> None:
    """The slider was moved: show its day. While playing the slider is disabled, and the
    value a browser sends with a timer's tick or a click may be a frame behind, also just
    after the player stopped: a day among the last frames played, within
    :data:`STALE_SECONDS` of the last, is ignored."""
    value = int(state["day"])
    played_at, recent = state.get("watch_recent", (0.0, []))
    stale = value in recent and time.monotonic() - played_at < STALE_SECONDS
    if state.get("watch_drawn_playing") or stale:
        return
    state["watch_day"] = value
    touch()


# Playing uses st.fragment(run_every=...): while playing, the browser reruns the player
# fragment below every 1/speed seconds; each run moves the day on by one and draws it, and
# ends, so the browser swaps the previous frame's elements out. (A chain of st.rerun()
# calls never ends a run, and the browser keeps every frame's charts until one does.)
# The timer is set when the whole page runs: the controls that start or stop it sit
# outside the fragment, so using them reruns the page. They never change (Play and Pause
# are not disabled in turn), so a browser never holds two copies of them while the timer
# interrupts a run. AppTest never fires the timer: there, each AppTest.run() while
# playing is one tick of the same fragment.
playing = bool(state.get("watch_playing"))
buttons = st.columns([1, 1, 1, 1, 1.3, 2.7])
buttons[0].button(
    "Reset", key="watch_reset", icon=":material/first_page:", on_click=reset, help="Day 1"
)
buttons[1].button(
    "Back", key="watch_back", icon=":material/chevron_left:", on_click=step, args=(-1,)
)
buttons[2].button(
    "Play", key="watch_play", icon=":material/play_arrow:", on_click=play, type="primary"
)
buttons[3].button("Pause", key="watch_pause", icon=":material/pause:", on_click=pause)
buttons[4].button(
    "Forward", key="watch_forward", icon=":material/chevron_right:", on_click=step, args=(1,)
)
speed = buttons[5].select_slider(
    "Speed (days per second)",
    SPEEDS,
    value=4,
    key="watch_speed",
    help="At most: a slow browser draws fewer days a second.",
    on_change=touch,
    persist_state="session",
)


@st.fragment(run_every=1.0 / speed if playing else None)
def player() -> None:
    """The day slider, the day's numbers and events, the flow diagram and the network."""
    if state.get("watch_playing") and not state.pop("watch_touched", False):
        recent = state.get("watch_recent", (0.0, []))[1]
        state["watch_recent"] = (time.monotonic(), [*recent[-2:], state["watch_day"]])
        state["watch_day"] = min(state["watch_day"] + 1, last)
        if state["watch_day"] >= last:  # the end: stop the timer
            state["watch_playing"] = False
            touch()
            st.rerun(scope="app")
    state.pop("watch_touched", None)
    playing = bool(state.get("watch_playing"))
    state["watch_drawn_playing"] = playing
    day = state["watch_day"]
    state["day"] = day
    st.slider(
        "Day",
        1,
        last,
        key="day",
        on_change=slid,
        disabled=playing,
        help="Pause to pick a day" if playing else None,
    )
    m = frames.metrics.loc[day - 1]
    st.caption(
        f"Day {day}: {int(m['requests_served']):,} requests served, "
        f"{m['cross_border_share']:.0%} of them across borders; "
        f"{int(m['harmful_completed']):,} harmful requests completed; "
        f"{int(m['prohibited_served']):,} prohibited where the requester lives served "
        f"anyway; {int(m['active_nodes']):,} active nodes, "
        f"{m['permissive_node_share']:.0%} permissive."
    )
    st.caption(
        f"Playing, {state['watch_speed']} days a second (pause to pick a day)."
        if playing
        else "Paused."
    )
    happened = [mark for mark in frames.marks if mark.day <= day]
    if happened:
        latest = happened[-1]
        today = " (today)" if latest.day == day else ""
        st.warning(f"Timeline: {latest.label}{today}.", icon=":material/event:")
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
            on_change=touch,
            persist_state="session",
        )
        view = view or FLOW_VIEWS[0]
        with st.expander("Request categories"):
            chosen = st.multiselect(
                "Request categories in the flow diagram",
                list(frames.categories),
                default=list(frames.categories),
                key="categories",
                on_change=touch,
                persist_state="session",
            )
        flows = flow_view(frames.flows_on(day), view, chosen)
        if flows.empty or int(flows["served"].sum()) == 0:
            what = {
                FLOW_VIEWS[0]: "No requests",
                FLOW_VIEWS[1]: "No harmful requests",
                FLOW_VIEWS[2]: "No requests prohibited where the requester lives",
            }[view]
            st.info(f"{what} in the chosen categories were served on day {day}.")
        else:
            st.plotly_chart(sankey_figure(flows, list(frames.jurisdictions)), key="watch_sankey")
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
            on_change=touch,
            persist_state="session",
        )
        nodes = frames.nodes_on(day)
        if nodes is None:
            st.info(f"Node states were not recorded on day {day}.")
            return
        st.plotly_chart(
            network_figure(nodes, frames.layout, highlight=highlight, permissive=frames.permissive),
            key="watch_network",
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


player()
