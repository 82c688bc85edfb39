"""The experiments benchmark (attribution, robustness and policy search end to end) runs
and reports every target; its quick mode checks the harness, not the targets."""

from __future__ import annotations

import json

from benchmarks.experiments import cases, main


def test_the_experiments_benchmark_has_a_target_for_every_case():
    found = cases(quick=True)
    assert len(found) == 4 and all(target > 0 for _, target, _ in found)


def test_the_experiments_benchmark_times_a_case_and_reports_it(tmp_path, capsys):
    out = tmp_path / "experiments.json"
    assert main(["--quick", "--only", "attribution classroom", "--json", str(out)]) == 0
    record = json.loads(out.read_text())
    assert record["quick"] and record["cores"] and len(record["cases"]) == 1
    assert record["cases"][0]["verdict"] in ("PASS", "MISS")
    assert capsys.readouterr().out.count("target <") == 1
