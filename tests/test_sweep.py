"""Sweeps: experiment files, designs, seeds, Dask execution, crash safety and summaries.

Properties checked: a run's seed depends only on (experiment seed, point, replication),
so 1 worker, 2 workers and a separate Dask cluster give identical results; a SIGKILLed
sweep resumes without losing or redoing finished runs; a failing run is recorded and does
not stop the others; bad experiment files name the file, field path and expectation.
"""

from __future__ import annotations

import copy
import gc
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pytest
import yaml
from typer.testing import CliRunner

from sim.analysis.query import query, summarize
from sim.cli import app
from sim.experiments import sweep as sweep_module
from sim.experiments.design import design_points
from sim.experiments.experiment import (
    ExperimentOutcome,
    load_experiment,
    run_seed,
    summarise_metrics,
)
from sim.experiments.folder import PART_KINDS, SweepError, SweepFolder, read_parts
from sim.experiments.sweep import (
    DASK_LOG_LENGTH,
    batch_size,
    dask_client,
    local_cluster,
    plan,
    sweep,
)
from sim.results.runner import build_model, run
from sim.scenario import ScenarioError

#: A world small enough for runs of a few tens of milliseconds.
TINY = {"requesters": {"count": 500}, "nodes": {"count": 60}}


def experiment(**changes: Any) -> dict[str, Any]:
    """A small grid experiment on the classroom world: 3 x 2 points, 2 replications."""
    base = {
        "name": "tiny_grid",
        "scenario": "classroom_demo",
        "steps": 8,
        "overrides": TINY,
        "factors": [
            {"name": "audit_rate", "path": "jurisdictions.*.enforcement.audit_rate",
             "range": [0.0, 0.2]},
            {"name": "filter_recall", "path": "nodes.filter_recall", "values": [0.5, 0.9]},
        ],
        "design": {"kind": "grid", "levels": 3},
        "replications": 2,
        "seed": 11,
    }  # fmt: skip
    return {**base, **changes}


def outcome_table(root: Path) -> pd.DataFrame:
    """Every run's outcomes without the timing column, in plan order."""
    return read_parts(root).drop(columns=["seconds"]).reset_index(drop=True)


@pytest.fixture(scope="module")
def local_two(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny experiment swept on a local cluster of two workers."""
    root = tmp_path_factory.mktemp("two") / "sweep"
    sweep(load_experiment(experiment()), root, workers=2)
    return root


# ------------------------------------------------------------------ experiment files

BAD_EXPERIMENTS: dict[str, tuple[dict[str, Any], str, str]] = {
    "unknown field": (experiment(replicatons=3), "replicatons", "unknown field"),
    "design kind": (experiment(design={"kind": "sobol"}), "design.kind", "grid"),
    "empty range": (
        experiment(factors=[{"name": "a", "path": "nodes.filter_recall", "range": [1, 0]}]),
        "factors.0",
        "low < high",
    ),
    "range and values": (
        experiment(
            factors=[{"name": "a", "path": "nodes.filter_recall", "range": [0, 1], "values": [1]}]
        ),
        "factors.0",
        "exactly one of",
    ),
    "missing path": (
        experiment(factors=[{"name": "a", "path": "nodes.filter_recal", "range": [0, 1]}]),
        "factors.0.path",
        "no field 'filter_recal'",
    ),
    "bad wildcard leaf": (
        experiment(
            factors=[{"name": "a", "path": "jurisdictions.*.enforcement.audit", "range": [0, 1]}]
        ),
        "factors.0.path",
        "no field 'audit'",
    ),
    "saltelli not power of 2": (
        experiment(
            factors=[{"name": "a", "path": "nodes.filter_recall", "range": [0, 1]}],
            design={"kind": "saltelli", "samples": 10},
        ),
        "design.samples",
        "power of 2",
    ),
    "values with lhs": (experiment(design={"kind": "lhs"}), "design.kind", "need a 'range'"),
    "unknown metric": (
        experiment(outcomes=[{"metric": "harm", "stat": "mean"}]),
        "outcomes.0.metric",
        "metrics table",
    ),
    "bad stat": (
        experiment(outcomes=[{"metric": "takedowns", "stat": "median"}]),
        "outcomes.0.stat",
        "final",
    ),
    "duplicate factors": (
        experiment(
            factors=[
                {"name": "a", "path": "nodes.filter_recall", "values": [0.5]},
                {"name": "a", "path": "nodes.filter_false_positive", "values": [0.1]},
            ]
        ),
        "",
        "unique",
    ),
    "reserved factor name": (
        experiment(factors=[{"name": "seed", "path": "nodes.filter_recall", "values": [0.5]}]),
        "",
        "every run has",
    ),
    "bad scenario": (experiment(scenario="no_such_preset"), "scenario", "no such file"),
    "bad override": (
        experiment(overrides={"nodes": {"filter_recall": 2.0}}),
        "overrides.nodes.filter_recall",
        "[0, 1]",
    ),
}


@pytest.mark.parametrize("case", list(BAD_EXPERIMENTS))
def test_bad_experiment_names_file_field_and_expectation(case: str, tmp_path: Path) -> None:
    data, field, expected = BAD_EXPERIMENTS[case]
    path = tmp_path / "exp.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_experiment(path)
    assert info.value.source == str(path)
    assert info.value.path.startswith(field)
    assert expected in info.value.expected
    result = CliRunner().invoke(app, ["sweep", str(path), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and str(path) in result.stderr
    assert "Traceback" not in result.output
    assert not (tmp_path / "o").exists()


def test_example_experiments_validate() -> None:
    """Every experiment shipped in experiments/ is valid and plans at least one run (the
    levers files there are dirisk optimize's, checked in tests/test_optimize.py)."""
    for path in sorted(Path("experiments").glob("*.yaml")):
        if path.name.startswith("levers_"):
            continue
        exp = load_experiment(path)
        assert len(plan(exp, design_points(exp))) >= 1, path


def test_experiment_is_self_contained_after_loading(tmp_path: Path) -> None:
    """The loaded experiment carries the merged base scenario, so experiment.yaml alone
    reproduces the sweep (no reference to the preset or overrides is left)."""
    exp = load_experiment(experiment())
    assert exp.overrides == {}
    assert exp.scenario["requesters"]["count"] == 500
    assert exp.scenario["steps"] == 8
    assert all(e["step"] < 8 for e in exp.scenario["timeline"])
    again = load_experiment(yaml.safe_load(yaml.safe_dump(exp.to_dict())))
    assert again.content_hash() == exp.content_hash()


def test_a_scenario_file_given_as_an_experiment_is_named_a_scenario(
    tmp_path: Path, tiny: dict[str, Any]
) -> None:
    """`dirisk sweep scenario.yaml` says the file is a scenario, not an experiment, and
    shows the smallest experiment that sweeps it, which loads as it is shown."""
    path = tmp_path / "x.yaml"
    path.write_text(yaml.safe_dump(tiny), encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_experiment(path)
    assert info.value.source == str(path) and info.value.path == ""
    message = info.value.expected
    assert "is a scenario" in message and "not an experiment" in message
    assert "required field" not in message
    shown = message.split("at least: ", 1)[1].rsplit(" (docs/SWEEPS.md)", 1)[0]
    form = yaml.safe_load(shown)
    assert list(form) == ["name", "scenario", "factors"] and form["scenario"] == str(path)
    (tmp_path / "x_sweep.yaml").write_text(shown, encoding="utf-8")
    assert len(load_experiment(tmp_path / "x_sweep.yaml").factors) == 1
    result = CliRunner().invoke(app, ["sweep", str(path), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert "not an experiment" in result.stderr and "Traceback" not in result.output
    assert not (tmp_path / "o").exists()
    child = tmp_path / "child.yaml"  # a scenario that only extends another
    child.write_text("extends: classroom_demo\nsteps: 5\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match="is a scenario"):
        load_experiment(child)


# ------------------------------------------------------------------ designs and seeds


def test_design_sizes_and_bounds() -> None:
    """Grid: the product of settings; LHS: N points in range; Saltelli: N(D+2);
    Morris: r(D+1); integer factors are whole numbers; the same experiment gives the
    same points."""
    grid = design_points(load_experiment(experiment()))
    assert len(grid) == 6 and sorted(grid["audit_rate"].unique()) == [0.0, 0.1, 0.2]
    factors = [
        {"name": "recall", "path": "nodes.filter_recall", "range": [0.2, 0.9]},
        {"name": "persistence", "path": "requesters.kinds.malicious.persistence",
         "range": [0, 6], "integer": True},
    ]  # fmt: skip
    for kind, samples, size in (("lhs", 20, 20), ("saltelli", 8, 8 * 4), ("morris", 5, 5 * 3)):
        design = {"kind": kind, "samples": samples}
        exp = load_experiment(experiment(factors=factors, design=design))
        points = design_points(exp)
        assert len(points) == size, kind
        assert points["recall"].between(0.2, 0.9).all()
        assert (points["persistence"] == points["persistence"].round()).all()
        assert points["persistence"].between(0, 6).all()
        assert points.equals(design_points(exp))
    assert list(grid["point"]) == list(range(len(grid)))


def test_run_seeds_are_spawn_keys_of_point_and_replication() -> None:
    """A run's seed is the SeedSequence child (point, replication) of the experiment
    seed; with common random numbers it is the child (replication,) at every point."""
    exp = load_experiment(experiment())
    seeds = [(r.point, r.replication, r.seed) for r in plan(exp, design_points(exp))]
    assert len({s for *_, s in seeds}) == len(seeds)
    for point, rep, seed in seeds:
        expected = np.random.SeedSequence(11, spawn_key=(point, rep)).generate_state(1)[0]
        assert seed == int(expected) == run_seed(exp, point, rep)
    crn = load_experiment(experiment(common_random_numbers=True))
    crn_seeds = {(r.replication, r.seed) for r in plan(crn, design_points(crn))}
    assert len(crn_seeds) == crn.replications


def test_batches_aim_at_half_a_second_and_share_work() -> None:
    """Fast runs are batched up to ~0.5 s per task, but every worker gets several
    tasks; slow runs go one per task."""
    assert batch_size(0.01, pending=10_000, workers=2) == 50
    assert batch_size(0.01, pending=40, workers=2) == 5
    assert batch_size(3.0, pending=1000, workers=2) == 1


# ------------------------------------------------------------------ outcomes


def test_outcome_statistics() -> None:
    """final, mean, peak and total over every step or the last N steps."""
    metrics = pd.DataFrame({"takedowns": [1.0, 5.0, 2.0, 4.0]})

    def value(stat: str, last: int | None = None) -> float:
        outcome = ExperimentOutcome(metric="takedowns", stat=stat, last=last)
        return summarise_metrics(metrics, [outcome])[outcome.column]

    assert value("final") == 4 and value("mean") == 3 and value("peak") == 5
    assert value("total") == 12 and value("mean", last=2) == 3 and value("peak", last=2) == 4
    assert (
        ExperimentOutcome(metric="takedowns", stat="mean", last=2).column == "takedowns_mean_last2"
    )


def test_sweep_runs_equal_single_runs(local_two: Path) -> None:
    """Each part's outcomes are those of `sim.run` on the point's scenario and seed."""
    exp = SweepFolder(local_two).experiment()
    runs = outcome_table(local_two)
    row = runs.iloc[3]
    scenario = copy.deepcopy(exp.scenario)
    scenario["nodes"] = {**scenario["nodes"], "filter_recall": row["filter_recall"]}
    for j in scenario["jurisdictions"].values():
        j["enforcement"]["audit_rate"] = row["audit_rate"]
    metrics = run(scenario, seed=int(row["seed"])).metrics
    expected = summarise_metrics(metrics, exp.outcomes)
    for name, value in expected.items():
        assert row[name] == pytest.approx(value, nan_ok=True), name


# ------------------------------------------------------------------ execution


def test_one_and_two_workers_give_identical_results(local_two: Path, tmp_path: Path) -> None:
    sweep(load_experiment(experiment()), tmp_path / "one", workers=1)
    one, two = outcome_table(tmp_path / "one"), outcome_table(local_two)
    assert len(one) == 12 and (one["status"] == "ok").all()
    pd.testing.assert_frame_equal(one, two)


def test_dask_keeps_few_messages_while_dirisk_sweeps(tmp_path: Path) -> None:
    """Dask's comms keep their last messages for its developers, and a message that
    starts a task holds the task's experiment: on dirisk's client and local cluster each
    such log keeps at most DASK_LOG_LENGTH of them, and Dask's setting is restored
    afterwards."""
    import dask
    import distributed  # noqa: F401  (its settings join Dask's as it is imported)

    key = "distributed.admin.low-level-log-length"
    default = dask.config.get(key)
    with dask_client(1, None) as client:
        sweep(load_experiment(experiment()), tmp_path / "sweep", client=client)
        comms = [client.scheduler_comm, *client.cluster.scheduler.stream_comms.values()]
        logs = [comm.recent_message_log for comm in comms]
        assert len(logs) == 2 and all(log.maxlen == DASK_LOG_LENGTH for log in logs)
    assert dask.config.get(key) == default


def test_a_local_cluster_leaves_the_environment_as_it_found_it(monkeypatch) -> None:
    """Dask's nannies write their workers' settings (MALLOC_TRIM_THRESHOLD_, ...) into
    the environment of the process that starts them: once dirisk's local cluster closes,
    every variable has its value from before, and none was added."""
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    before = dict(os.environ)
    with local_cluster(1):
        assert os.environ.get("MALLOC_TRIM_THRESHOLD_") is not None  # Dask's, while it runs
    assert dict(os.environ) == before


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_port(port: int, deadline: float) -> None:
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


@contextmanager
def dask_cluster(folder: Path, workers: int) -> Iterator[tuple[str, list[subprocess.Popen]]]:
    """`dask scheduler` and ``workers`` `dask worker` processes (each in its own session,
    so a test can kill one with its worker process) on 127.0.0.1; stopped afterwards."""
    dask = str(Path(sys.executable).parent / "dask")
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    log = open(folder / "cluster.log", "w")  # noqa: SIM115 - closed in finally
    procs = [
        subprocess.Popen(
            [dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    ]
    try:
        _wait_for_port(port, time.monotonic() + 60)
        for _ in range(workers):
            procs.append(
                subprocess.Popen(
                    [dask, "worker", address, "--nthreads", "1", "--no-dashboard",
                     "--host", "127.0.0.1"],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=folder,
                    start_new_session=True,
                )
            )  # fmt: skip
        yield address, procs[1:]
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
        log.close()


def test_sweep_on_a_separate_dask_cluster(local_two: Path, tmp_path: Path) -> None:
    """`dask scheduler` and a `dask worker` as processes on 127.0.0.1; the sweep through
    --scheduler gives the same results as the local cluster."""
    with dask_cluster(tmp_path, workers=1) as (address, _):
        exp = tmp_path / "exp.yaml"
        exp.write_text(yaml.safe_dump(experiment()), encoding="utf-8")
        result = CliRunner().invoke(
            app, ["sweep", str(exp), "--out", str(tmp_path / "remote"), "--scheduler", address]
        )
    assert result.exit_code == 0, result.output
    assert "12 runs ok" in result.stdout
    pd.testing.assert_frame_equal(outcome_table(tmp_path / "remote"), outcome_table(local_two))


def test_a_lost_worker_costs_no_run(tmp_path: Path) -> None:
    """Killing one of two workers (and its nanny) mid-sweep: its tasks are run again on
    the other worker, and every run finishes exactly once."""
    exp = load_experiment(
        experiment(steps=25, replications=5, design={"kind": "grid", "levels": 4})
    )
    out = tmp_path / "sweep"
    with dask_cluster(tmp_path, workers=2) as (address, workers):
        counts: dict[str, int] = {}
        thread = threading.Thread(
            target=lambda: counts.update(sweep(exp, out, scheduler=address)), daemon=True
        )
        thread.start()
        deadline = time.monotonic() + 120
        while len(list(out.glob("outcomes/*/*.parquet"))) < 4:
            assert thread.is_alive() and time.monotonic() < deadline, "no parts appeared"
            time.sleep(0.05)
        os.killpg(workers[0].pid, signal.SIGKILL)
        thread.join(timeout=300)
    assert not thread.is_alive()
    assert counts["missing"] == 0 and counts["ok"] == counts["total"] == 40
    runs = read_parts(out)
    assert len(runs) == 40 and not runs.duplicated(["point", "replication"]).any()


def test_sigkill_then_resume_loses_and_redoes_nothing(tmp_path: Path) -> None:
    """Kill the sweep process with SIGKILL part-way; every part left is complete; the
    resumed sweep runs only the missing runs (finished parts are not rewritten), and in
    the end every run is present exactly once."""
    exp_path = tmp_path / "exp.yaml"
    exp_path.write_text(
        yaml.safe_dump(experiment(steps=25, replications=6, design={"kind": "grid", "levels": 4})),
        encoding="utf-8",
    )
    out = tmp_path / "sweep"
    cmd = [sys.executable, "-m", "sim.cli", "sweep", str(exp_path), "--out", str(out)]
    proc = subprocess.Popen(
        cmd + ["--workers", "2"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while len(list(out.glob("outcomes/*/*.parquet"))) < 6:
            assert proc.poll() is None, "the sweep finished before it could be killed"
            assert time.monotonic() < deadline, "no parts appeared"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # the orphaned local cluster
        except ProcessLookupError:
            pass
    folder = SweepFolder(out)
    parts = [p for p in out.glob("outcomes/*/*") if not p.name.endswith(".tmp")]
    before = {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in parts}
    total = 4 * 2 * 6
    assert 6 <= len(before) < total
    for path in before:  # a half-written part is only ever a hidden .tmp file
        assert path.suffix == ".parquet" and len(pd.read_parquet(path)) == 1
    result = subprocess.run(
        [sys.executable, "-m", "sim.cli", "sweep", "--resume", "--out", str(out), "-q"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert f"{total - len(before)} run now, {len(before)} already finished" in result.stdout
    for path, stamp in before.items():
        assert (path.stat().st_ino, path.stat().st_mtime_ns) == stamp, path
    runs = read_parts(out)
    assert len(runs) == total
    assert not runs.duplicated(["point", "replication"]).any()
    assert set(zip(runs["point"], runs["replication"], strict=True)) == folder.finished()
    assert not list(out.glob("**/*.tmp"))
    assert folder.manifest()["state"] == "complete"


def test_failing_runs_are_recorded_and_the_rest_finish(tmp_path: Path) -> None:
    """A design point outside the valid range fails with the scenario's message (and
    writes no metrics part); the other runs finish; --retry-failed reruns only the failed
    ones."""
    factors = [{"name": "vpn", "path": "requesters.kinds.malicious.vpn_use", "values": [0.2, 1.5]}]
    spec = experiment(factors=factors, save_metrics=True)
    counts = sweep(load_experiment(spec), tmp_path / "s", workers=1)
    assert counts == {
        "total": 4, "skipped": 0, "ran": 4, "failed": 2, "ok": 2, "failed_total": 2, "missing": 0
    }  # fmt: skip
    runs = read_parts(tmp_path / "s")
    bad = runs[runs["status"] == "failed"]
    assert list(bad["vpn"]) == [1.5, 1.5]
    assert bad["error"].str.contains("requesters.kinds.malicious.vpn_use").all()
    assert bad["malicious_success_share"].isna().all()
    assert (runs.loc[runs["status"] == "ok", "error"] == "").all()
    # Only the runs that finished have a metrics part.
    ok_point = int(runs.loc[runs["status"] == "ok", "point"].iloc[0])
    metrics = sorted(p.parent.name for p in (tmp_path / "s" / "metrics").glob("*/*.parquet"))
    assert metrics == [f"point={ok_point}"] * 2
    again = sweep(load_experiment(spec), tmp_path / "s", workers=1, retry_failed=True)
    assert again["ran"] == 2 and again["skipped"] == 2
    table = summarize(tmp_path / "s")
    assert list(table["runs_failed"]) == [0, 2] and list(table["runs_ok"]) == [2, 0]


def test_folder_of_another_experiment_is_refused(local_two: Path, tmp_path: Path) -> None:
    with pytest.raises(SweepError, match="different experiment"):
        sweep(load_experiment(experiment(seed=12)), local_two, workers=1)
    (tmp_path / "stuff.txt").write_text("x")
    with pytest.raises(SweepError, match="not empty"):
        sweep(load_experiment(experiment()), tmp_path, workers=1)


def test_stale_temporary_files_are_removed_on_resume(local_two: Path) -> None:
    """A temporary file left by an interrupted write is deleted, never read as a run."""
    stale = local_two / "outcomes" / "point=0" / ".rep-00009.parquet.abc.tmp"
    stale.write_bytes(b"half a file")
    counts = sweep(SweepFolder(local_two).experiment(), local_two, workers=1)
    assert counts["ran"] == 0 and counts["skipped"] == 12
    assert not stale.exists()


def test_an_unreachable_scheduler_stops_the_sweep_at_once_and_leaves_it_resumable(
    tmp_path: Path,
) -> None:
    """Nothing listens at the --scheduler address (a free port on 127.0.0.1): the sweep
    stops before any run with a SweepError that names the address (one line on stderr,
    exit code 2, not "cannot write the sweep"), and the manifest says interrupted and
    why, not running."""
    address = f"tcp://127.0.0.1:{_free_port()}"
    out = tmp_path / "sweep"
    exp = tmp_path / "exp.yaml"
    exp.write_text(yaml.safe_dump(experiment()), encoding="utf-8")
    args = ["sweep", str(exp), "--out", str(out), "--scheduler", address]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2 and result.stderr.count("\n") == 1, result.output
    assert f"no Dask scheduler answers at {address}" in result.stderr
    assert "cannot write" not in result.stderr and "Traceback" not in result.output
    with pytest.raises(SweepError, match=re.escape(address)):
        sweep(load_experiment(exp), out, scheduler=address)
    manifest = SweepFolder(out).manifest()
    assert manifest["state"] == "interrupted" and address in manifest["reason"]
    assert manifest["ok"] == 0 and not list(out.glob("outcomes/*/*.parquet"))


@pytest.fixture
def quick_grace(monkeypatch: pytest.MonkeyPatch) -> None:
    """A cluster without workers is given up after a fraction of a second."""
    monkeypatch.setattr(sweep_module, "WORKER_GRACE_SECONDS", 0.3)
    monkeypatch.setattr(sweep_module, "POLL_SECONDS", 0.05)


@contextmanager
def inprocess_cluster(workers: int) -> Iterator[Any]:
    """A Dask cluster in this process (scheduler and threaded workers)."""
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=workers,
        processes=False,
        threads_per_worker=1,
        dashboard_address=":0",
        silence_logs=logging.ERROR,
    ) as cluster:
        yield cluster


def test_a_scheduler_without_workers_stops_the_sweep_which_then_resumes(
    tmp_path: Path, quick_grace: None
) -> None:
    """A scheduler with no worker for the grace period: SweepError before any run, the
    manifest interrupted; once a worker joins, the same folder resumes to complete."""
    exp = load_experiment(experiment())
    out = tmp_path / "sweep"
    with inprocess_cluster(workers=0) as cluster:
        address = cluster.scheduler_address
        with pytest.raises(SweepError, match="has no workers"):
            sweep(exp, out, scheduler=address)
        manifest = SweepFolder(out).manifest()
        assert manifest["state"] == "interrupted" and "no workers" in manifest["reason"]
        assert not list(out.glob("outcomes/*/*.parquet"))
        cluster.scale(1)
        cluster.wait_for_workers(1)
        counts = sweep(exp, out, scheduler=address)
    assert counts["ok"] == counts["total"] == 12 and counts["skipped"] == 0
    manifest = SweepFolder(out).manifest()
    assert manifest["state"] == "complete" and manifest["reason"] == ""


def test_workers_all_lost_mid_sweep_stop_it_after_the_grace_period(
    tmp_path: Path, quick_grace: None
) -> None:
    """The cluster's only worker leaves once the sweep has started: instead of waiting
    for ever, the sweep stops with a SweepError after the grace period; the runs already
    finished are kept and the manifest says interrupted."""
    out = tmp_path / "sweep"
    with inprocess_cluster(workers=1) as cluster:

        def lose_the_workers(done: int, failed: int, total: int) -> None:
            if done == 1:  # the first run, run before any batch is submitted
                cluster.scale(0)
                deadline = time.monotonic() + 60
                while cluster.scheduler.workers and time.monotonic() < deadline:
                    time.sleep(0.02)

        with pytest.raises(SweepError, match="lost all its workers"):
            sweep(
                load_experiment(experiment()),
                out,
                scheduler=cluster.scheduler_address,
                progress=lose_the_workers,
            )
    manifest = SweepFolder(out).manifest()
    assert manifest["state"] == "interrupted" and "lost all its workers" in manifest["reason"]
    assert manifest["ok"] == len(list(out.glob("outcomes/*/*.parquet"))) == 1


# ------------------------------------------------------------------ summaries and SQL


def test_summary_is_mean_and_95_student_t_ci_over_replications(local_two: Path) -> None:
    table = summarize(local_two)
    runs = read_parts(local_two)
    name = "malicious_success_share"
    t_two = 12.706204736174707  # t(0.975, 1): two replications
    for point, group in runs.groupby("point"):
        row = table.set_index("point").loc[point]
        values = group[name]
        half = t_two * values.std(ddof=1) / np.sqrt(len(values))
        assert row[name] == pytest.approx(values.mean())
        assert row[f"{name}_ci_high"] - row[name] == pytest.approx(half)
        assert row["runs_ok"] == 2
    assert (local_two / "summary.parquet").is_file() and (local_two / "summary.csv").is_file()
    view = query(local_two, "SELECT count(*) AS n FROM summary")
    assert view["n"].item() == 6


def test_query_and_summarize_commands(local_two: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(
        app, ["query", str(local_two), "SELECT point, count(*) AS n FROM runs GROUP BY point"]
    )
    assert result.exit_code == 0 and len(result.stdout.strip().splitlines()) == 7
    out = tmp_path / "q.csv"
    args = ["query", str(local_two), "SELECT * FROM design", "--out", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0 and len(pd.read_csv(out)) == 6
    bad = runner.invoke(app, ["query", str(local_two), "SELECT nope FROM runs"])
    assert bad.exit_code == 2 and bad.stderr.count("\n") == 1 and "nope" in bad.stderr
    missing = runner.invoke(app, ["summarize", str(tmp_path)])
    assert missing.exit_code == 2 and "not a dirisk sweep folder" in missing.stderr
    result = runner.invoke(app, ["summarize", str(local_two)])
    assert result.exit_code == 0 and "6 design points" in result.stdout
    assert "audit_rate" in result.stdout and "±" in result.stdout


#: pandas and pyarrow: the folder name `point=P` read as an int64 partition.
POINT_PARTITIONING = ds.partitioning(pa.schema([("point", pa.int64())]), flavor="hive")


@pytest.fixture(scope="module")
def twelve_points(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A sweep of 12 design points (as text, point 10 sorts before point 2) with one
    replication each and its metrics, on a cluster in this process."""
    root = tmp_path_factory.mktemp("twelve") / "sweep"
    spec = experiment(steps=3, replications=1, design={"kind": "grid", "levels": 6})
    with inprocess_cluster(workers=1) as cluster:
        sweep(
            load_experiment({**spec, "save_metrics": True}),
            root,
            scheduler=cluster.scheduler_address,
        )
    return root


def documented_readers(root: Path, kind: str, *, new: bool) -> dict[str, pd.DataFrame]:
    """Every part of ``kind`` read by each reading method docs/SWEEPS.md and DATA.md
    give; the ones that need ``point`` in the parts only when ``new``."""
    parts = root / kind
    pattern = f"{parts}/*/*.parquet"
    hive = "hive_partitioning = true, hive_types = {'point': BIGINT}, union_by_name = true"
    with duckdb.connect() as con:
        read = {
            "sim.experiments.folder.read_parts": read_parts(root, kind),
            "dirisk query": query(root, f"SELECT * FROM {PART_KINDS[kind]}"),
            "duckdb read_parquet": con.execute(f"SELECT * FROM read_parquet('{pattern}')").df(),
            "duckdb read_parquet, hive settings": con.execute(
                f"SELECT * FROM read_parquet('{pattern}', {hive})"
            ).df(),
            "pandas, int64 partitioning": pd.read_parquet(parts, partitioning=POINT_PARTITIONING),
            "pyarrow.dataset, int64 partitioning": arrow(parts, POINT_PARTITIONING),
        }
    if new:
        read["pandas, partitioning=None"] = pd.read_parquet(parts, partitioning=None)
        read["pyarrow.dataset"] = arrow(parts, None)
    return read


def arrow(parts: Path, partitioning: ds.Partitioning | None) -> pd.DataFrame:
    """``pyarrow.dataset.dataset(parts, partitioning=...)`` as a pandas table."""
    return ds.dataset(parts, partitioning=partitioning).to_table().to_pandas()


def assert_points_in_design_order(root: Path, kind: str, frame: pd.DataFrame) -> None:
    """One int64 ``point`` column; sorted by it, the points are in design order."""
    assert list(frame.columns).count("point") == 1 and frame.columns.is_unique
    assert frame["point"].dtype == "int64"
    design = SweepFolder(root).design()
    ordered = frame.sort_values(["point", "replication"], kind="stable", ignore_index=True)
    assert ordered["point"].unique().tolist() == list(range(len(design)))
    step = len(ordered) // len(design)
    factors = ordered["audit_rate"] if kind == "outcomes" else None
    if factors is not None:
        assert factors.tolist() == design["audit_rate"].repeat(step).tolist()


@pytest.mark.parametrize("kind", ["outcomes", "metrics"])
def test_every_documented_reader_gives_int64_points_in_design_order(
    twelve_points: Path, kind: str
) -> None:
    """Each part holds `point` as an int64 column; every documented way of reading the
    parts gives one int64 `point` column, and sorting by it gives design order (0, 1,
    2, ..., 10, 11), not text order. Plain `pd.read_parquet` is refused by pyarrow, as
    the docs say."""
    part = pd.read_parquet(twelve_points / kind / "point=10" / "rep-00000.parquet")
    assert part.columns[:2].tolist() == ["point", "replication"]
    assert part["point"].dtype == "int64" and set(part["point"]) == {10}
    readers = documented_readers(twelve_points, kind, new=True)
    for name, frame in readers.items():
        assert len(frame) == len(readers["dirisk query"]) > 0, name
        assert_points_in_design_order(twelve_points, kind, frame)
    assert readers["sim.experiments.folder.read_parts"].columns[0] == "point"
    with pytest.raises(pa.ArrowTypeError, match="Unable to merge"):
        pd.read_parquet(twelve_points / kind)


def test_folders_written_before_parts_held_point_read_and_resume_alike(
    twelve_points: Path, tmp_path: Path
) -> None:
    """A folder whose parts have `point` only in their folder name (as dirisk wrote them
    before) reads the same through dirisk and the documented readers, and resuming it
    writes its new parts the same way (every part of a folder has the same columns)."""
    root = tmp_path / "old"
    shutil.copytree(twelve_points, root)
    for path in root.glob("*/point=*/*.parquet"):
        pd.read_parquet(path).drop(columns="point").to_parquet(path, index=False)
    for kind in ("outcomes", "metrics"):
        for frame in documented_readers(root, kind, new=False).values():
            assert_points_in_design_order(root, kind, frame)
    assert read_parts(root).columns[0] == "point"
    before = read_parts(root)
    for kind in ("outcomes", "metrics"):
        (root / kind / "point=7" / "rep-00000.parquet").unlink()
    counts = sweep(SweepFolder(root).experiment(), root)  # one run: no cluster
    assert counts["ran"] == 1 and counts["missing"] == 0
    for kind in ("outcomes", "metrics"):
        assert "point" not in pd.read_parquet(root / kind / "point=7" / "rep-00000.parquet")
    pd.testing.assert_frame_equal(
        read_parts(root).drop(columns="seconds"), before.drop(columns="seconds")
    )


def test_resume_needs_a_folder() -> None:
    result = CliRunner().invoke(app, ["sweep", "--resume"])
    assert result.exit_code == 2 and "--resume --out DIR" in result.stderr


# ------------------------------------------------------------------ memory


def test_finished_models_are_garbage_collected() -> None:
    """Mesa 3.3 kept every model alive through Agent._ids (mesa#3179); dirisk's models
    are freed once unreferenced, so long sweeps keep flat memory per worker."""
    model = build_model("classroom_demo", steps=2)
    model.step()
    ref = weakref.ref(model)
    del model
    gc.collect()
    assert ref() is None


def test_sql_reads_only_inside_the_sweep_folder(local_two: Path) -> None:
    """User SQL cannot read or write files outside the sweep, nor lift the restriction;
    a statement without a result table is a clear error."""
    from sim.analysis.query import QueryError

    for sql in (
        "SELECT * FROM read_csv('/etc/passwd')",
        "COPY (SELECT 1) TO '/tmp/dirisk_should_not_exist.csv'",
        "SET enable_external_access = true",
        "",
        "-- only a comment",
    ):
        with pytest.raises(QueryError):
            query(local_two, sql)
    assert not Path("/tmp/dirisk_should_not_exist.csv").exists()
    assert query(local_two, "SELECT count(*) AS n FROM runs")["n"].item() == 12
