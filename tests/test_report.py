"""The run report: produced for one run and for replications, every figure it claims exists."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

import sim
from sim.cli import app
from sim.output.report import FIGURES, ReportError, make_report


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    return [sim.run("classroom_demo", seed=s, steps=45).save(root / f"seed{s}") for s in (1, 2, 3)]


def figures_of(page: str) -> list[str]:
    return re.findall(r'data-file="([^"]+)"', page)


def test_report_for_replications_references_every_figure_it_draws(runs, tmp_path):
    path = make_report(runs, tmp_path / "report")
    page = path.read_text()
    files = figures_of(page)
    assert len(files) == len(FIGURES)
    for name in files:
        assert (path.parent / name).stat().st_size > 0
        assert (path.parent / name.replace(".png", ".svg")).stat().st_size > 0
    assert "classroom_demo" in page and "seeds 1, 2, 3" in page
    assert page.count("data:image/png;base64,") == len(FIGURES)  # self-contained


def test_report_for_one_run_via_the_cli(runs, tmp_path):
    result = CliRunner().invoke(app, ["report", str(runs[0]), "--out", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "r" / "report.html").is_file()


def test_report_refuses_runs_of_different_scenarios(runs, tmp_path):
    other = sim.run("classroom_demo", seed=1, steps=10).save(tmp_path / "other")
    with pytest.raises(ReportError, match="different scenarios"):
        make_report([runs[0], other], tmp_path / "r")
    result = CliRunner().invoke(app, ["report", str(runs[0]), str(other)])
    assert result.exit_code == 2 and "different scenarios" in result.stderr


def test_report_of_a_folder_without_a_run_exits_2(tmp_path):
    result = CliRunner().invoke(app, ["report", str(tmp_path)])
    assert result.exit_code == 2 and "run.json" in result.stderr


def test_sweep_report_references_every_figure_it_draws(sweep_dir, tmp_path):
    """A grid sweep's report: heatmaps, main effects and the frontier, each embedded and
    saved as PNG and SVG; the summary table and the run counts are on the page."""
    result = CliRunner().invoke(app, ["report", str(sweep_dir), "--out", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    page = (tmp_path / "r" / "report.html").read_text()
    files = figures_of(page)
    assert files == ["sweep_heatmaps.png", "sweep_main_effects.png", "sweep_frontier.png"]
    for name in files:
        assert (tmp_path / "r" / name).stat().st_size > 0
        assert (tmp_path / "r" / name.replace(".png", ".svg")).stat().st_size > 0
    assert page.count("data:image/png;base64,") == len(files)
    assert "12 ok" in page and "audit_rate" in page and "Audits against filters" in page


def test_sweep_report_of_a_morris_design_has_sensitivity(tmp_path):
    """A Morris sweep's report adds the sensitivity figure and its table."""
    from conftest import TINY_EXPERIMENT

    from sim.experiments.experiment import load_experiment
    from sim.experiments.sweep import sweep
    from sim.output.sweep_report import make_sweep_report

    factors = [
        TINY_EXPERIMENT["factors"][0],
        {"name": "filter_recall", "path": "nodes.filter_recall", "range": [0.5, 0.9]},
    ]
    experiment = {
        **TINY_EXPERIMENT,
        "factors": factors,
        "design": {"kind": "morris", "samples": 3},
        "replications": 1,
    }
    sweep(load_experiment(experiment), tmp_path / "m", workers=1)
    page = make_sweep_report(tmp_path / "m", tmp_path / "r").read_text()
    assert "morris.png" in figures_of(page)
    assert "mu_star" in page


def test_sweep_report_without_successful_runs_exits_2(tmp_path):
    from conftest import TINY_EXPERIMENT

    from sim.experiments.experiment import load_experiment
    from sim.experiments.sweep import sweep

    bad = {
        **TINY_EXPERIMENT,
        "factors": [{"name": "v", "path": "requesters.kinds.malicious.vpn_use", "values": [2.0]}],
        "replications": 1,
    }
    sweep(load_experiment(bad), tmp_path / "s", workers=1)
    result = CliRunner().invoke(app, ["report", str(tmp_path / "s")])
    assert result.exit_code == 2 and "no successful run" in result.stderr
