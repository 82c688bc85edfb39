"""dirisk under Mesa's batch_run and as an EMA Workbench model (sim.interop)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mesa.batchrunner import batch_run

import sim
from sim.engine.nodes import Node
from sim.interop import METRICS, BatchModel, ema_model, last_day_metrics
from sim.results.runner import build_model
from sim.scenario import ScenarioError

ROOT = Path(__file__).resolve().parents[1]
SMALL = {"requesters.count": 500, "nodes.count": 60}
SMALL_SCENARIO = {"extends": "classroom_demo", "requesters": {"count": 500}, "nodes": {"count": 60}}
STEPS = 10


@pytest.fixture(scope="module")
def rows() -> pd.DataFrame:
    """Filter recall 0 and 0.99 with every node compliant, seeds 1 and 2, every day."""
    parameters = {
        **SMALL,
        "steps": STEPS,
        "jurisdictions.*.compliance_share": 1.0,
        "nodes.filter_recall": [0.0, 0.99],
        "seed": [1, 2],
    }
    return pd.DataFrame(
        batch_run(
            BatchModel,
            parameters=parameters,
            number_processes=1,
            data_collection_period=1,
            display_progress=False,
        )
    )


def test_batch_run_gives_one_row_per_run_and_day_with_every_metric(rows):
    assert len(rows) == 4 * STEPS
    assert not rows.duplicated(["RunId", "Step"]).any()
    for _, run in rows.groupby("RunId"):
        assert run["Step"].tolist() == list(range(STEPS))
    assert set(METRICS) <= set(rows.columns)
    settings = rows.groupby("RunId")[["nodes.filter_recall", "seed"]].first()
    assert sorted(map(tuple, settings.to_numpy().tolist())) == [
        (0.0, 1),
        (0.0, 2),
        (0.99, 1),
        (0.99, 2),
    ]


def test_batch_run_rows_equal_sim_run_with_the_same_seed(rows):
    mine = rows[(rows["nodes.filter_recall"] == 0.99) & (rows["seed"] == 2)]
    scenario = {
        **SMALL_SCENARIO,
        "nodes": {"count": 60, "filter_recall": 0.99},
        "jurisdictions": {
            name: {"compliance_share": 1.0}
            for name in sim.load_scenario("classroom_demo").jurisdictions
        },
    }
    expected = sim.run(scenario, seed=2, steps=STEPS).metrics
    pd.testing.assert_frame_equal(
        mine[list(METRICS)].reset_index(drop=True), expected[list(METRICS)]
    )


def test_filter_recall_lowers_policy_leakage(rows):
    totals = rows.groupby(["nodes.filter_recall", "seed"])[
        ["prohibited_served", "prohibited_requests"]
    ].sum()
    leakage = (totals["prohibited_served"] / totals["prohibited_requests"]).unstack("seed")
    assert (leakage.loc[0.0] > leakage.loc[0.99]).all()


def test_model_runs_its_days_and_matches_sim_run_through_timeline_events():
    model = BatchModel(SMALL_SCENARIO, seed=3, steps=25, record_nodes=True)
    model.run_model()
    assert model.steps == 25 and not model.running
    expected = sim.run(SMALL_SCENARIO, seed=3, steps=25).metrics
    assert expected["policy_changes"].sum() > 0  # the day-19 crackdown is in the window
    pd.testing.assert_frame_equal(
        model.datacollector.get_model_vars_dataframe(), expected.drop(columns="step")
    )
    nodes = model.datacollector.get_agenttype_vars_dataframe(Node)
    assert nodes.index.get_level_values("Step").unique().tolist() == list(range(1, 26))
    assert set(nodes["jurisdiction"]) <= set(model.jurisdiction_names)
    assert nodes["status"].isin(["active", "taken_down", "exited", "relocating"]).all()


def test_batch_run_iterations_without_a_seed_repeat_the_scenario_seed():
    rows = pd.DataFrame(
        batch_run(
            BatchModel,
            parameters={**SMALL, "steps": 3},
            iterations=2,
            display_progress=False,
        )
    )
    first, second = (
        part[list(METRICS)].reset_index(drop=True) for _, part in rows.groupby("RunId")
    )
    pd.testing.assert_frame_equal(first, second)


@pytest.mark.parametrize(
    "overrides",
    [{"nodes.no_such_field": 1}, {"no_such_block.x": 1}, {"nodes.filter_recall": 1.5}],
    ids=["unknown-leaf", "unknown-block", "out-of-range"],
)
def test_invalid_overrides_raise_scenario_error(overrides):
    with pytest.raises(ScenarioError):
        BatchModel(**overrides)


def test_seed_and_rng_together_are_refused():
    with pytest.raises(ValueError, match="seed or rng"):
        BatchModel(seed=1, rng=2)


def test_ema_model_runs_experiments_with_named_finite_outcomes():
    ema = pytest.importorskip("ema_workbench")
    model = ema_model(
        SMALL_SCENARIO,
        uncertainties={"nodes.filter_recall": (0.0, 0.99), "seed": (0, 999)},
        levers={"jurisdictions.*.compliance_share": (0.5, 1.0)},
        outcomes=["policy_leakage", {"metric": "harmful_completed", "stat": "total"}],
        series=["malicious_success_share"],
        steps=STEPS,
    )
    assert [p.variable_name for p in model.uncertainties] == [["nodes.filter_recall"], ["seed"]]
    assert isinstance(model.uncertainties["seed"], ema.IntegerParameter)
    with ema.SequentialEvaluator(model) as evaluator:
        experiments, outcomes = ema.perform_experiments(model, 3, 1, evaluator=evaluator)
    assert {"nodes_filter_recall", "seed", "jurisdictions_all_compliance_share"} <= set(
        experiments.columns
    )
    assert set(outcomes) == {
        "policy_leakage",
        "harmful_completed_total",
        "malicious_success_share",
    }
    assert outcomes["policy_leakage"].shape == (3,)
    assert outcomes["malicious_success_share"].shape == (3, STEPS)
    for name in ("policy_leakage", "harmful_completed_total"):
        assert np.isfinite(outcomes[name]).all()


def test_ema_model_checks_paths_and_metrics_up_front():
    pytest.importorskip("ema_workbench")
    with pytest.raises(ScenarioError):
        ema_model(uncertainties={"nodes.no_such_field": (0.0, 1.0)})
    with pytest.raises(ScenarioError):
        ema_model(uncertainties={"nodes.filter_recall": (0.0, 2.0)})
    with pytest.raises(ValueError, match="unknown metric"):
        ema_model(uncertainties={"nodes.filter_recall": (0.0, 1.0)}, outcomes=["no_metric"])
    with pytest.raises(ValueError, match="distinct EMA names"):
        ema_model(uncertainties={"nodes.filter_recall": (0.0, 1.0), "nodes_filter.recall": (0, 1)})


def test_ema_model_without_ema_workbench_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "ema_workbench", None)
    with pytest.raises(ImportError, match=r"pip install 'dirisk\[ema\]'"):
        ema_model(uncertainties={"nodes.filter_recall": (0.0, 1.0)})


@pytest.mark.parametrize("script", ["batch_run_example.py", "ema_workbench_example.py"])
def test_example_scripts_run(script):
    subprocess.run([sys.executable, str(ROOT / "examples" / script)], check=True, cwd=ROOT)


def test_last_day_metrics_before_the_first_day_is_a_clear_error():
    with pytest.raises(ValueError, match="no day has been recorded yet"):
        last_day_metrics(build_model("classroom_demo"))
