"""Results: tidy tables, metadata, and files that are complete or absent, never half."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import sim
from sim.common.files import atomic_write
from sim.results.tables import TABLES, Results


@pytest.fixture(scope="module")
def results() -> Results:
    return sim.run("classroom_demo", seed=4, steps=6)


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_saved_tables_read_back_equal(results, tmp_path, fmt):
    results.save(tmp_path, format=fmt)
    back = Results.load(tmp_path)
    for name in TABLES:
        original = results.tables()[name]
        loaded = back.tables()[name]
        assert list(loaded.columns) == list(original.columns), name
        assert len(loaded) == len(original), name
        pd.testing.assert_frame_equal(
            loaded.astype(str).reset_index(drop=True),
            original.astype(str).reset_index(drop=True),
            obj=name,
            check_dtype=False,
        )


def test_run_json_records_scenario_seed_versions_and_hash(results, tmp_path):
    results.save(tmp_path)
    meta = json.loads((tmp_path / "run.json").read_text())
    assert meta["seed"] == 4 and meta["steps"] == 6
    assert meta["scenario_name"] == "classroom_demo"
    assert set(meta["versions"]) >= {"dirisk", "mesa", "numpy", "pandas", "python"}
    assert meta["scenario"]["nodes"]["count"] == 300
    spec = sim.load_scenario(meta["scenario"])
    assert spec.content_hash() == meta["scenario_hash"]


def test_saved_scenario_reproduces_the_run_exactly(results, tmp_path):
    results.save(tmp_path)
    meta = json.loads((tmp_path / "run.json").read_text())
    again = sim.run(meta["scenario"], seed=meta["seed"])
    pd.testing.assert_frame_equal(again.metrics, results.metrics)


def test_saved_scenario_yaml_reproduces_the_run(results, tmp_path):
    results.save(tmp_path)
    again = sim.run(tmp_path / "scenario.yaml", seed=results.meta["seed"])
    pd.testing.assert_frame_equal(again.metrics, results.metrics)


def test_tables_are_tidy_with_a_step_column_and_snake_case_names(results):
    for name, frame in results.tables().items():
        assert "step" in frame.columns, name
        for col in frame.columns:
            assert col == col.lower() and " " not in col, (name, col)


def test_node_market_shares_sum_to_one_per_step(results):
    shares = results.nodes.groupby("step")["market_share"].sum()
    assert shares.to_numpy() == pytest.approx(1.0)


def test_interrupted_write_leaves_no_file_that_looks_complete(tmp_path):
    target = tmp_path / "metrics.parquet"

    def half_then_crash(path):
        path.write_bytes(b"PAR1 half a table")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, half_then_crash)
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_interrupted_rewrite_keeps_the_previous_complete_file(tmp_path):
    target = tmp_path / "table.csv"
    atomic_write(target, lambda p: p.write_text("a\n1\n"))

    def crash(path):
        path.write_text("a\n")
        raise OSError("disk full")

    with pytest.raises(OSError):
        atomic_write(target, crash)
    assert target.read_text() == "a\n1\n"


def test_run_json_is_written_last(results, tmp_path, monkeypatch):
    """A folder without run.json is not a finished run: a crash before it is written
    leaves no run.json behind."""
    import sim.results.tables as module

    calls = []
    real = module.write_table

    def failing(frame, path, fmt):
        calls.append(path.name)
        if path.name.startswith("events"):
            raise OSError("interrupted")
        real(frame, path, fmt)

    monkeypatch.setattr(module, "write_table", failing)
    with pytest.raises(OSError):
        results.save(tmp_path)
    assert not (tmp_path / "run.json").exists()
    with pytest.raises(FileNotFoundError, match="run.json"):
        Results.load(tmp_path)


def test_summary_has_one_row_per_headline_metric(results):
    summary = results.summary()
    assert {"metric", "value", "unit", "basis"} <= set(summary.columns)
    assert summary["metric"].is_unique
