"""The ``dirisk`` command line: run, validate, list, schema, and how bad input is reported.

Bad input must exit 2 with exactly one line on stderr naming the file and the field path,
and never a traceback. The typer CliRunner installed here keeps stdout and stderr apart
(``result.stdout`` / ``result.stderr``; ``result.output`` is the two interleaved).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from sim.cli import app

REQUIRED_TABLES = {"metrics", "flows", "nodes", "events"}


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


# name -> (file contents, or None for a file that is not written; field path in the message)
BAD_FILES: dict[str, tuple[str | bytes | None, str]] = {
    "typo_nested": (
        """
        extends: baseline
        jurisdictions:
          eu:
            enforcement:
              audit_rat: 0.1
    """,
        "jurisdictions.eu.enforcement.audit_rat",
    ),
    "probability": (
        """
        extends: baseline
        jurisdictions:
          eu:
            enforcement:
              audit_rate: 1.5
    """,
        "jurisdictions.eu.enforcement.audit_rate",
    ),
    "wrong_type": ("extends: baseline\nsteps: ten\n", "steps"),
    "share_sum": (
        """
        extends: baseline
        jurisdictions:
          eu:
            model_mix: {aligned: 0.5, base: 0.1}
    """,
        "jurisdictions.eu.model_mix",
    ),
    "unknown_jurisdiction": (
        """
        extends: baseline
        timeline:
          - step: 5
            kind: policy_change
            jurisdiction: atlantis
            prohibit: [malware]
    """,
        "timeline.0.jurisdiction",
    ),
    "invalid_yaml": ("extends: baseline\nsteps: [1, 2\n", ""),
    "python_tag": ('extends: baseline\nname: !!python/object/apply:os.system ["echo hi"]\n', ""),
    "not_utf8": ("extends: baseline\ndescription: caf\xe9\n".encode("latin-1"), ""),
    "missing": (None, ""),
}


def make_bad(directory: Path, case: str) -> tuple[Path, str]:
    """Write the bad file for ``case``; return its path and the field path to expect."""
    content, field = BAD_FILES[case]
    path = directory / f"{case}.yaml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        write(directory, path.name, content)
    return path, field


def assert_one_line_error(result, path: Path, field: str) -> None:
    """Exit 2, one stderr line naming the file (and field), nothing on stdout, no traceback."""
    assert result.exit_code == 2, (result.exit_code, result.output)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert path.name in lines[0]
    if field:
        assert f"{field}:" in lines[0]
    assert "Traceback" not in result.output
    assert result.stdout == ""


# ----------------------------------------------------------------- run


def test_run_writes_parquet_tables_and_run_json_and_prints_a_summary(
    runner: CliRunner, tmp_path: Path
) -> None:
    """`dirisk run classroom_demo --steps 3 --out DIR` exits 0, prints a summary and writes
    every table as parquet plus run.json."""
    out = tmp_path / "run"
    result = runner.invoke(app, ["run", "classroom_demo", "--steps", "3", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "classroom_demo" in result.stdout
    assert "3 days" in result.stdout
    assert "written to" in result.stdout
    meta = json.loads((out / "run.json").read_text())
    assert meta["format"] == "parquet"
    assert meta["steps"] == 3
    assert meta["scenario_name"] == "classroom_demo"
    assert {f"{name}.parquet" for name in REQUIRED_TABLES} <= set(meta["tables"])
    for table in meta["tables"]:
        assert (out / table).is_file(), table
        assert not (out / table.replace(".parquet", ".csv")).exists()
    assert len(pd.read_parquet(out / "metrics.parquet")) == 3


def test_run_with_format_csv_writes_csv_tables(runner: CliRunner, tmp_path: Path) -> None:
    """`--format csv` writes every table as .csv (and no .parquet)."""
    out = tmp_path / "run"
    result = runner.invoke(
        app,
        ["run", "classroom_demo", "--steps", "3", "--out", str(out), "--format", "csv", "--quiet"],
    )
    assert result.exit_code == 0, result.output
    meta = json.loads((out / "run.json").read_text())
    assert meta["format"] == "csv"
    assert {f"{name}.csv" for name in REQUIRED_TABLES} <= set(meta["tables"])
    for table in meta["tables"]:
        assert (out / table).is_file(), table
        assert not (out / table.replace(".csv", ".parquet")).exists()
    assert len(pd.read_csv(out / "metrics.csv")) == 3


@pytest.mark.parametrize("case", ["typo_nested", "probability", "invalid_yaml", "missing"])
def test_run_on_a_bad_file_exits_2_with_one_line(
    runner: CliRunner, tmp_path: Path, case: str
) -> None:
    """`dirisk run BAD` exits 2 with one stderr line and writes no output folder."""
    path, field = make_bad(tmp_path, case)
    out = tmp_path / "out"
    result = runner.invoke(app, ["run", str(path), "--steps", "3", "--out", str(out)])
    assert_one_line_error(result, path, field)
    assert not out.exists()


# ----------------------------------------------------------------- validate


def test_validate_accepts_both_presets(runner: CliRunner) -> None:
    """`dirisk validate baseline classroom_demo` exits 0 and says ok for each."""
    result = runner.invoke(app, ["validate", "baseline", "classroom_demo"])
    assert result.exit_code == 0, result.output
    assert "ok: baseline" in result.stdout
    assert "ok: classroom_demo" in result.stdout
    assert result.stderr == ""


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_validate_on_a_bad_file_exits_2_with_one_line(
    runner: CliRunner, tmp_path: Path, case: str
) -> None:
    """`dirisk validate BAD` exits 2 with exactly one stderr line naming file and field."""
    path, field = make_bad(tmp_path, case)
    result = runner.invoke(app, ["validate", str(path)])
    assert_one_line_error(result, path, field)


def test_validate_stops_at_the_first_bad_file(runner: CliRunner, tmp_path: Path) -> None:
    """Good files before a bad one are reported ok; the bad one exits 2 with one line."""
    path, field = make_bad(tmp_path, "share_sum")
    result = runner.invoke(app, ["validate", "classroom_demo", str(path)])
    assert result.exit_code == 2
    assert "ok: classroom_demo" in result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and path.name in lines[0] and field in lines[0]


def test_validate_cyclic_extends_exits_2_with_one_line(runner: CliRunner, tmp_path: Path) -> None:
    """A cycle of `extends:` is bad input (exit 2, one line mentioning the cycle)."""
    a = write(tmp_path, "a.yaml", "extends: b.yaml\nname: a\n")
    write(tmp_path, "b.yaml", "extends: a.yaml\nname: b\n")
    result = runner.invoke(app, ["validate", str(a)])
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "cycle" in lines[0] and "extends" in lines[0]
    assert "Traceback" not in result.output


# ----------------------------------------------------------------- list, schema


def test_list_shows_the_presets(runner: CliRunner) -> None:
    """`dirisk list` names both presets."""
    result = runner.invoke(app, ["list"])
    assert result.exit_code == 0, result.output
    assert "baseline" in result.stdout
    assert "classroom_demo" in result.stdout


def test_schema_prints_valid_json_schema(runner: CliRunner) -> None:
    """`dirisk schema` prints JSON with the scenario's top-level properties (and extends)."""
    result = runner.invoke(app, ["schema"])
    assert result.exit_code == 0, result.output
    schema = json.loads(result.stdout)
    assert "properties" in schema
    assert {"steps", "jurisdictions", "timeline", "extends"} <= set(schema["properties"])


# ----------------------------------------------------------------- the installed script


def test_installed_console_script_reports_bad_input_in_one_line(tmp_path: Path) -> None:
    """The real `dirisk` script (sim.cli:main) exits 2 on a bad file with one stderr line
    and no traceback, even in a narrow terminal."""
    script = Path(sys.executable).parent / "dirisk"
    if not script.is_file():
        pytest.skip(f"no installed dirisk console script at {script}")
    path, field = make_bad(tmp_path, "typo_nested")
    env = {**os.environ, "COLUMNS": "40"}
    proc = subprocess.run(
        [str(script), "validate", str(path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert path.name in lines[0] and field in lines[0]
    assert "Traceback" not in proc.stderr + proc.stdout


# ----------------------------------------------------------------- run: one run per folder


def run_args(out: Path, *extra: str) -> list[str]:
    return ["run", "classroom_demo", "--steps", "2", "--quiet", "--out", str(out), *extra]


def test_run_twice_into_one_folder_exits_2_with_one_line_and_keeps_the_first_run(
    runner: CliRunner, tmp_path: Path
) -> None:
    """A second `dirisk run --out DIR` into a run folder exits 2 with one stderr line naming
    the folder and --force, and leaves the first run as it was."""
    out = tmp_path / "run"
    assert runner.invoke(app, run_args(out)).exit_code == 0
    first = (out / "run.json").read_bytes()
    result = runner.invoke(app, run_args(out, "--format", "csv"))
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert str(out) in lines[0] and "--force" in lines[0]
    assert "Traceback" not in result.output
    assert (out / "run.json").read_bytes() == first
    assert not any(out.glob("*.csv"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_run_refuses_a_taken_folder_before_simulating(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The refusal comes before the simulation, not after minutes of it."""
    import sim.cli.scenarios as scenarios

    out = tmp_path / "run"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")

    def no_simulation(*args, **kwargs):
        raise AssertionError("the scenario was simulated")

    monkeypatch.setattr(scenarios, "run_scenario", no_simulation)
    result = runner.invoke(app, run_args(out))
    assert result.exit_code == 2, result.output
    assert len(result.stderr.splitlines()) == 1


def test_run_with_force_replaces_the_previous_run_whole(runner: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert runner.invoke(app, run_args(out, "--format", "csv")).exit_code == 0
    result = runner.invoke(app, run_args(out, "--force"))
    assert result.exit_code == 0, result.output
    meta = json.loads((out / "run.json").read_text())
    assert meta["format"] == "parquet"
    assert not any(out.glob("*.csv"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_run_never_writes_into_a_folder_of_other_files_even_with_force(
    runner: CliRunner, tmp_path: Path
) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    for extra in ((), ("--force",)):
        result = runner.invoke(app, run_args(out, *extra))
        assert result.exit_code == 2, result.output
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and str(out) in lines[0], result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]


def test_rerun_without_out_keeps_the_first_run_and_takes_the_next_free_folder(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """runs/<scenario>_seed<seed>/ is never overwritten without --force: a rerun goes to
    runs/<scenario>_seed<seed>-2/ and says so; --force replaces the default folder."""
    monkeypatch.chdir(tmp_path)
    args = ["run", "classroom_demo", "--steps", "2", "--seed", "3"]
    assert runner.invoke(app, [*args, "--quiet"]).exit_code == 0
    first = (tmp_path / "runs" / "classroom_demo_seed3" / "run.json").read_bytes()
    again = runner.invoke(app, args)
    assert again.exit_code == 0, again.output
    assert "runs/classroom_demo_seed3-2/" in again.stdout
    assert (tmp_path / "runs" / "classroom_demo_seed3" / "run.json").read_bytes() == first
    assert runner.invoke(app, [*args, "--quiet", "--force"]).exit_code == 0
    other = ["run", "classroom_demo", "--steps", "2", "--seed", "4", "--quiet"]
    assert runner.invoke(app, other).exit_code == 0
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == [
        "classroom_demo_seed3",
        "classroom_demo_seed3-2",
        "classroom_demo_seed4",
    ]


def test_run_json_records_the_command_line_and_provenance(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "run"
    argv = ["dirisk", *run_args(out)]
    monkeypatch.setattr(sys, "argv", argv)
    result = runner.invoke(app, argv[1:])
    assert result.exit_code == 0, result.output
    recorded = json.loads((out / "run.json").read_text())["versions"]
    assert recorded["command"] == argv
    assert {"dirisk_build", "git_commit", "git_dirty", "pyarrow", "cpu_count"} <= set(recorded)


def test_run_json_tables_match_what_describe_says(runner: CliRunner, tmp_path: Path) -> None:
    """run.json's tables lists `<name>.<format>` files, as `dirisk describe run.json` says."""
    out = tmp_path / "run"
    assert runner.invoke(app, run_args(out, "--format", "csv")).exit_code == 0
    tables = json.loads((out / "run.json").read_text())["tables"]
    assert tables and all(name.endswith(".csv") and (out / name).is_file() for name in tables)
    described = runner.invoke(app, ["describe", "run.json"])
    assert described.exit_code == 0
    assert "<name>.<format>" in described.stdout
