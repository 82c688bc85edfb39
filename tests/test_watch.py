"""The Watch page's player (AppTest) and its figures, and which run the Export page
offers: frames come from one daily-snapshot copy of the Run page's run, simulated once and
never per frame; the slider always shows the day drawn; the flow diagram's views and
colours; the node network's hover text and fixed positions; Export offers the Run page's
run, unchanged by the player, and its zip loads with ``sim.Results.load``."""

from __future__ import annotations

import io
import json
import re
import time
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

import sim
from sim.app.figures import (
    FLOW_VIEWS,
    LAWFUL_LINK,
    LEAKED_LINK,
    flow_view,
    network_figure,
    player_frames,
    sankey_figure,
)
from sim.results import runner
from sim.results.runner import build_model
from sim.scenario import load_scenario

APP = str(Path(__file__).resolve().parents[1] / "app.py")
WATCH = "sim/app/pages/watch.py"
EXPORT = "sim/app/pages/export.py"
RUN = "sim/app/pages/run.py"


def ran(steps: int = 10, **sliders) -> AppTest:
    """The explorer after the classroom preset ran for ``steps`` days on the Run page."""
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.slider(key="steps").set_value(steps)
    for key, value in sliders.items():
        at.slider(key=key).set_value(value)
    return at.button(key="run").click().run()


def shown_day(at: AppTest) -> int:
    """The day the page draws, read from its caption and the flow diagram's heading."""
    caption = re.match(r"Day (\d+):", at.caption[0].value)
    heading = [h.value for h in at.subheader if "requests served, from requester" in h.value]
    assert caption and heading
    assert heading[0].startswith(f"Day {caption[1]}:")
    return int(caption[1])


def status(at: AppTest) -> str:
    """The player's state as the page says it (playing or paused)."""
    return at.caption[1].value


def charts(at: AppTest) -> dict[str, dict]:
    """The page's plotly figures by chart kind (sankey or network)."""
    out = {}
    for chart in at.get("plotly_chart"):
        spec = json.loads(chart.proto.spec)
        kind = "sankey" if spec["data"][0]["type"] == "sankey" else "network"
        out[kind] = spec
    return out


def positions(spec: dict) -> dict[int, tuple[float, float]]:
    """Node id -> (x, y) of a network figure, read off its hover text."""
    out = {}
    for trace in spec["data"]:
        texts = trace.get("text") or []
        for x, y, text in zip(trace.get("x", []), trace.get("y", []), texts, strict=False):
            out[int(re.search(r"node (\d+)", text)[1])] = (x, y)
    return out


@pytest.fixture
def simulations(monkeypatch) -> list[tuple]:
    """Every call of ``sim.results.runner.run`` (the player's simulations)."""
    calls: list[tuple] = []
    real = runner.run

    def counting(*args, **kwargs):
        calls.append((args, kwargs))
        return real(*args, **kwargs)

    monkeypatch.setattr(runner, "run", counting)
    return calls


@pytest.fixture
def downloads(monkeypatch) -> dict[str, bytes]:
    """The bytes of every download the app offers, by the file name offered."""
    files: dict[str, bytes] = {}
    real = MemoryMediaFileStorage.load_and_get_id

    def keep(self, path_or_data, mimetype, kind, filename=None):
        if filename is not None:
            data = path_or_data.encode() if isinstance(path_or_data, str) else path_or_data
            files[filename] = bytes(data)
        return real(self, path_or_data, mimetype, kind, filename)

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", keep)
    return files


@pytest.fixture(scope="module")
def frames():
    """The player's frames of a 60-day classroom run."""
    spec = load_scenario("classroom_demo")
    daily = spec.model_copy(
        update={"recording": spec.recording.model_copy(update={"node_snapshot_every": 1})}
    )
    results = sim.run(daily, seed=3)
    return player_frames(results, build_model(daily, seed=3).node_graph), results


def test_the_player_simulates_once_and_never_per_frame(simulations):
    at = ran()
    runs = dict(at.session_state["runs"])
    del simulations[:]  # the Run page's run
    at.switch_page(WATCH).run()
    assert not at.exception and len(simulations) == 1
    assert simulations[0][0][0].recording.node_snapshot_every == 1  # daily node states
    at.select_slider(key="watch_speed").set_value(30)
    at.button(key="watch_play").click().run()
    for _ in range(5):  # frames while playing
        at.run()
    for key in ("watch_reset", "watch_forward", "watch_forward", "watch_back"):
        at.button(key=key).click().run()
    at.slider(key="day").set_value(7).run()
    at.switch_page(RUN).run()
    at.switch_page(WATCH).run()
    assert not at.exception and len(simulations) == 1
    # The Run page's runs are untouched; the player's copy is kept apart.
    assert at.session_state["runs"].keys() == runs.keys()
    assert at.session_state["last_run"] == at.session_state["shown_run"]["key"]
    assert list(at.session_state["player_runs"]) == [at.session_state["shown_run"]["key"]]


def test_after_play_the_slider_shows_the_day_drawn_and_60_days_take_seconds():
    at = ran(60)
    at.switch_page(WATCH).run()
    assert at.slider(key="day").value == 1 == shown_day(at)
    assert status(at) == "Paused."
    at.button(key="watch_play").click().run()
    assert status(at).startswith("Playing") and shown_day(at) == 1
    assert at.slider(key="day").proto.disabled  # pause to pick a day
    # The browser reruns the player on a timer while playing; here each run is a tick.
    took = []
    for day in range(2, 61):
        started = time.perf_counter()
        at.run()
        took.append(time.perf_counter() - started)
        assert not at.exception
        assert at.slider(key="day").value == day == shown_day(at)
    assert sum(took) / len(took) < 1.0, f"{sum(took) / len(took):.2f} s a frame"
    # Stopped at the end; the timeline's events passed are on the player.
    assert status(at) == "Paused." and not at.slider(key="day").proto.disabled
    at.run()
    assert at.slider(key="day").value == 60 == shown_day(at)
    assert "day 40: Members take down" in at.warning[0].value
    assert any("day 20: US-like regime cracks down" in c.value for c in at.caption)
    at.slider(key="day").set_value(25).run()
    assert shown_day(at) == 25 and "day 20: US-like regime" in at.warning[0].value
    assert any(c.value.startswith("Coming: day 40") for c in at.caption)
    at.slider(key="day").set_value(40).run()
    assert at.warning[0].value.endswith("(today).")


def test_pause_and_the_controls_stop_the_player_where_it_is():
    at = ran()
    at.switch_page(WATCH).run()
    at.button(key="watch_play").click().run()
    at.run()
    at.run()
    assert shown_day(at) == 3
    at.button(key="watch_pause").click().run()
    at.run()
    assert at.slider(key="day").value == 3 == shown_day(at)
    assert status(at) == "Paused."
    at.button(key="watch_play").click().run()
    at.run()
    at.button(key="watch_forward").click().run()  # stepping stops the player
    at.run()
    assert at.slider(key="day").value == 5 == shown_day(at)
    # Other controls while playing show their effect without skipping a day.
    at.button(key="watch_play").click().run()
    at.toggle(key="watch_highlight").set_value(True).run()
    assert shown_day(at) == 5
    at.run()
    assert shown_day(at) == 6


def test_step_forward_back_and_reset_move_one_day_one_day_and_to_the_first():
    at = ran()
    at.switch_page(WATCH).run()
    at.slider(key="day").set_value(5).run()
    assert shown_day(at) == 5
    at.button(key="watch_forward").click().run()
    assert at.slider(key="day").value == 6 == shown_day(at)
    at.button(key="watch_back").click().run()
    assert at.slider(key="day").value == 5 == shown_day(at)
    at.button(key="watch_back").click().run()
    assert at.slider(key="day").value == 4 == shown_day(at)
    at.button(key="watch_reset").click().run()
    assert at.slider(key="day").value == 1 == shown_day(at)
    at.button(key="watch_back").click().run()  # the first day stays
    assert at.slider(key="day").value == 1 == shown_day(at)
    at.slider(key="day").set_value(10).run()
    at.button(key="watch_forward").click().run()  # and so does the last
    assert at.slider(key="day").value == 10 == shown_day(at)
    # Play at the last day starts again from the first.
    at.button(key="watch_play").click().run()
    assert at.slider(key="day").value == 1 == shown_day(at)
    at.run()
    assert at.slider(key="day").value == 2 == shown_day(at)


def test_the_flow_views_keep_only_harmful_or_prohibited_flows_and_leaks_stand_out(frames):
    frames, results = frames
    harmful = {n for n, c in load_scenario("classroom_demo").categories.items() if c.harmful}
    leaked_per_day = []
    for day in range(1, frames.days + 1):
        flows = frames.flows_on(day)
        assert set(flow_view(flows, FLOW_VIEWS[1])["category"]) <= harmful
        prohibited = flow_view(flows, FLOW_VIEWS[2])
        assert prohibited["prohibited"].all() and prohibited["leaked"].all()
        leaked_per_day.append(int(flows.loc[flows["leaked"], "served"].sum()))
    # Leaked flows are exactly the prohibited requests served of the metrics.
    assert leaked_per_day == results.metrics["prohibited_served"].tolist()
    assert sum(leaked_per_day) > 0

    flows = frames.flows_on(30)
    link = sankey_figure(flows, list(frames.jurisdictions)).data[0].link
    colours = set(link.color)
    assert colours == {LEAKED_LINK, LAWFUL_LINK} and LEAKED_LINK != LAWFUL_LINK
    status = [row[3] for row in link.customdata]
    assert all(
        (c == LEAKED_LINK) == s.startswith("leaked")
        for c, s in zip(link.color, status, strict=True)
    )
    assert sum(link.value) == flows["served"].sum()
    assert "%{value:,} requests served" in link.hovertemplate
    only = sankey_figure(flow_view(flows, FLOW_VIEWS[2]), list(frames.jurisdictions))
    assert set(only.data[0].link.color) == {LEAKED_LINK}
    harmful_only = sankey_figure(flow_view(flows, FLOW_VIEWS[1]), list(frames.jurisdictions))
    assert all(
        row[2] == v
        for row, v in zip(
            harmful_only.data[0].link.customdata, harmful_only.data[0].link.value, strict=True
        )
    )


def test_the_page_switches_flow_views_and_says_when_nothing_is_left():
    at = ran()
    at.switch_page(WATCH).run()
    everything = sum(charts(at)["sankey"]["data"][0]["link"]["value"])
    at.segmented_control(key="watch_view").set_value(FLOW_VIEWS[1]).run()
    link = charts(at)["sankey"]["data"][0]["link"]
    assert not at.exception and 0 < sum(link["value"]) < everything
    assert all(
        row[2] == value for row, value in zip(link["customdata"], link["value"], strict=True)
    )
    at.multiselect(key="categories").set_value(["benign_general"]).run()
    assert not at.exception and "sankey" not in charts(at)
    assert "No harmful requests in the chosen categories were served on day 1" in at.info[0].value
    at.segmented_control(key="watch_view").set_value(FLOW_VIEWS[2]).run()
    assert "No requests prohibited where the requester lives" in at.info[0].value


def test_the_network_is_plotly_with_hover_details_and_fixed_positions(frames):
    frames, _ = frames
    day_1 = network_figure(frames.nodes_on(1), frames.layout)
    day_50 = network_figure(frames.nodes_on(50), frames.layout, highlight=True)
    spec_1, spec_50 = json.loads(day_1.to_json()), json.loads(day_50.to_json())
    text = " ".join(t for trace in spec_1["data"] for t in trace.get("text") or [])
    for words in (
        "host: eu",
        "model kind: aligned",
        "status (end of day): active",
        "compliant: ",
        "served today: ",
    ):
        assert words in text
    first, later = positions(spec_1), positions(spec_50)
    assert len(first) == 300 and first.keys() <= later.keys()
    assert all(later[n] == xy for n, xy in first.items())
    assert spec_1["layout"]["xaxis"]["range"] == spec_50["layout"]["xaxis"]["range"]
    # The highlight rings the nodes that served where harmful requests were served.
    ring = [t for t in spec_50["data"] if t.get("name", "").startswith("served where harmful")]
    nodes = frames.nodes_on(50)
    expected = ((nodes["served_today"] > 0) & (nodes["host_harmful"] > 0)).sum()
    assert len(ring) == 1 and len(ring[0]["x"]) == expected > 0
    # What a node served that day: its total less the day before's.
    day_49 = frames.nodes_on(49).set_index("node_id")["served_total"]
    today = frames.nodes_on(50).set_index("node_id")
    assert (today["served_today"] == today["served_total"] - day_49).all()


def test_the_page_draws_the_same_positions_on_two_days_and_after_a_lever_change():
    at = ran()
    at.switch_page(WATCH).run()
    network = charts(at)["network"]
    assert not at.exception and network["layout"]["shapes"][0]["type"] == "path"  # links
    texts = [t for trace in network["data"] for t in trace.get("text") or []]
    assert len(texts) == 300 and all("host: " in t and "model kind: " in t for t in texts)
    at.slider(key="day").set_value(8).run()
    assert positions(charts(at)["network"]) == positions(network)
    at.toggle(key="watch_highlight").set_value(True).run()
    assert not at.exception and positions(charts(at)["network"]) == positions(network)
    # Another lever, another run of the same node network: it sits in the same places.
    # (Levers that change who requests, such as the malicious share, draw another network.)
    at.switch_page(RUN).run()
    at.slider(key="audit_eu").set_value(3.0)
    at.button(key="run").click().run()
    at.switch_page(WATCH).run()
    assert len(at.session_state["player_runs"]) == 2
    assert positions(charts(at)["network"]) == positions(network)


def test_export_names_the_run_pages_run_and_a_watch_visit_changes_nothing(downloads, tmp_path):
    at = ran()
    at.switch_page(EXPORT).run()
    said = at.markdown[0].value
    assert "run the **Run** page shows: **classroom_demo**" in said and "10 days" in said
    before = dict(downloads)
    at.switch_page(WATCH).run()
    at.button(key="watch_forward").click().run()
    downloads.clear()
    at.switch_page(EXPORT).run()
    assert not at.exception and at.markdown[0].value == said
    assert "separate copy" in at.caption[0].value
    assert downloads == before
    states = pd.read_csv(io.BytesIO(downloads["classroom_demo_seed20261123_node_states.csv"]))
    assert states["step"].unique().tolist() == [9]  # the Run page's run: the last day only

    archive = tmp_path / "run"
    with zipfile.ZipFile(io.BytesIO(downloads["classroom_demo_seed20261123.zip"])) as zf:
        zf.extractall(archive)
    loaded = sim.Results.load(archive)
    shown = at.session_state["runs"][at.session_state["shown_run"]["key"]]
    assert loaded.meta["format"] == "csv" and loaded.meta["seed"] == shown.meta["seed"]
    for name, table in shown.tables().items():
        assert len(loaded.tables()[name]) == len(table), name
    pd.testing.assert_frame_equal(loaded.metrics, shown.metrics)
    assert (archive / "scenario.yaml").is_file()
