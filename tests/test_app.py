"""The Streamlit explorer, through Streamlit's AppTest, and its controls as functions."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import sim
from sim.app.controls import MAX_UPLOAD_BYTES, Controls, apply, read_upload
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
    assert len(at.get("vega_lite_chart")) == 6
    assert [m.label for m in at.metric][:2] == [
        "Harmful requests completed",
        "Harm completion rate",
    ]
    assert int(at.metric[0].value.replace(",", "")) > 0


def test_a_changed_slider_changes_the_result():
    at = run_classroom(app())
    before = int(at.metric[0].value.replace(",", ""))
    at.slider(key="malicious").set_value(0.0).run()
    assert not at.exception
    assert before > 0 and at.metric[0].value == "0"
    assert at.metric[1].value == "n/a"


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
    assert len(at.get("vega_lite_chart")) == 6


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
    assert len(at.get("plotly_chart")) == 1 and len(at.get("imgs")) + len(at.get("image")) >= 1
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
    assert (table["B − A"].str.startswith("+0 ")).all()
    assert (table["clearly different"] == "no").all()


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
    assert table.loc["harm_completion_rate", "B − A"].startswith("-")  # fewer retries, less harm
    at.text_input(key="path").set_value("nodes.no_such_field").run()
    at.button(key="compare").click().run()
    assert not at.exception and "unknown field" in at.error[0].value


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
