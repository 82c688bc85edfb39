"""Robust policy conclusions across plausible futures: reproducible futures, exact
pairing over common random numbers, levers kept out of the futures, and failure regions
found by scenario discovery."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from sim.analysis.robustness import failure_boxes, robust
from sim.cli import app
from sim.experiments.robust import lever_paths, plan_robustness

STRICT = {"extends": "classroom_demo", "name": "strict", "nodes": {"filter_recall": 0.99}}


def test_futures_are_reproducible_from_their_seed():
    one = plan_robustness("classroom_demo", [("strict", STRICT)], futures=6, seed=3).futures
    two = plan_robustness("classroom_demo", [("strict", STRICT)], futures=6, seed=3).futures
    other = plan_robustness("classroom_demo", [("strict", STRICT)], futures=6, seed=4).futures
    pd.testing.assert_frame_equal(one, two)
    assert not one.drop(columns="future").equals(other.drop(columns="future"))


def test_a_policys_levers_are_never_varied_by_a_future():
    plan = plan_robustness("classroom_demo", [("strict", STRICT)], futures=4)
    assert plan.levers == ["nodes.filter_recall"]
    assert "nodes.filter_recall" not in plan.futures.columns
    assert len(plan.futures.columns) > 50  # the rest of the catalogue still varies
    assert lever_paths({"a": {"b": 1, "c": 2}, "name": "x"}, {"a": {"b": 1, "c": 3}}) == {"a.c"}


@pytest.fixture(scope="module")
def same_and_strict(tmp_path_factory) -> tuple[Path, object]:
    out = tmp_path_factory.mktemp("robust") / "r"
    same = {"extends": "classroom_demo", "name": "same"}
    result = robust(
        "classroom_demo",
        [("same", same), ("strict", STRICT)],
        out,
        futures=4,
        seeds=2,
        steps=8,
        workers=1,
    )
    return out, result


def test_a_policy_identical_to_the_base_has_zero_effect_in_every_future(same_and_strict):
    _, result = same_and_strict
    same = result.effects[result.effects["policy"] == "same"]
    assert len(same) == 4 * 2 * 6 and (same["effect"].fillna(0) == 0).all()
    assert (same["value"].fillna(-1) == same["base"].fillna(-1)).all()
    row = result.summary.set_index(["policy", "outcome"]).loc[("same", "harmful_completed")]
    assert row["holds_share"] == 0 and row["costly_share"] == 0


def test_effects_are_paired_differences_and_regret_is_against_the_best(same_and_strict):
    out, result = same_and_strict
    effects = result.effects
    np.testing.assert_allclose(effects["effect"], effects["value"] - effects["base"])
    assert set(effects.columns) == {
        "future",
        "seed",
        "policy",
        "outcome",
        "base",
        "value",
        "effect",
    }
    assert (result.regret["mean_regret"] >= 0).all()
    assert result.regret["best_in_share"].sum() >= 1  # ties may share a future
    for name in ("effects", "futures", "summary", "regret", "boxes"):
        assert (out / f"{name}.csv").is_file()


def test_the_folder_records_its_thresholds_and_is_read_back_with_them(same_and_strict, tmp_path):
    import json
    import shutil

    from sim.analysis.robustness import recorded_thresholds, robustness_of

    out, result = same_and_strict
    record = json.loads((out / "robust.json").read_text())
    assert recorded_thresholds(record) == (0.10, 0.01)
    copy = tmp_path / "r"
    shutil.copytree(out, copy)
    record |= {"harm_threshold": 0.0, "cost_threshold": 1.0}
    (copy / "robust.json").write_text(json.dumps(record))
    lenient = robustness_of(copy).summary.set_index(["policy", "outcome"])
    explicit = robustness_of(copy, harm_threshold=0.0, cost_threshold=1.0).summary
    assert lenient.reset_index().equals(explicit)
    strict = lenient.loc[("strict", "harmful_completed")]
    assert strict["costly_share"] == 0  # nothing rises by a whole share point


def test_scenario_discovery_recovers_a_planted_failure_region():
    rng = np.random.default_rng(0)
    futures = pd.DataFrame(rng.random((400, 3)), columns=["persistence", "recall", "noise"])
    futures.insert(0, "future", np.arange(400))
    fails = (futures["persistence"] >= 0.6) & (futures["recall"] <= 0.4)
    holds = pd.DataFrame({"p": ~fails.to_numpy()}, index=futures["future"])
    boxes = failure_boxes(futures, holds, ["p"])
    for method in ("tree", "prim"):
        best = boxes[(boxes["method"] == method) & (boxes["box"] == 1)].iloc[0]
        assert "persistence" in best["rule"] and "recall" in best["rule"]
        assert "noise" not in best["rule"]
        assert best["coverage"] > 0.8 and best["density"] > 0.8


def test_cli_robust_prints_how_often_each_policy_holds_and_reports(tmp_path):
    out = tmp_path / "r"
    args = ["robust", "--against", "classroom_demo", "--param", "nodes.filter_recall=0.99"]
    args += ["--futures", "3", "--seeds", "1", "--steps", "5", "--out", str(out), "--workers", "1"]
    result = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "classroom_demo_changed" in result.stdout and "regret of" in result.stdout
    report = CliRunner().invoke(app, ["report", str(out)])
    assert report.exit_code == 0, report.output
    assert (out / "report" / "effects.png").is_file()


def test_cli_robust_needs_a_base_and_a_policy():
    runner = CliRunner()
    assert runner.invoke(app, ["robust", "classroom_demo"]).exit_code == 2
    assert runner.invoke(app, ["robust", "--against", "classroom_demo"]).exit_code == 2
