"""Honest intervals at small n and paired comparisons of two scenarios."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from typer.testing import CliRunner

from sim.cli import app
from sim.common.stats import (
    mean_ci,
    paired_difference,
    t_quantile,
)
from sim.experiments.compare import compare, parse_param, summarize_pairs
from sim.scenario import ScenarioError, validate
from tests.conftest import tiny_scenario

Z95 = 1.959963984540054


@pytest.mark.parametrize(
    "n, t, ratio", [(2, 12.7062047, 6.4829), (3, 4.3026527, 2.1953), (5, 2.7764451, 1.4166)]
)
def test_intervals_use_student_t_at_the_number_of_seeds(n, t, ratio):
    values = np.arange(n, dtype=float) ** 1.5
    mean, half = mean_ci(values)
    assert t_quantile(n) == pytest.approx(t, abs=1e-6)
    assert half == pytest.approx(t * values.std(ddof=1) / np.sqrt(n))
    assert half / (Z95 * values.std(ddof=1) / np.sqrt(n)) == pytest.approx(ratio, abs=1e-4)
    assert mean == pytest.approx(values.mean())


def test_one_value_has_no_interval_and_none_has_no_mean():
    assert np.isnan(mean_ci([0.3])[1]) and mean_ci([0.3])[0] == 0.3
    assert all(np.isnan(mean_ci([])))


def test_t_intervals_cover_the_mean_at_their_nominal_rate():
    """Over many samples of 3 normal draws, about 95% of the intervals hold the mean
    (the normal quantile would cover about 81%)."""
    rng = np.random.default_rng(0)
    samples = rng.normal(1.0, 2.0, size=(4000, 3))
    covered = 0
    for row in samples:
        mean, half = mean_ci(row)
        covered += abs(mean - 1.0) <= half
    assert covered / len(samples) == pytest.approx(0.95, abs=0.015)


def test_paired_difference_is_the_interval_of_per_seed_differences():
    a = np.array([0.50, 0.52, 0.47, 0.55])
    b = a - np.array([0.10, 0.08, 0.12, 0.09])
    d = paired_difference(a, b)
    diffs = b - a
    half = stats.t.ppf(0.975, 3) * diffs.std(ddof=1) / 2
    assert d.diff == pytest.approx(diffs.mean())
    assert (d.low, d.high) == pytest.approx((diffs.mean() - half, diffs.mean() + half))
    assert d.n == 4 and d.verdict == "B lower"


def test_an_interval_that_holds_zero_says_not_distinguishable_at_this_n():
    d = paired_difference([0.1, 0.3], [0.2, 0.25])
    assert d.low < 0 < d.high and d.verdict == "not distinguishable at n = 2"


def world(**overrides) -> dict:
    return tiny_scenario(persistence=2, refusal=0.3, steps=4, **overrides)


def test_paired_csv_recomputes_summary_csv_exactly(tmp_path: Path):
    result = compare(world(), params=[("models.m.refusal.harm", 0.9)], seeds=3)
    result.save(tmp_path)
    paired = pd.read_csv(tmp_path / "paired.csv")
    summary = pd.read_csv(tmp_path / "summary.csv")
    assert list(paired.columns) == ["seed", "metric", "a", "b"]
    assert len(paired) == 3 * summary.shape[0]
    pd.testing.assert_frame_equal(summarize_pairs(paired), summary)
    harm = summary.set_index("metric").loc["harm_completion_rate"]
    assert harm["verdict"] == "B lower" and harm["n"] == 3
    assert harm["method"] == "Student's t, 95%"


def test_a_saved_comparison_records_its_scenarios_and_seeds_and_reruns_the_same(
    tmp_path: Path,
):
    import json

    result = compare(world(), params=[("models.m.refusal.harm", 0.9)], seeds=3)
    result.save(tmp_path)
    record = json.loads((tmp_path / "compare.json").read_text())
    assert record["seeds"] == result.seeds and record["b"] == result.name_b
    assert record["outcomes"] == list(result.summary["metric"])
    again = compare(tmp_path / "a.yaml", tmp_path / "b.yaml", seeds=len(record["seeds"]))
    assert again.seeds == record["seeds"]
    pd.testing.assert_frame_equal(again.paired, result.paired)


def test_comparing_a_scenario_with_itself_gives_zero_difference_on_every_seed():
    result = compare(world(), world(), seeds=3)
    assert (result.paired["a"].fillna(-1) == result.paired["b"].fillna(-1)).all()
    assert (result.summary["diff"].dropna() == 0).all()


def test_precision_adds_seeds_until_the_half_width_is_reached_or_the_cap():
    loose = compare(world(), params=[("models.m.refusal.harm", 0.9)], precision=0.5)
    assert loose.precision.reached and len(loose.seeds) == 3
    assert loose.precision.half_width <= 0.5
    strict = compare(world(), params=[("models.m.refusal.harm", 0.35)], precision=1e-9, max_seeds=5)
    assert not strict.precision.reached and len(strict.seeds) == 5
    assert "not reached" in strict.precision.describe()


def test_seeds_grow_by_prefix_so_more_precision_reruns_no_seed():
    three = compare(world(), world(), seeds=3).seeds
    five = compare(world(), world(), seeds=5).seeds
    assert five[:3] == three


def test_seeds_and_precision_together_are_refused():
    with pytest.raises(ValueError, match="not both"):
        compare(world(), world(), seeds=3, precision=0.1)


def test_parameters_are_dotted_paths_with_yaml_values():
    assert parse_param("nodes.filter_recall=0.9") == ("nodes.filter_recall", 0.9)
    assert parse_param("treaties=[[eu, us]]") == ("treaties", [["eu", "us"]])
    with pytest.raises(ScenarioError, match="PATH=VALUE"):
        parse_param("nodes.filter_recall")


def test_cli_compare_prints_each_outcome_and_writes_both_tables(tmp_path: Path):
    path = tmp_path / "tiny.yaml"
    import yaml

    path.write_text(yaml.safe_dump(validate(world()).to_dict()))
    result = CliRunner().invoke(
        app,
        [
            "compare",
            str(path),
            "--param",
            "models.m.refusal.harm=0.9",
            "--seeds",
            "3",
            "--out",
            str(tmp_path / "cmp"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "harm completion" in result.stdout and "B lower" in result.stdout
    assert "Student's t, 95% at n = 3" in result.stdout
    assert (tmp_path / "cmp" / "summary.csv").is_file()
    assert (tmp_path / "cmp" / "paired.csv").is_file()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--seeds", "3", "--precision", "0.1"], "not both"),
        ([], "give scenario B"),
        (["--param", "nodes.nope=1"], "nodes.nope"),
        (["--param", "x", "--seeds", "2"], "PATH=VALUE"),
    ],
)
def test_cli_compare_usage_errors_are_one_line_and_exit_2(args, message):
    result = CliRunner().invoke(app, ["compare", "classroom_demo", *args, "--steps", "2"])
    assert result.exit_code == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
