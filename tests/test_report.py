"""The run report: produced for one run and for replications, every figure it claims exists."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

import sim
from sim.cli import app
from sim.report import FIGURES, ReportError, make_report


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
