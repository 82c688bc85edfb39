"""The Streamlit explorer, through Streamlit's AppTest, and its controls as functions."""

from __future__ import annotations

import base64
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import TINY_EXPERIMENT
from streamlit.testing.v1 import AppTest

import sim
from sim.analysis.query import HEATMAP_BINS, heatmap_sql, query
from sim.analysis.sensitivity import analyze, index_warnings
from sim.app.controls import (
    MAX_UPLOAD_BYTES,
    Controls,
    apply,
    find_folders,
    pick,
    read_upload,
)
from sim.experiments.experiment import load_experiment
from sim.experiments.folder import SweepError, SweepFolder
from sim.experiments.sweep import sweep
from sim.scenario import ScenarioError

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def app() -> AppTest:
    return AppTest.from_file(APP, default_timeout=120).run()


def run_classroom(at: AppTest, **sliders) -> AppTest:
    at.slider(key="steps").set_value(10)
    for key, value in sliders.items():
        at.slider(key=key).set_value(value)
    return at.button(key="run").click().run()


def test_run_page_loads_with_the_classroom_preset_selected():
    at = app()
    assert not at.exception
    assert at.selectbox[0].value == "classroom_demo"
    assert "press **Run**" in at.info[0].value


def test_a_preset_runs_and_draws_its_charts_and_headline_numbers():
    at = run_classroom(app())
    assert not at.exception
    assert len(at.get("plotly_chart")) == 6
    assert [m.label for m in at.metric][:2] == [
        "Harmful requests completed",
        "Harm completion rate",
    ]
    assert int(at.metric[0].value.replace(",", "")) > 0


def test_a_changed_slider_changes_the_result_when_run_is_pressed():
    at = run_classroom(app())
    before = int(at.metric[0].value.replace(",", ""))
    at.slider(key="malicious").set_value(0.0).run()
    assert not at.exception
    # The run shown stays until Run is pressed, and the page says the levers changed.
    assert int(at.metric[0].value.replace(",", "")) == before
    assert "changed since this run" in at.warning[0].value
    at.button(key="run").click().run()
    assert before > 0 and at.metric[0].value == "0"
    assert at.metric[1].value == "n/a" and not at.warning


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("broken.yaml", b"steps: [", "invalid YAML"),
        ("typo.yaml", b"extends: classroom_demo\nstepz: 5\n", "unknown field"),
        ("range.yaml", b"extends: classroom_demo\nnodes: {filter_recall: 2}\n", "[0, 1]"),
        ("latin1.yaml", "name: café".encode("latin-1"), "UTF-8"),
        ("big.yaml", b"#" * (MAX_UPLOAD_BYTES + 1), "at most"),
        ("path.yaml", b"extends: ../secret.yaml\n", "uploads cannot refer to files"),
    ],
)
def test_an_invalid_upload_shows_the_error_and_the_app_keeps_working(name, content, expected):
    at = app()
    at.radio[0].set_value("Upload a YAML file").run()
    at.get("file_uploader")[0].set_value((name, content, "application/x-yaml")).run()
    assert not at.exception
    assert expected in at.error[0].value and name in at.error[0].value
    at.radio[0].set_value("Preset").run()
    assert not at.exception and not at.error


def test_a_valid_upload_runs():
    at = app()
    at.radio[0].set_value("Upload a YAML file").run()
    at.get("file_uploader")[0].set_value(
        ("mine.yaml", b"extends: classroom_demo\nname: mine\n", "application/x-yaml")
    ).run()
    at = run_classroom(at)
    assert not at.exception and not at.error
    assert len(at.get("plotly_chart")) == 6


def test_learn_page_explains_the_model_and_renders_the_docs():
    at = app().switch_page("sim/app/pages/learn.py").run()
    assert not at.exception
    text = " ".join(m.value for m in at.markdown)
    for term in (
        "Abliteration",
        "KYC",
        "Geo-blocking",
        "Validators",
        "Extraterritorial reach",
        "Leakage",
        "Over-refusal",
    ):
        assert term in text
    assert "Overview" in text or "ODD" in text  # docs/ODD.md rendered, not copied


def test_export_page_offers_the_last_runs_files():
    at = app()
    at.switch_page("sim/app/pages/export.py").run()
    assert "Nothing to export" in at.info[0].value
    at.switch_page("sim/app/pages/run.py").run()
    at = run_classroom(at)
    at.switch_page("sim/app/pages/export.py").run()
    assert not at.exception
    labels = [b.proto.label for b in at.get("download_button")]
    assert (
        "metrics.csv" in labels and "Scenario (YAML)" in labels and any("zip" in x for x in labels)
    )


def test_watch_page_steps_through_the_last_run_with_flows_and_network():
    at = app()
    at.switch_page("sim/app/pages/watch.py").run()
    assert "Run a scenario" in at.info[0].value
    at.switch_page("sim/app/pages/run.py").run()
    at = run_classroom(at)
    at.switch_page("sim/app/pages/watch.py").run()
    assert not at.exception
    assert len(at.get("plotly_chart")) == 2  # the flow diagram and the node network
    at.slider(key="day").set_value(3).run()
    assert not at.exception and at.caption[0].value.startswith("Day 3:")
    at.multiselect(key="categories").set_value(["malware"]).run()
    assert not at.exception


def test_compare_page_reports_paired_differences_with_intervals():
    at = app().switch_page("sim/app/pages/compare.py").run()
    at.selectbox(key="a").set_value("classroom_demo")
    at.selectbox(key="b").set_value("classroom_demo")
    at.slider(key="compare_steps").set_value(10)
    at.slider(key="replications").set_value(2)
    at.button(key="compare").click().run()
    assert not at.exception
    table = at.dataframe[0].value.set_index("measure")
    # The same scenario on the same seeds: every difference is exactly zero.
    assert set(table["B − A"]) <= {"+0.0 pp", "+0", "+$0"}
    assert table["verdict"].str.startswith("identical at n = 2").all()
    assert "Student's t" in at.caption[-1].value


def test_compare_one_scenario_with_a_changed_parameter():
    at = app().switch_page("sim/app/pages/compare.py").run()
    at.selectbox(key="a").set_value("classroom_demo")
    at.radio(key="mode").set_value("A with one parameter changed").run()
    at.text_input(key="path").set_value("requesters.kinds.malicious.persistence")
    at.text_input(key="value").set_value("0")
    at.slider(key="compare_steps").set_value(10)
    at.slider(key="replications").set_value(2)
    at.button(key="compare").click().run()
    assert not at.exception
    table = at.dataframe[0].value.set_index("measure")
    assert table.loc["harm completion rate", "B − A"].startswith("-")  # fewer retries, less harm
    assert "e+" not in "".join(table["B − A"]) + "".join(table.iloc[:, 0])
    at.text_input(key="path").set_value("nodes.no_such_field").run()
    at.button(key="compare").click().run()
    assert not at.exception and "unknown field" in at.error[0].value


# ------------------------------------------------------------------ explore sweeps


#: A tiny grid experiment: 3 audit rates × 2 filter recalls, 2 replications of 10 days.
def explore(folder: str | Path) -> AppTest:
    """The Explore sweeps page pointed at ``folder``."""
    at = app().switch_page("sim/app/pages/explore.py").run()
    return at.text_input(key="sweeps_dir").set_value(str(folder)).run()


def plotly_data(at: AppTest, index: int) -> dict:
    """The first trace and the layout of the page's ``index``-th plotly chart."""
    spec = json.loads(at.get("plotly_chart")[index].proto.spec)
    return {**spec["data"][0], "layout": spec["layout"]}


def as_array(value: list | dict) -> np.ndarray:
    """A plotly JSON array (a list, or typed base64 ``bdata``) as numpy."""
    if isinstance(value, list):
        return np.asarray(value, dtype=float)
    flat = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
    return flat.reshape([int(n) for n in value.get("shape", str(flat.size)).split(",")])


def test_explore_page_loads():
    at = app().switch_page("sim/app/pages/explore.py").run()
    assert not at.exception
    assert at.text_input(key="sweeps_dir").value == "sweeps/"


def test_explore_shows_a_sweeps_manifest_heatmap_and_frontier(sweep_dir):
    at = explore(sweep_dir.parent)
    assert not at.exception and not at.error
    assert at.selectbox(key="sweep").options == [str(sweep_dir)]
    text = " ".join(m.value for m in at.markdown)
    assert "Audits against filters" in text and "**grid**" in text and "`filter_recall`" in text
    assert "**complete**" in text and "`harmful_completed`" in text
    assert [(m.label, m.value) for m in at.metric] == [
        ("Runs ok", "12"),
        ("Runs failed", "0"),
        ("Runs missing", "0"),
    ]
    assert len(at.get("plotly_chart")) == 2
    heatmap = plotly_data(at, 0)
    outcome = at.selectbox(key="heat_outcome").value
    assert heatmap["type"] == "heatmap" and outcome == "malicious_success_share"
    assert heatmap["x"] == ["0", "0.1", "0.2"] and heatmap["y"] == ["0.5", "0.9"]
    assert heatmap["layout"]["xaxis"]["title"]["text"] == "audit_rate"
    assert heatmap["colorbar"]["title"]["text"] == outcome
    runs = SweepFolder(sweep_dir).runs()
    expected = runs.groupby(["filter_recall", "audit_rate"])[outcome].mean().unstack()
    np.testing.assert_allclose(as_array(heatmap["z"]), expected.to_numpy())
    assert "across their replications" in at.caption[2].value
    frontier = plotly_data(at, 1)
    assert frontier["type"] == "scatter" and len(as_array(frontier["x"])) == 6
    assert frontier["layout"]["yaxis"]["title"]["text"] == "malicious_success_share"
    assert at.selectbox(key="refusal").value == "dual_use_over_refusal"
    assert "saltelli or morris" in at.info[0].value  # a grid has no sensitivity indices
    at.selectbox(key="heat_x").set_value("filter_recall").run()
    assert not at.exception and at.selectbox(key="heat_y").value == "audit_rate"
    assert plotly_data(at, 0)["x"] == ["0.5", "0.9"]


def test_explore_answers_sql_on_the_button_and_shows_a_bad_querys_error(sweep_dir):
    at = explore(sweep_dir)
    assert not at.dataframe  # nothing runs before the button
    at.button(key="run_sql").click().run()
    assert len(at.dataframe[0].value) == 12  # the default query: 20 rows at most
    at.text_area(key="sql").set_value(
        "SELECT point, count(*) AS n FROM runs GROUP BY point ORDER BY point"
    ).run()
    assert not at.dataframe  # a changed query waits for the button too
    at.button(key="run_sql").click().run()
    assert not at.exception and not at.error
    table = at.dataframe[0].value
    assert table["point"].tolist() == list(range(6)) and (table["n"] == 2).all()
    assert "Download the result (CSV)" in [b.proto.label for b in at.get("download_button")]
    at.selectbox(key="heat_x").set_value("filter_recall").run()
    assert at.dataframe[0].value["point"].tolist() == list(range(6))  # kept, not rerun
    at.text_area(key="sql").set_value("SELECT nope FROM runs").run()
    at.button(key="run_sql").click().run()
    assert not at.exception
    assert at.error[0].value.startswith("The query failed:") and "nope" in at.error[0].value
    assert len(at.get("plotly_chart")) == 2  # the rest of the page keeps working
    at.text_area(key="sql").set_value("SELECT count(*) AS n FROM design").run()
    at.button(key="run_sql").click().run()
    assert not at.exception and not at.error and at.dataframe[0].value["n"].tolist() == [6]


def test_explore_shows_sensitivity_indices_of_a_morris_sweep(tmp_path):
    recall = {"name": "filter_recall", "path": "nodes.filter_recall", "range": [0.5, 0.9]}
    experiment = {
        **TINY_EXPERIMENT,
        "factors": [TINY_EXPERIMENT["factors"][0], recall],
        "design": {"kind": "morris", "samples": 2, "levels": 4},
        "replications": 1,
    }
    sweep(load_experiment(experiment), tmp_path / "morris", workers=1)
    at = explore(tmp_path / "morris")
    assert not at.exception and not at.error
    # Two trajectories give wide intervals: the page says which indices not to trust.
    chosen = at.selectbox(key="sensitivity_outcome").value
    cautions = index_warnings(analyze(tmp_path / "morris", [chosen], write=False))
    shown = "".join(w.value for w in at.warning)
    assert all(c in shown for c in cautions) and bool(shown) == bool(cautions)
    bars = plotly_data(at, 2)
    assert bars["type"] == "bar" and bars["name"] == "mu_star"
    assert bars["y"] == ["audit_rate", "filter_recall"]
    assert any("mu*" in c.value for c in at.caption)


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda p: p / "absent", "not a readable folder"),
        (lambda p: p, "no sweep folder here"),
        (lambda p: (p / "manifest.json").write_text("{}") and p, "not a dirisk sweep"),
        (lambda p: (p / "manifest.json").write_text("{") and p, "unreadable"),
    ],
    ids=["missing", "empty", "foreign-manifest", "broken-manifest"],
)
def test_explore_rejects_what_is_not_a_sweep_and_keeps_working(tmp_path, sweep_dir, make, expected):
    at = explore(make(tmp_path))
    assert not at.exception
    assert expected in at.error[0].value and len(at.error[0].value.splitlines()) == 1
    at.text_input(key="sweeps_dir").set_value(str(sweep_dir)).run()
    assert not at.exception and not at.error and len(at.get("plotly_chart")) == 2


# ------------------------------------------------------------------ controls


def classroom() -> dict:
    return sim.load_scenario("classroom_demo").to_dict()


def test_controls_keep_shares_summing_to_one():
    spec = sim.load_scenario(
        apply(classroom(), Controls(malicious_share=0.07, permissive_share=0.8))
    )
    kinds = spec.requesters.kinds
    assert math.isclose(sum(k.share for k in kinds.values()), 1.0)
    assert kinds["malicious"].share == 0.07
    for jur in spec.jurisdictions.values():
        assert math.isclose(sum(jur.model_mix.values()), 1.0)
        assert math.isclose(jur.model_mix["aligned"], 0.2)


def test_controls_drop_events_beyond_the_chosen_length_and_scale_audits():
    data = classroom()
    out = apply(data, Controls(steps=30, audit_multiplier={"eu": 3.0}, treaty_all=True))
    assert [e["step"] for e in out["timeline"]] == [19]
    assert out["jurisdictions"]["eu"]["enforcement"]["audit_rate"] == pytest.approx(
        3 * data["jurisdictions"]["eu"]["enforcement"]["audit_rate"]
    )
    assert out["treaties"][-1] == list(data["jurisdictions"])
    assert data["steps"] == 60  # the input is not changed


def test_uploads_are_parsed_safely():
    with pytest.raises(ScenarioError, match="invalid YAML|could not determine"):
        read_upload("evil.yaml", b'!!python/object/apply:os.system ["echo hi"]')


def fake_sweep(root: Path, xs: list[float], ys: list[str]) -> Path:
    """A sweep folder's design and outcomes parts, by hand: outcome = x at every point."""
    design = (
        pd.DataFrame([(x, y) for x in xs for y in ys], columns=["speed", "colour"])
        .rename_axis("point")
        .reset_index()
    )
    root.mkdir()
    design.to_parquet(root / "design.parquet", index=False)
    for row in design.itertuples():
        part = root / "outcomes" / f"point={row.point}" / "rep-00000.parquet"
        part.parent.mkdir(parents=True)
        outcome = {"speed": row.speed, "colour": row.colour, "out": row.speed, "status": "ok"}
        pd.DataFrame([outcome]).to_parquet(part, index=False)
    return root


def test_heatmap_sql_bins_many_valued_factors_into_quantiles(tmp_path):
    xs = [float(i) for i in range(20)]
    root = fake_sweep(tmp_path / "s", xs, ["red", "blue"])
    design = pd.read_parquet(root / "design.parquet")
    cells = query(root, heatmap_sql("out", "speed", "colour", design))
    bins = ["0–2", "3–4", "5–7", "8–9", "10–12", "13–14", "15–17", "18–19"]
    assert len(bins) == HEATMAP_BINS
    for colour in ("blue", "red"):
        mine = cells[cells["y"] == colour]
        assert mine["x"].tolist() == bins and mine["runs"].tolist() == [3, 2] * 4
        assert mine["value"].tolist() == [1, 3.5, 6, 8.5, 11, 13.5, 16, 18.5]


def test_folders_are_found_by_their_marker_here_or_one_level_down(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "manifest.json").write_text("{}")
    (tmp_path / "robust.json").write_text("{}")

    def find(base, marker="manifest.json"):
        return find_folders(base, marker, "sweep folder", "dirisk sweep")

    assert find(tmp_path) == [tmp_path / "b"]
    assert find(tmp_path, "robust.json") == [tmp_path]
    with pytest.raises(SweepError, match="no sweep folder here .* make one with dirisk sweep"):
        find(tmp_path / "a")


def test_default_choices_pick_the_first_matching_needle():
    options = ["harmful_completed_total", "benign_over_refusal", "malicious_success_share"]
    assert pick(options, "malicious_success", "harm") == 2
    assert pick(options, "dual_use_over_refusal", "over_refusal") == 1
    assert pick(options, "nothing") == 0


# ------------------------------------------------------------------ why it leaks


def test_why_page_explains_which_channels_let_harm_out_with_a_waterfall_that_adds_up():
    from sim.analysis.attribution import attribution_of
    from sim.experiments.channels import CHANNELS

    at = app().switch_page("sim/app/pages/why.py").run()
    assert not at.exception
    assert at.selectbox(key="why_preset").value == "classroom_demo"
    assert at.selectbox(key="why_outcome").value == "harmful_completed"
    days = next(s for s in at.slider if s.label == "Days per run")
    assert at.slider(key="why_seeds").value == 3 and days.value == 30
    assert not at.get("plotly_chart")  # nothing runs before Explain
    at.slider(key="why_seeds").set_value(2)
    days.set_value(5)
    at.multiselect[0].set_value(["vpn", "retries", "permissive_models"]).run()
    assert "**16 simulations** of 5 days" in " ".join(m.value for m in at.markdown)
    assert not at.get("plotly_chart")
    at.button(key="explain").click().run()
    assert not at.exception and not at.error
    (folder,) = at.session_state["attribution_folders"].values()
    result = attribution_of(folder)
    table = result.table[result.table["applies"]]
    on, off = result.totals["all_on"].mean(), result.totals["all_off"].mean()

    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    bars, whiskers = spec["data"]
    assert bars["type"] == "waterfall" and bars["orientation"] == "h"
    assert bars["measure"] == ["absolute", "relative", "relative", "relative", "total"]
    x = as_array(bars["x"])
    assert x[0] == pytest.approx(off) and x[-1] == pytest.approx(on)
    assert x[1:-1].sum() == pytest.approx(on - off)  # Shapley values add up exactly
    order = table.reindex(table["contribution"].abs().sort_values(ascending=False).index)
    labels = [CHANNELS[c].label for c in order["channel"]]
    assert bars["y"] == ["chosen channels off", *labels, "every channel on"]
    np.testing.assert_allclose(x[1:-1], order["contribution"])
    np.testing.assert_allclose(
        as_array(whiskers["error_x"]["array"]), order["high"] - order["contribution"]
    )
    assert "harmful requests completed (count)" in spec["layout"]["xaxis"]["title"]["text"]
    assert all("95% interval" in h for h in bars["hovertext"][1:-1])

    (caption,) = [c.value for c in at.caption if c.value.startswith("With every channel on")]
    largest = table.loc[table["contribution"].idxmax(), "channel"]
    assert f"The biggest share comes from {CHANNELS[largest].label}" in caption
    assert "Student's t" in caption and "2 seeds" in caption and "5 days" in caption
    text = " ".join(m.value for m in at.markdown)
    pair = result.interactions.iloc[0]
    a, b = CHANNELS[pair["channel_a"]].label, CHANNELS[pair["channel_b"]].label
    assert f"**{a}** and **{b}** leak" in text and "together than apart" in text
    assert "**requester learning**: requesters do not learn" in text  # listed, not drawn

    # Other settings wait for Explain; coming back shows the kept result without rerunning.
    at.selectbox(key="why_outcome").set_value("policy_leakage").run()
    assert not at.exception and not at.get("plotly_chart")
    assert "Press **Explain**" in at.info[0].value
    at.selectbox(key="why_outcome").set_value("harmful_completed").run()
    assert len(at.get("plotly_chart")) == 1
    assert list(at.session_state["attribution_folders"].values()) == [folder]


def test_why_page_explains_the_last_run_by_default():
    at = run_classroom(app())
    at.switch_page("sim/app/pages/why.py").run()
    assert not at.exception
    assert at.radio(key="why_source").value == "The last run: classroom_demo (10 days)"
    days = next(s for s in at.slider if s.label == "Days per run")
    assert days.max == 10 and days.value == 10
    at.radio(key="why_source").set_value("A preset").run()
    assert not at.exception and at.selectbox(key="why_preset").value == "classroom_demo"


def test_waterfall_figure_draws_applicable_channels_largest_first_with_intervals():
    from sim.app.figures import waterfall_figure

    nan = float("nan")
    table = pd.DataFrame(
        {
            "channel": ["vpn", "retries", "protocol", "havens"],
            "contribution": [0.01, 0.05, nan, -0.02],
            "low": [-0.01, 0.03, nan, -0.03],
            "high": [0.03, 0.07, nan, -0.01],
            "share": [0.25, 1.25, nan, -0.5],
            "n": [2, 2, 0, 2],
            "applies": [True, True, False, True],
            "reason": ["", "", "the market is open already", ""],
        }
    )
    totals = pd.DataFrame({"seed": [1, 2], "all_on": [0.30, 0.32], "all_off": [0.27, 0.27]})
    labels = {"vpn": "VPN", "retries": "retries", "havens": "havens", "protocol": "protocol"}
    figure = waterfall_figure(table, totals, labels=labels, value_title="leakage", share=True)
    bars, whiskers = figure.data
    assert list(bars.y) == ["every channel off", "retries", "havens", "VPN", "every channel on"]
    np.testing.assert_allclose(bars.x, [0.27, 0.05, -0.02, 0.01, 0.31])
    assert list(bars.measure) == ["absolute", "relative", "relative", "relative", "total"]
    np.testing.assert_allclose(whiskers.x, [0.32, 0.30, 0.31])  # at each bar's end
    np.testing.assert_allclose(whiskers.error_x.array, [0.02, 0.01, 0.02])
    np.testing.assert_allclose(whiskers.error_x.arrayminus, [0.02, 0.01, 0.02])
    assert figure.layout.xaxis.tickformat == ".0%" and figure.layout.xaxis.title.text == "leakage"
    notes = [a.text for a in figure.layout.annotations]
    assert "+5.0 pp (+3.0 pp to +7.0 pp)" in notes and "27.0%" in notes and "31.0%" in notes
    assert "125% of the difference" in bars.hovertext[1]
