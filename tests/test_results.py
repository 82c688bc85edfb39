"""Results: tidy tables, metadata, and files that are complete or absent, never half."""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import stat
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pandas as pd
import pytest

import sim
from sim.common.files import atomic_write
from sim.output.dictionary import MANIFEST_JSON, RUN_JSON
from sim.results.runner import (
    build_info,
    build_version,
    dependencies,
    git_revision,
    versions,
)
from sim.results.tables import TABLES, DirectoryNotEmpty, Results


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


# ----------------------------------------------------------------- a run folder is all-or-nothing


def hidden_siblings(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith("."))


@pytest.mark.parametrize("error", [OSError("disk full"), KeyboardInterrupt()])
def test_save_interrupted_while_writing_a_table_leaves_no_folder_and_no_hidden_temporary(
    results, tmp_path, monkeypatch, error
):
    import sim.results.tables as module

    real = module.write_table
    written = []

    def failing(frame, path, fmt):
        if path.name.startswith("flows"):
            raise error
        real(frame, path, fmt)
        written.append(path.name)

    monkeypatch.setattr(module, "write_table", failing)
    target = tmp_path / "run"
    with pytest.raises(type(error)):
        results.save(target)
    assert written, "tables before flows were written (into the hidden folder)"
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []
    monkeypatch.setattr(module, "write_table", real)
    assert results.save(target) == target
    assert hidden_siblings(tmp_path) == []
    assert len(Results.load(target).metrics) == len(results.metrics)


def dead_pid() -> int:
    """The process id of a process that has exited."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_next_save_deletes_hidden_folders_of_killed_saves_of_the_same_target_only(
    results, tmp_path
):
    dead = dead_pid()
    stale = [tmp_path / f".run.{dead}-0123abcd.saving", tmp_path / f".run.{dead}-4567cdef.replaced"]
    live = tmp_path / f".run.{os.getpid()}-89abcdef.saving"  # a save still running
    other = tmp_path / f".other.{dead}-0123abcd.saving"  # another target's
    for folder in (*stale, live, other):
        folder.mkdir()
        (folder / "metrics.parquet").write_bytes(b"PAR1 half a table")
    results.save(tmp_path / "run")
    assert hidden_siblings(tmp_path) == sorted([live.name, other.name])
    assert (tmp_path / "run" / "run.json").is_file()


def test_saved_folder_gets_ordinary_permissions(results, tmp_path):
    umask = os.umask(0)
    os.umask(umask)
    out = results.save(tmp_path / "run")
    assert stat.S_IMODE(out.stat().st_mode) == 0o777 & ~umask
    assert stat.S_IMODE((out / "run.json").stat().st_mode) == 0o644


# ----------------------------------------------------------------- never two runs in one folder


def test_save_refuses_a_folder_holding_a_run_and_names_it(results, tmp_path):
    target = results.save(tmp_path / "run")
    before = (target / "run.json").read_bytes()
    with pytest.raises(FileExistsError) as caught:
        results.save(target, format="csv")
    assert isinstance(caught.value, DirectoryNotEmpty)
    assert str(target) in str(caught.value) and "overwrite=True" in str(caught.value)
    assert "--force" in str(caught.value)
    assert (target / "run.json").read_bytes() == before
    assert not any(target.glob("*.csv"))
    assert hidden_siblings(tmp_path) == []


def test_save_refuses_a_folder_holding_other_files(results, tmp_path):
    target = tmp_path / "mine"
    target.mkdir()
    (target / "notes.txt").write_text("keep me")
    with pytest.raises(DirectoryNotEmpty, match="mine"):
        results.save(target)
    assert sorted(p.name for p in target.iterdir()) == ["notes.txt"]


def test_save_into_an_empty_existing_folder_writes_the_run(results, tmp_path):
    target = tmp_path / "empty"
    target.mkdir()
    results.save(target)
    assert (target / "run.json").is_file()
    assert hidden_siblings(tmp_path) == []


def test_overwrite_replaces_the_previous_run_whole(results, tmp_path):
    target = results.save(tmp_path / "run", format="csv")
    (target / "report").mkdir()  # e.g. dirisk report's default folder, made from the old run
    (target / "report" / "report.html").write_text("old")
    results.save(target, format="parquet", overwrite=True)
    names = sorted(p.name for p in target.iterdir())
    assert names == sorted(["run.json", "scenario.yaml", *(f"{t}.parquet" for t in TABLES)])
    assert json.loads((target / "run.json").read_text())["format"] == "parquet"
    assert hidden_siblings(tmp_path) == []


def test_overwrite_replaces_an_interrupted_save_of_an_older_version(results, tmp_path):
    target = tmp_path / "run"
    target.mkdir()
    (target / "metrics.parquet").write_bytes(b"PAR1 half")
    (target / ".flows.parquet.abc123.tmp").write_bytes(b"PAR1")
    results.save(target, overwrite=True)
    assert (target / "run.json").is_file()
    assert not (target / ".flows.parquet.abc123.tmp").exists()


@pytest.mark.parametrize("kind", ["folder", "file"])
def test_overwrite_never_replaces_what_is_not_a_run(results, tmp_path, kind):
    target = tmp_path / "precious"
    if kind == "folder":
        target.mkdir()
        (target / "thesis.tex").write_text("keep me")
    else:
        target.write_text("keep me")
    with pytest.raises(DirectoryNotEmpty, match="precious"):
        results.save(target, overwrite=True)
    kept = target / "thesis.tex" if kind == "folder" else target
    assert kept.read_text() == "keep me"
    assert hidden_siblings(tmp_path) == []


def test_overwrite_puts_the_previous_run_back_when_the_new_one_cannot_be_renamed_in(
    results, tmp_path, monkeypatch
):
    import sim.common.files as files

    target = results.save(tmp_path / "run", format="csv")
    real = os.rename
    attempts = []

    def rename(src, dst):
        if str(src).endswith(".saving"):
            attempts.append(src)
            if len(attempts) == 2:  # the first fails on the non-empty target by itself
                raise OSError("cross-device link")
        real(src, dst)

    monkeypatch.setattr(files.os, "rename", rename)
    with pytest.raises(OSError, match="cross-device"):
        results.save(target, overwrite=True)
    monkeypatch.undo()
    assert json.loads((target / "run.json").read_text())["format"] == "csv"
    assert len(Results.load(target).metrics) == len(results.metrics)
    assert hidden_siblings(tmp_path) == []


# ----------------------------------------------------------------- run.json lists table files


def test_run_json_tables_are_the_file_names_in_the_folder(results, tmp_path):
    for fmt in ("parquet", "csv"):
        out = results.save(tmp_path / fmt, format=fmt)
        listed = json.loads((out / "run.json").read_text())["tables"]
        assert listed == [f"{name}.{fmt}" for name in TABLES]
        assert all((out / name).is_file() for name in listed)


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_load_reads_run_json_of_earlier_versions_with_bare_table_names(results, tmp_path, fmt):
    out = results.save(tmp_path / "run", format=fmt)
    meta = json.loads((out / "run.json").read_text())
    meta["tables"] = list(TABLES)
    (out / "run.json").write_text(json.dumps(meta))
    back = Results.load(out)
    for name in TABLES:
        assert len(back.tables()[name]) == len(results.tables()[name]), name


def test_dictionary_says_run_json_tables_are_file_names():
    (entry,) = [k for k in RUN_JSON if k.name == "tables"]
    assert "`<name>.<format>`" in entry.meaning and "metrics.parquet" in entry.meaning
    assert "bare names" in entry.meaning


# ----------------------------------------------------------------- provenance

FIXED_PROVENANCE = (
    "python",
    "dirisk",
    "dirisk_build",
    "git_commit",
    "git_dirty",
    "platform",
    "machine",
    "cpu",
    "cpu_count",
    "command",
)


@pytest.fixture
def fresh_build_info():
    """Forget the cached build record before and after the test."""
    build_info.cache_clear()
    yield
    build_info.cache_clear()


def test_run_json_records_provenance_of_every_kind(results, tmp_path):
    out = results.save(tmp_path / "run")
    recorded = json.loads((out / "run.json").read_text())["versions"]
    assert set(FIXED_PROVENANCE) <= set(recorded)
    assert recorded["python"] == platform.python_version()
    assert recorded["dirisk"] == metadata.version("dirisk") == sim.__version__
    assert recorded["machine"] == (platform.machine() or None)
    assert recorded["cpu_count"] == os.cpu_count()
    assert recorded["command"] == sys.argv  # a library call records the process's argv
    assert recorded["dirisk_build"].startswith(recorded["dirisk"])


def test_versions_record_every_direct_dependency_of_the_installed_distribution():
    wanted = {
        re.match(r"[A-Za-z0-9._-]+", req).group().lower()
        for req in metadata.requires("dirisk")
        if "extra" not in req.partition(";")[2]
    }
    assert {"pyarrow", "mesa", "numpy", "pandas", "pyyaml", "dask"} <= wanted
    assert set(dependencies()) == wanted
    recorded = versions()
    for name in wanted:
        assert recorded[name] == metadata.version(name), name


def test_versions_ask_git_and_package_metadata_once_per_process(monkeypatch, fresh_build_info):
    import sim.results.runner as runner

    git_calls, metadata_calls = [], []
    real_run, real_version = runner.subprocess.run, runner.metadata.version

    def counting_run(*args, **kwargs):
        git_calls.append(args)
        return real_run(*args, **kwargs)

    def counting_version(name):
        metadata_calls.append(name)
        return real_version(name)

    monkeypatch.setattr(runner.subprocess, "run", counting_run)
    monkeypatch.setattr(runner.metadata, "version", counting_version)
    first = versions()
    after_first = (len(git_calls), len(metadata_calls))
    assert after_first[1] > 0
    for _ in range(5):
        assert versions() == first
    assert (len(git_calls), len(metadata_calls)) == after_first


@pytest.mark.parametrize(
    "failure",
    [
        FileNotFoundError("git"),
        subprocess.TimeoutExpired("git", 2.0),
        PermissionError("git"),
    ],
    ids=["missing", "timeout", "not-executable"],
)
def test_missing_or_failing_git_gives_null_commit_never_an_error(
    monkeypatch, fresh_build_info, failure
):
    import sim.results.runner as runner

    def broken(*args, **kwargs):
        raise failure

    monkeypatch.setattr(runner.subprocess, "run", broken)
    assert git_revision() == (None, None)
    recorded = versions()
    assert recorded["git_commit"] is None and recorded["git_dirty"] is None
    assert recorded["dirisk_build"] == recorded["dirisk"]


def test_git_that_exits_with_an_error_gives_null_commit(monkeypatch, fresh_build_info):
    import sim.results.runner as runner

    def failing(args, **kwargs):
        return subprocess.CompletedProcess(args, 128, "", "fatal: not a git repository")

    monkeypatch.setattr(runner.subprocess, "run", failing)
    assert git_revision() == (None, None)
    assert versions()["git_commit"] is None


@pytest.fixture
def checkout(tmp_path) -> Path:
    """A git work tree with one commit of a tracked file."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    root = tmp_path / "checkout"
    root.mkdir()
    git = ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run([*git, "init", "-q"], check=True)
    (root / "tracked.txt").write_text("one\n")
    subprocess.run([*git, "add", "tracked.txt"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "one"], check=True)
    return root


def test_git_revision_reads_the_commit_and_dirty_tracked_files_of_a_checkout(checkout):
    head = subprocess.run(
        ["git", "-C", str(checkout), "rev-parse", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    assert git_revision(checkout) == (head, False)
    (checkout / "untracked.txt").write_text("not part of the build\n")
    assert git_revision(checkout) == (head, False)
    (checkout / "tracked.txt").write_text("two\n")
    assert git_revision(checkout) == (head, True)


def test_git_revision_is_null_below_the_top_of_a_work_tree_or_outside_one(checkout, tmp_path):
    """An installed copy of dirisk inside some other repository records no commit."""
    inside = checkout / "site-packages"
    inside.mkdir()
    assert git_revision(inside) == (None, None)
    outside = tmp_path / "plain"
    outside.mkdir()
    assert git_revision(outside) == (None, None)


def test_build_version_carries_the_commit_as_a_pep440_local_label():
    version = pytest.importorskip("packaging.version")
    commit = "1a2b3c4d5e6f" + "0" * 28
    assert build_version("0.1.0", commit, False) == "0.1.0+g1a2b3c4"
    assert build_version("0.1.0", commit, True) == "0.1.0+g1a2b3c4.dirty"
    assert build_version("0.1.0", commit, None) == "0.1.0+g1a2b3c4"
    assert build_version("0.1.0", None, None) == "0.1.0"
    assert build_version("0.1.0+local", commit, True) == "0.1.0+local.g1a2b3c4.dirty"
    for text in ("0.1.0+g1a2b3c4", "0.1.0+g1a2b3c4.dirty", sim.__version__):
        version.Version(text)  # raises InvalidVersion


def test_package_version_is_the_distribution_version():
    assert sim.__version__ == metadata.version("dirisk")
    text = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text(encoding="utf-8")
    assert f'version = "{sim.__version__}"' in text


def test_manifest_records_the_same_provenance_as_run_json(tmp_path):
    from sim.experiments.design import design_points
    from sim.experiments.experiment import load_experiment
    from sim.experiments.folder import SweepFolder

    root = Path(__file__).resolve().parents[1]
    spec = load_experiment(root / "experiments" / "classroom_grid.yaml")
    design = design_points(spec)
    folder = SweepFolder(tmp_path / "sweep")
    folder.prepare(spec, design, len(design) * spec.replications)
    recorded = folder.manifest()["versions"]
    assert set(FIXED_PROVENANCE) <= set(recorded)
    assert set(dependencies()) <= set(recorded)
    assert recorded == json.loads(json.dumps(versions()))


def test_every_provenance_key_is_documented_for_run_json_and_manifest_json():
    for keys in (RUN_JSON, MANIFEST_JSON):
        (entry,) = [k for k in keys if k.name == "versions"]
        missing = [k for k in FIXED_PROVENANCE if f"`{k}`" not in entry.meaning]
        assert not missing, f"versions keys not documented: {missing}"
        assert "direct dependency" in entry.meaning
