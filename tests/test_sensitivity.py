"""Sensitivity analysis (Sobol, Morris) and scenario discovery (tree, PRIM) of sweeps.

Properties checked: the Sobol indices computed through the experiment's own design match
the analytic values of the Ishigami function, and Morris effects rank the factors of a
linear function by their slopes; on real sweeps the indices are finite and plausible up to
their confidence intervals and name the factor that drives an outcome; discovery finds a
known box in synthetic data; the CLI prints every factor or box and reports bad input
with exit code 2 and one line.
"""

from __future__ import annotations

import math
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from SALib.test_functions import Ishigami
from typer.testing import CliRunner

from sim.analysis.discovery import DiscoveryError, boxes_prim, boxes_tree
from sim.analysis.sensitivity import SensitivityError, analyze, indices
from sim.cli import app
from sim.experiments.design import design_points, salib_problem
from sim.experiments.experiment import load_experiment
from sim.experiments.folder import SweepFolder, parquet_bytes, read_parts
from sim.experiments.sweep import sweep

#: Three valid scenario paths: the pure-function tests only borrow them for the design.
PATHS = ("nodes.filter_recall", "requesters.kinds.malicious.vpn_use", "nodes.filter_recall")
FACTORS = ("audit_rate", "malicious_vpn_use")
SPEND = "enforcement_spend_usd_total"
SUCCESS = "malicious_success_share_mean"


def pure_experiment(kind: str, **design: Any) -> Any:
    """Three factors x1..x3 on [-pi, pi] with a ``kind`` design (values never run)."""
    factors = [
        {"name": f"x{i + 1}", "path": path, "range": [-math.pi, math.pi]}
        for i, path in enumerate(PATHS)
    ]
    return load_experiment(
        {
            "name": "pure",
            "scenario": "classroom_demo",
            "factors": factors,
            "design": {"kind": kind, **design},
            "seed": 1,
        }
    )


def sweep_experiment(name: str, design: dict[str, Any]) -> dict[str, Any]:
    """Audit rate and malicious VPN use on a tiny classroom world, common random numbers
    (so outcomes differ between points by the factors, not by the seed)."""
    return {
        "name": name,
        "scenario": "classroom_demo",
        "steps": 10,
        "overrides": {"requesters": {"count": 500}, "nodes": {"count": 60}},
        "factors": [
            {"name": "audit_rate", "path": "jurisdictions.*.enforcement.audit_rate",
             "range": [0.0, 0.2]},
            {"name": "malicious_vpn_use", "path": "requesters.kinds.malicious.vpn_use",
             "range": [0.0, 1.0]},
        ],
        "design": design,
        "replications": 1,
        "seed": 1,
        "common_random_numbers": True,
        "outcomes": [
            {"metric": "malicious_success_share", "stat": "mean"},
            {"metric": "enforcement_spend_usd", "stat": "total"},
        ],
    }  # fmt: skip


def make_sweep(factory: pytest.TempPathFactory, name: str, design: dict[str, Any]) -> Path:
    root = factory.mktemp(name) / "sweep"
    sweep(load_experiment(sweep_experiment(name, design)), root, workers=1)
    return root


@pytest.fixture(scope="module")
def saltelli_sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """8 x (2 + 2) = 32 runs."""
    return make_sweep(tmp_path_factory, "saltelli", {"kind": "saltelli", "samples": 8})


@pytest.fixture(scope="module")
def morris_sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """6 trajectories x (2 + 1) = 18 runs."""
    return make_sweep(tmp_path_factory, "morris", {"kind": "morris", "samples": 6})


@pytest.fixture(scope="module")
def lhs_sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """24 Latin hypercube points."""
    return make_sweep(tmp_path_factory, "lhs", {"kind": "lhs", "samples": 24})


@pytest.fixture(scope="module")
def grid_sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A one-run grid (run in-process, no cluster)."""
    root = tmp_path_factory.mktemp("grid") / "sweep"
    spec = sweep_experiment("grid", {"kind": "grid", "levels": 2})
    spec["factors"] = [{"name": "audit_rate", "path": spec["factors"][0]["path"], "values": [0.1]}]
    sweep(load_experiment(spec), root, workers=1)
    return root


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def one_line_error(result: Any) -> str:
    """The single stderr line of a command that exited 2."""
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


# ------------------------------------------------------------------ pure indices


def test_sobol_indices_of_ishigami_match_analytic_values():
    """Through design_points and indices, Ishigami (a=7, b=0.1) gives S1 = (0.3139,
    0.4424, 0) and ST = (0.5576, 0.4424, 0.2437) within 0.05, about the 95% half-widths
    at N = 1024 (checked to be below 0.1)."""
    experiment = pure_experiment("saltelli", samples=1024)
    design = design_points(experiment)
    y = Ishigami.evaluate(design[["x1", "x2", "x3"]].to_numpy())
    table = indices(salib_problem(experiment.factors), "saltelli", design, y, seed=1)
    assert table["factor"].tolist() == ["x1", "x2", "x3"]
    np.testing.assert_allclose(table["S1"], [0.3139, 0.4424, 0.0], atol=0.05)
    np.testing.assert_allclose(table["ST"], [0.5576, 0.4424, 0.2437], atol=0.05)
    assert (table[["S1_conf", "ST_conf"]] < 0.1).all().all()


def test_morris_effects_rank_the_slopes_of_a_linear_function():
    """For y = 10 x1 + x2 + 0 x3, mu* orders x1 > x2 > x3 = 0 and is the slope times
    the factor's range (outcome units per factor range), with sigma 0 (no interactions)."""
    experiment = pure_experiment("morris", samples=20, levels=4)
    design = design_points(experiment)
    x = design[["x1", "x2", "x3"]].to_numpy()
    y = 10 * x[:, 0] + x[:, 1] + 0 * x[:, 2]
    table = indices(salib_problem(experiment.factors), "morris", design, y, num_levels=4)
    mu_star = table.set_index("factor")["mu_star"]
    assert mu_star["x1"] > mu_star["x2"] > mu_star["x3"] == 0
    np.testing.assert_allclose(mu_star[["x1", "x2"]], [10 * 2 * math.pi, 2 * math.pi])
    np.testing.assert_allclose(table["sigma"], 0, atol=1e-9)


def test_indices_rejects_other_designs_nan_outcomes_and_wrong_lengths():
    experiment = pure_experiment("saltelli", samples=8)
    design = design_points(experiment)
    problem = salib_problem(experiment.factors)
    y = np.arange(len(design), dtype=float)
    with pytest.raises(SensitivityError, match="saltelli or morris design; this sweep is lhs"):
        indices(problem, "lhs", design, y)
    y[[3, 5]] = np.nan
    with pytest.raises(SensitivityError, match="2 of 40 design points"):
        indices(problem, "saltelli", design, y)
    with pytest.raises(SensitivityError, match="incomplete"):
        indices(problem, "saltelli", design, np.arange(10.0))
    with pytest.raises(SensitivityError, match="undefined"):
        indices(problem, "saltelli", design, np.ones(len(design)))


# ------------------------------------------------------------------ real sweeps


def test_sobol_indices_of_a_sweep_are_plausible_and_written(saltelli_sweep):
    """Finite; S1 a share of variance in [-0.2, 1.2], sum of S1 at most 1 and ST >= S1,
    each up to its 95% half-widths (N = 8 is tiny); audit spending is driven by the audit
    rate, not VPN use; sensitivity.csv and .parquet hold the table."""
    table = analyze(saltelli_sweep)
    assert table.columns.tolist() == ["outcome", "factor", "S1", "S1_conf", "ST", "ST_conf"]
    assert set(table["outcome"]) == {SUCCESS, SPEND}
    assert np.isfinite(table[["S1", "S1_conf", "ST", "ST_conf"]]).all().all()
    assert (table["S1"] - table["S1_conf"] <= 1.2).all()
    assert (table["S1"] + table["S1_conf"] >= -0.2).all()
    for _, part in table.groupby("outcome"):
        assert part["S1"].sum() <= 1 + np.sqrt((part["S1_conf"] ** 2).sum()) + 0.2
    assert (table["ST"] >= table["S1"] - table["S1_conf"] - table["ST_conf"]).all()
    spend = table[table["outcome"] == SPEND].set_index("factor")["ST"]
    assert spend["audit_rate"] > spend["malicious_vpn_use"]
    pd.testing.assert_frame_equal(pd.read_parquet(saltelli_sweep / "sensitivity.parquet"), table)
    assert len(pd.read_csv(saltelli_sweep / "sensitivity.csv")) == len(table)


def test_morris_effects_of_a_sweep_are_consistent(morris_sweep):
    """Finite; mu* >= |mu| and sigma >= 0 by definition; the audit rate drives spending."""
    table = analyze(morris_sweep, [SPEND], write=False)
    assert table.columns.tolist() == [
        "outcome", "factor", "mu", "mu_star", "mu_star_conf", "sigma",
    ]  # fmt: skip
    assert np.isfinite(table[["mu", "mu_star", "mu_star_conf", "sigma"]]).all().all()
    assert (table["mu_star"] >= table["mu"].abs() - 1e-9).all()
    assert (table["sigma"] >= 0).all()
    mu_star = table.set_index("factor")["mu_star"]
    assert mu_star["audit_rate"] > mu_star["malicious_vpn_use"]
    assert not (morris_sweep / "sensitivity.csv").exists()


def test_analyze_names_design_points_without_a_successful_run(saltelli_sweep, tmp_path):
    root = tmp_path / "copy"
    shutil.copytree(saltelli_sweep, root)
    shutil.rmtree(root / "outcomes" / "point=3")
    with pytest.raises(SensitivityError, match=r"1 of 32 design points .*points \[3\]"):
        analyze(root, write=False)


def test_cli_sensitivity_prints_every_factor_and_writes_figures(
    runner, saltelli_sweep, morris_sweep, tmp_path
):
    for root, kind in ((saltelli_sweep, "sobol"), (morris_sweep, "morris")):
        result = runner.invoke(app, ["sensitivity", str(root), "--out", str(tmp_path / kind)])
        assert result.exit_code == 0, result.output
        for name in (*FACTORS, SUCCESS, SPEND):
            assert name in result.stdout
        for suffix in ("png", "svg"):
            assert (tmp_path / kind / f"{kind}.{suffix}").stat().st_size > 0
    result = runner.invoke(app, ["sensitivity", str(morris_sweep), "--outcome", SPEND])
    assert result.exit_code == 0, result.output
    assert SUCCESS not in result.stdout
    assert (morris_sweep / "sensitivity" / "morris.png").is_file()


def test_cli_sensitivity_reports_bad_input_in_one_line(runner, grid_sweep, saltelli_sweep):
    line = one_line_error(runner.invoke(app, ["sensitivity", str(grid_sweep)]))
    assert "saltelli or morris design; this sweep is grid" in line
    line = one_line_error(
        runner.invoke(app, ["sensitivity", str(saltelli_sweep), "--outcome", "x"])
    )
    assert "unknown outcome" in line and SPEND in line
    line = one_line_error(runner.invoke(app, ["sensitivity", str(grid_sweep / "nothing")]))
    assert "not a dirisk sweep folder" in line


# ------------------------------------------------------------------ discovery


@pytest.fixture
def corner() -> tuple[pd.DataFrame, np.ndarray]:
    """800 uniform points in the unit cube; cases of interest: x1 < 0.3 and x2 > 0.6."""
    rng = np.random.default_rng(5)
    x = pd.DataFrame(rng.uniform(size=(800, 3)), columns=["x1", "x2", "x3"])
    return x, ((x["x1"] < 0.3) & (x["x2"] > 0.6)).to_numpy()


@pytest.mark.parametrize("method", ["tree", "prim"])
def test_discovery_finds_a_known_box(corner, method):
    """The top box is dense (>= 0.9) and covers (>= 0.8) the region, with limits within
    0.05 of x1 < 0.3 and x2 > 0.6, and leaves x3 unrestricted."""
    x, y = corner
    find = boxes_tree if method == "tree" else boxes_prim
    table = find(x, y)
    top = table.iloc[0]
    assert top["box"] == 1
    assert top["density"] >= 0.9 and top["coverage"] >= 0.8
    assert abs(top["x1_high"] - 0.3) < 0.05 and abs(top["x2_low"] - 0.6) < 0.05
    assert top["x1_low"] == x["x1"].min() and top["x2_high"] == x["x2"].max()
    assert "x1 <=" in top["rule"] and "x2 >" in top["rule"] and "x3" not in top["rule"]
    assert top["runs"] == round(top["coverage"] * y.sum() / top["density"])


def test_prim_takes_the_knee_when_no_box_is_dense_enough(corner):
    """With an unreachable density, PRIM still reports a restricted box, denser than the
    base rate."""
    x, y = corner
    box = boxes_prim(x, y, threshold=1.01).iloc[0]
    assert box["rule"] != "all runs"
    assert box["density"] > y.mean()


def test_prim_finds_a_box_on_an_integer_factor(corner):
    """An int64 factor (an `integer: true` factor, or `seed`): ema_workbench 2.5.3 puts
    limits such as 5.5 into the factor's own column, which pandas 3 refuses for int64;
    the factors reach PRIM as floats, and the caller's table is left as it was."""
    x, _ = corner
    x = x.assign(x2=(x["x2"] * 10).astype("int64"))  # 0..9
    y = ((x["x1"] < 0.3) & (x["x2"] >= 6)).to_numpy()
    top = boxes_prim(x, y).iloc[0]
    assert top["density"] >= 0.9 and top["coverage"] >= 0.8
    assert 5 <= top["x2_low"] <= 6 and top["x2_high"] == 9
    assert "x2" in top["rule"] and "x3" not in top["rule"]
    assert x["x2"].dtype == "int64"


def test_cli_discover_prim_on_a_sweep_with_an_integer_factor(runner, tmp_path):
    """`dirisk discover --method prim` on a sweep folder whose factor is `integer: true`
    (int64 in the outcomes parts) prints its box instead of failing."""
    spec = sweep_experiment("integer", {"kind": "lhs", "samples": 60})
    spec["factors"][1] = {
        "name": "persistence",
        "path": "requesters.kinds.malicious.persistence",
        "range": [0, 8],
        "integer": True,
    }
    experiment = load_experiment(spec)
    design = design_points(experiment)
    folder = SweepFolder(tmp_path / "sweep")
    folder.prepare(experiment, design, len(design))
    for row in design.itertuples():  # the outcomes parts of a sweep, written by hand
        success = float(row.audit_rate < 0.1 and row.persistence >= 4)
        part = {"point": row.point, "replication": 0, "seed": 0, "audit_rate": row.audit_rate,
                "persistence": row.persistence, SUCCESS: success, SPEND: 0.0, "status": "ok",
                "error": "", "seconds": 0.0}  # fmt: skip
        folder.save(row.point, 0, {"outcomes": parquet_bytes(pd.DataFrame([part]))})
    assert read_parts(folder.root)["persistence"].dtype == "int64"
    args = ["discover", str(folder.root), "--outcome", SUCCESS, "--above", "0.5"]
    result = runner.invoke(app, [*args, "--method", "prim"])
    assert result.exit_code == 0, result.output
    assert "box 1:" in result.stdout and "persistence" in result.stdout


def test_prim_without_ema_workbench_says_how_to_install_it(corner, monkeypatch):
    monkeypatch.setitem(sys.modules, "ema_workbench.analysis.prim", None)
    with pytest.raises(DiscoveryError, match=r'pip install "dirisk\[ema\]"'):
        boxes_prim(*corner)


@pytest.mark.parametrize("method", ["tree", "prim"])
def test_cli_discover_prints_boxes_of_a_real_sweep(runner, lhs_sweep, method):
    threshold = float(read_parts(lhs_sweep)[SUCCESS].median())
    args = ["discover", str(lhs_sweep), "--outcome", SUCCESS, "--above", str(threshold)]
    result = runner.invoke(app, [*args, "--method", method, "--max-depth", "2"])
    assert result.exit_code == 0, result.output
    assert "box 1:" in result.stdout and "coverage" in result.stdout
    assert "of 24 runs have" in result.stdout
    boxes = pd.read_csv(lhs_sweep / "discovery.csv")
    assert boxes.columns[:5].tolist() == ["box", "rule", "coverage", "density", "runs"]
    assert {f"{name}_{side}" for name in FACTORS for side in ("low", "high")} <= set(boxes)


@pytest.mark.parametrize(
    "extra, expected",
    [
        (["--above", "0.5", "--below", "0.6"], "exactly one threshold"),
        ([], "exactly one threshold"),
        (["--above", "2"], "no successful run has"),
        (["--below", "2"], "every successful run has"),
        (["--above", "0.5", "--method", "forest"], "unknown method"),
    ],
    ids=["both", "neither", "no cases", "all cases", "method"],
)
def test_cli_discover_reports_bad_input_in_one_line(runner, lhs_sweep, extra, expected):
    line = one_line_error(
        runner.invoke(app, ["discover", str(lhs_sweep), "--outcome", SUCCESS, *extra])
    )
    assert expected in line


def test_cli_discover_lists_the_outcomes_of_an_unknown_one(runner, lhs_sweep):
    args = ["discover", str(lhs_sweep), "--outcome", "harm", "--above", "0.5"]
    line = one_line_error(runner.invoke(app, args))
    assert "unknown outcome 'harm'" in line and SUCCESS in line and SPEND in line


def test_tree_gives_no_box_when_cases_are_nowhere_the_majority():
    """Scattered rare cases: no leaf is mostly cases of interest, so an empty table with
    the box columns."""
    rng = np.random.default_rng(2)
    x = pd.DataFrame(rng.uniform(size=(400, 2)), columns=["x1", "x2"])
    table = boxes_tree(x, rng.uniform(size=400) < 0.05)
    assert table.empty
    assert table.columns.tolist() == [
        "box", "rule", "coverage", "density", "runs", "x1_low", "x1_high", "x2_low", "x2_high",
    ]  # fmt: skip
