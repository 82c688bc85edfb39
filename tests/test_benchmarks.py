"""The benchmark harness runs end to end and writes well-formed JSON.

``python -m benchmarks --quick`` (tiny sizes, one repetition) must exit 0, print the
table with every target, and write a JSON file holding every case with the expected
keys. No timing is asserted: wall-clock numbers depend on the machine.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

CASE_KEYS = {
    "startup": {"interpreter_s", "interpreter_plus_import_sim_s", "import_sim_s"},
    "baseline": {
        "scenario",
        "end_to_end_s",
        "build_s",
        "steps_s",
        "tables_s",
        "requests_per_s",
        "attempts_per_s",
        "agent_steps_per_s",
        "traced_peak_mb",
    },
    "classroom_demo": {"scenario", "end_to_end_s", "steps_s", "requests_per_s"},
    "large": {
        "scenario",
        "build_s",
        "step_s",
        "step_cpu_s",
        "emitted_per_step",
        "attempts_per_step",
        "requests_per_s",
        "requests_per_cpu_s",
        "agent_steps_per_s",
        "phases_s",
        "record_share",
        "peak_rss_mb",
    },
    "scaling_requests": {"series", "rows", "ratios", "max_ratio"},
    "scaling_nodes": {"series", "rows", "ratios", "max_ratio"},
    "recording": {"record_share", "phase_shares"},
    "reference": {"engine_s", "reference_s", "speedup"},
    "reference_baseline": {"engine_s", "reference_s", "speedup"},
    "reference_scale": {"engine_s", "reference_s", "speedup"},
    "reference_large": {"engine_step_s", "reference_step_s", "speedup", "reference_build_s"},
    "sweeps": {"long", "one_worker", "two_workers", "speedup_1_to_2"},
    "protocols": {"cases", "worst_ratio"},
    "protocols_large": {"cases", "worst_ratio"},
    **{
        f"scaling_{series}_{protocol}": {"series", "rows", "ratios", "max_ratio"}
        for series in ("requests", "nodes")
        for protocol in ("gateway", "p2p", "validators")
    },
    "p2p_policy": {"scenario", "build_s", "day_s", "day_cpu_s", "peak_rss_mb"},
    "huge": {"scenario", "build_s", "day_s", "day_cpu_s", "peak_rss_mb"},
}

#: Every case compared with the static open baseline, at both sizes.
PROTOCOL_CASES = {
    "gateway",
    "p2p",
    "protocol_self_governance",
    "defence_in_depth",
    "eu_ai_act",
    "haven_emerges",
    "us_state_patchwork",
    "global_treaty",
}


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory) -> tuple[subprocess.CompletedProcess, dict]:
    path = tmp_path_factory.mktemp("bench") / "nested" / "out.json"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--json", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    return proc, json.loads(path.read_text(encoding="utf-8"))


def test_quick_run_prints_every_target(quick_run):
    proc, result = quick_run
    assert "targets:" in proc.stdout
    for target in result["targets"]:
        assert target["name"] in proc.stdout


def test_json_has_every_case_with_its_keys(quick_run):
    _, result = quick_run
    assert set(result) == {"meta", "measurements", "targets"}
    assert result["meta"]["quick"] is True
    measurements = result["measurements"]
    for case, keys in CASE_KEYS.items():
        assert case in measurements, case
        missing = keys - set(measurements[case])
        assert not missing, f"{case} lacks {sorted(missing)}"


def test_measurements_are_positive_numbers(quick_run):
    _, m = quick_run
    m = m["measurements"]
    for value in (
        m["baseline"]["end_to_end_s"],
        m["baseline"]["requests_per_s"],
        m["large"]["step_s"],
        m["large"]["peak_rss_mb"],
        m["reference"]["speedup"],
        m["startup"]["import_sim_s"],
    ):
        assert isinstance(value, float) and math.isfinite(value) and value > 0
    for key in ("scaling_requests", "scaling_nodes"):
        assert len(m[key]["rows"]) >= 4
        assert len(m[key]["ratios"]) == len(m[key]["rows"]) - 1
    assert 0 < m["recording"]["record_share"] < 1
    for key in ("protocols", "protocols_large"):
        assert set(m[key]["cases"]) == PROTOCOL_CASES
        for row in m[key]["cases"].values():
            assert row["ratio"] > 0 and len(row["ratios"]) >= 1
            assert row["day_cpu_s"] > 0 and row["base_day_cpu_s"] > 0
            # the protocol's daily work is a part of the case's day
            assert 0 <= row["protocol_ratio"] <= max(row["ratios"])
    for key in ("p2p_policy", "huge"):
        assert m[key]["day_s"] > 0 and m[key]["peak_rss_mb"] > 0


def test_targets_are_not_judged_in_quick_runs(quick_run):
    _, result = quick_run
    assert len(result["targets"]) >= 40
    for target in result["targets"]:
        assert set(target) == {"name", "measured", "op", "target", "status"}
        assert target["status"] == "n/a"


def test_json_is_strict(quick_run):
    """No NaN or Infinity literals: the file parses as standard JSON."""
    _, result = quick_run

    def reject(token: str) -> None:
        raise ValueError(token)

    json.loads(json.dumps(result), parse_constant=reject)


def test_compare_runs_a_revision_side_by_side_with_the_working_tree(tmp_path):
    """``python -m benchmarks.compare HEAD`` exports HEAD, runs it and the working tree at
    the same time and reports a positive ratio per pair (no timing is asserted)."""
    out = tmp_path / "compare.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.compare",
            "HEAD",
            "--preset",
            "classroom_demo",
            "--steps",
            "3",
            "--pairs",
            "2",
            "--json",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "working tree / HEAD" in proc.stdout
    result = json.loads(out.read_text())
    assert len(result["working_tree_s"]) == len(result["revision_s"]) == 2
    assert result["ratio_median"] > 0 and math.isfinite(result["ratio_median"])
