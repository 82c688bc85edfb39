"""The Run page's levers always show what will run, and its charts tell the story:
regression tests of the explorer through Streamlit's AppTest (the Chromium twins are in
tests/test_browser_explorer.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from sim.scenario import load_scenario

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def app() -> AppTest:
    return AppTest.from_file(APP, default_timeout=120).run()


def chart(at: AppTest, key: str) -> dict:
    import json

    (found,) = [c for c in at.get("plotly_chart") if c.proto.id and key in c.proto.id] or [None]
    assert found is not None, f"no chart {key}"
    return json.loads(found.proto.spec)


def test_choosing_a_preset_sets_every_lever_to_its_values():
    at = app()
    at.slider(key="steps").set_value(10)
    at.selectbox(key="protocol").set_value("open")
    at.selectbox(key="preset").set_value("protocol_self_governance").run()
    spec = load_scenario("protocol_self_governance")
    assert not at.exception
    assert at.selectbox(key="protocol").value == "validators"
    assert at.slider(key="probe").value == pytest.approx(spec.market.validators.probe_rate)
    assert at.slider(key="steps").value == spec.steps
    assert at.slider(key="malicious").value == pytest.approx(
        spec.requesters.kinds["malicious"].share
    )


def test_reset_puts_the_levers_back_to_the_scenario():
    at = app()
    at.slider(key="vpn").set_value(0.95)
    at.checkbox(key="treaty").check().run()
    at.button(key="reset").click().run()
    spec = load_scenario("classroom_demo")
    assert at.slider(key="vpn").value == pytest.approx(spec.requesters.kinds["malicious"].vpn_use)
    assert at.checkbox(key="treaty").value is False


def test_levers_keep_their_values_across_pages():
    at = app()
    at.slider(key="malicious").set_value(0.05).run()
    at.switch_page("sim/app/pages/learn.py").run()
    at.switch_page("sim/app/pages/run.py").run()
    assert not at.exception
    assert at.slider(key="malicious").value == pytest.approx(0.05)


def test_node_counts_are_stacked_and_timeline_events_are_marked():
    at = app()
    at.button(key="run").click().run()
    assert not at.exception
    area = chart(at, "nodes_by_jurisdiction")
    assert {trace["stackgroup"] for trace in area["data"]} == {"total"}
    harm = chart(at, "harm_chart")
    marked = sorted(shape["x0"] for shape in harm["layout"]["shapes"])
    assert marked == [20, 40]  # the day-20 crackdown and the day-40 treaty take effect
    notes = " ".join(a["text"] for a in harm["layout"]["annotations"])
    assert "day 20" in notes and "day 40" in notes
    assert harm["layout"]["yaxis"]["tickformat"] == ".0%"
    assert harm["layout"]["xaxis"]["title"]["text"] == "day"
    names = [trace["name"] for trace in harm["data"]]
    assert names == ["harm completion (7-day mean)", "malicious success (7-day mean)"]
    at.toggle(key="raw").set_value(True).run()
    assert len(chart(at, "harm_chart")["data"]) == 4


def test_headline_tiles_show_the_change_against_the_previous_run():
    at = app()
    at.slider(key="steps").set_value(10)
    at.button(key="run").click().run()
    assert at.metric[0].proto.delta == ""
    at.slider(key="malicious").set_value(0.0)
    at.button(key="run").click().run()
    assert at.metric[0].proto.delta.startswith("-")


def upload(at: AppTest, text: str) -> AppTest:
    at.radio(key="source").set_value("Upload a YAML file").run()
    at.get("file_uploader")[0].set_value(("mine.yaml", text.encode(), "application/x-yaml"))
    return at.run()


def test_an_upload_shows_its_own_description_not_its_parents():
    at = upload(app(), "extends: classroom_demo\nname: mine\ndescription: My own world.\n")
    assert any("My own world." in c.value for c in at.caption)
    at = upload(app(), "extends: classroom_demo\nname: mine\n")
    assert any("no description" in c.value and "classroom_demo" in c.value for c in at.caption)


def test_a_world_too_large_for_the_explorer_is_refused_before_it_runs():
    at = upload(
        app(),
        "extends: baseline\nname: huge\nrequesters: {count: 5000000}\nnodes: {count: 200000}\n",
    )
    assert not at.exception
    assert "too large for the explorer" in at.error[0].value
    assert not [b for b in at.button if b.key == "run"]


def explore(folder: str | Path) -> AppTest:
    at = app().switch_page("sim/app/pages/explore.py").run()
    return at.text_input(key="sweeps_dir").set_value(str(folder)).run()


@pytest.mark.parametrize(
    "sql",
    [
        "COPY (SELECT 1 AS x) TO 'manifest.json'",
        "SELECT 1; COPY (SELECT 1) TO 'x.parquet'",
        "ATTACH 'evil.db'",
        "CREATE TABLE t AS SELECT 1",
    ],
    ids=["copy", "two-statements", "attach", "create"],
)
def test_the_sql_box_cannot_write_into_the_sweep_folder(sweep_dir, tmp_path, sql):
    import shutil

    copy = tmp_path / "sweep"
    shutil.copytree(sweep_dir, copy)
    before = {p: p.read_bytes() for p in copy.rglob("*") if p.is_file()}
    at = explore(copy)
    at.text_area(key="sql").set_value(sql.replace("'", f"'{copy}/", 1) if "TO" in sql else sql)
    at.button(key="run_sql").click().run()
    assert not at.exception
    assert "The query failed" in at.error[0].value
    after = {p: p.read_bytes() for p in copy.rglob("*") if p.is_file()}
    assert after == before


def test_a_query_over_its_time_limit_is_stopped(sweep_dir):
    from sim.analysis.query import QueryError, query

    slow = "SELECT count(*) FROM range(100000000000) a"
    with pytest.raises(QueryError, match="stopped after 0.2 s"):
        query(sweep_dir, slow, timeout=0.2)


@pytest.mark.parametrize("folder", ["/", "/etc", "../.."])
def test_the_folder_box_refuses_paths_outside_its_roots(monkeypatch, tmp_path, folder):
    monkeypatch.setenv("DIRISK_APP_SWEEP_ROOTS", str(tmp_path))
    at = explore(folder)
    assert not at.exception
    assert "outside the folders the explorer may open" in at.error[0].value
    assert "not a readable folder" not in at.error[0].value  # says nothing of what is there


def test_compare_runs_the_run_pages_levers_and_keeps_its_result():
    at = app()
    at.slider(key="malicious").set_value(0.0).run()  # the Run page's levers
    at.switch_page("sim/app/pages/compare.py").run()
    assert at.selectbox(key="a").value == "the Run page's scenario, with its levers"
    at.radio(key="mode").set_value("A with one parameter changed").run()
    at.text_input(key="path").set_value("jurisdictions.*.enforcement.audit_rate")
    at.text_input(key="value").set_value("0.05")
    at.slider(key="compare_steps").set_value(10)
    at.slider(key="replications").set_value(2)
    at.button(key="compare").click().run()
    assert not at.exception and not at.error
    table = at.dataframe[0].value.set_index("measure")
    assert table.iloc[:, 0]["harmful requests completed"] == "0"  # A: nobody malicious
    assert "e+" not in " ".join(table.astype(str).to_numpy().ravel())
    assert chart(at, "difference_chart")["data"][0]["error_x"]["type"] == "data"
    at.slider(key="replications").set_value(3).run()  # another widget: the result stays
    assert at.dataframe and "have changed since this comparison" in at.info[0].value


def test_heatmap_cells_show_their_values_and_ticks_are_rounded():
    import pandas as pd

    from sim.app.figures import heatmap_figure

    cells = pd.DataFrame(
        {
            "x": ["0.30000000000000004", "0.7"],
            "x_order": [0, 1],
            "y": ["[0.123456, 0.5)", "[0.5, 0.987654]"],
            "y_order": [0, 1],
            "value": [0.123456, 0.5],
            "runs": [2, 2],
        }
    )
    trace = heatmap_figure(cells, x_title="x", y_title="y", value_title="v").data[0]
    assert trace.texttemplate == "%{z:.3g}"
    assert list(trace.x) == ["0.3", "0.7"] and list(trace.y) == ["[0.123, 0.5)", "[0.5, 0.988]"]


@pytest.fixture(scope="module")
def robust_folder(tmp_path_factory):
    from sim.analysis.robustness import robust

    out = tmp_path_factory.mktemp("robust") / "r"
    strict = {"extends": "classroom_demo", "name": "strict", "nodes": {"filter_recall": 0.99}}
    robust("classroom_demo", [("strict", strict)], out, futures=4, seeds=1, steps=6, workers=1)
    return out


def test_the_robustness_page_opens_a_folder_and_shows_verdicts_effects_and_regret(
    robust_folder,
):
    at = app().switch_page("sim/app/pages/robust.py").run()
    at.text_input(key="robust_dir").set_value(str(robust_folder.parent)).run()
    assert not at.exception and not at.error
    verdicts = at.dataframe[0].value
    assert verdicts["policy"].tolist() == ["strict"]
    assert len(chart(at, "effects_chart")["data"]) == 1
    assert at.dataframe[1].value["policy"].tolist() == ["classroom_demo", "strict"]
    assert at.slider(key=f"harm_{robust_folder}").value == pytest.approx(0.10)  # recorded
    at.slider(key=f"harm_{robust_folder}").set_value(0.5).run()
    assert not at.exception


def test_the_robustness_page_refuses_folders_outside_its_roots(monkeypatch, tmp_path):
    monkeypatch.setenv("DIRISK_APP_SWEEP_ROOTS", str(tmp_path))
    at = app().switch_page("sim/app/pages/robust.py").run()
    at.text_input(key="robust_dir").set_value("/etc").run()
    assert "outside the folders the explorer may open" in at.error[0].value


def test_the_policy_search_page_shows_the_pareto_policies_and_their_files(optimize_dir):
    from sim.experiments.optimize import load_result

    result = load_result(optimize_dir)
    at = app().switch_page("sim/app/pages/optimize.py").run()
    at.text_input(key="optimize_dir").set_value(str(optimize_dir.parent)).run()
    assert not at.exception and not at.error
    assert at.selectbox(key="optimize_choice").options == [str(optimize_dir)]
    lines = chart(at, "pareto_chart")["data"][0]
    labels = [d["label"] for d in lines["dimensions"]]
    assert labels[:2] == ["audit_rate", "kyc_mandate"]
    assert labels[-1] == "non-dominated over fresh futures"  # the re-evaluation's axis
    assert all(len(d["values"]) == len(result.pareto) for d in lines["dimensions"])
    table = at.dataframe[0].value
    assert table["policy"].tolist() == result.pareto["policy"].tolist()
    assert set(table["kyc_mandate"]) <= {"yes", "no"}
    assert all(v.endswith("%") for v in table["policy leakage"])  # shares as percentages
    fresh = at.dataframe[1].value
    assert len(fresh) == len(result.pareto)
    history = chart(at, "history_chart")["data"]
    assert len(history[0]["x"]) == len(result.history) and len(history[1]["x"]) == len(
        result.pareto
    )
    last = int(result.pareto["policy"].iloc[-1])
    at.selectbox(key="policy_choice").set_value(last).run()
    shown = (optimize_dir / "policies" / f"policy_{last}.yaml").read_text(encoding="utf-8")
    assert any(code.value.strip() == shown.strip() for code in at.code)


def test_the_policy_search_page_explains_a_folder_without_a_search(tmp_path):
    at = app().switch_page("sim/app/pages/optimize.py").run()
    assert not at.exception and (at.info or at.error)  # the default folder: none yet
    at.text_input(key="optimize_dir").set_value(str(tmp_path)).run()
    assert "no optimisation folder here" in at.error[0].value
    assert "dirisk optimize" in at.error[0].value
    (tmp_path / "optimization.json").write_text("{}")
    at.run()
    assert "no finished optimisation" in at.error[0].value and not at.exception
