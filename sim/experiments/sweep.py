"""Running an experiment's runs on Dask, crash-safe, into a sweep folder
(:mod:`sim.experiments.folder`).

Each part is written atomically by the client as its run's result arrives, so killing
the sweep loses only runs still in flight, and a part that exists is complete.
Rerunning into the same folder (or ``--resume``) runs only the missing parts.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from sim.experiments.design import design_points
from sim.experiments.experiment import (
    Experiment,
    apply_factors,
    load_experiment,
    plain,
    run_seed,
    summarise_metrics,
)
from sim.experiments.folder import SweepFolder, parquet_bytes, utc_now
from sim.results.runner import run_metrics
from sim.scenario import validate

__all__ = [
    "MAX_BATCH",
    "Progress",
    "RunSpec",
    "TARGET_TASK_SECONDS",
    "TASKS_PER_WORKER",
    "TASK_RETRIES",
    "batch_size",
    "batches",
    "dask_client",
    "execute",
    "local_cluster",
    "plan",
    "sweep",
]

#: Seconds of work a task should take (small runs are batched up to this).
TARGET_TASK_SECONDS = 0.5
#: Most runs in one task.
MAX_BATCH = 64
#: Tasks per worker at least (for load balance near the end of a sweep).
TASKS_PER_WORKER = 4
#: Times a task is retried when its worker dies.
TASK_RETRIES = 3

Progress = Callable[[int, int, int], None]


logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunSpec:
    """One run of an experiment: a design point, a replication and its seed."""

    point: int
    replication: int
    seed: int
    values: dict[str, Any]


def plan(experiment: Experiment, design: pd.DataFrame) -> list[RunSpec]:
    """Every run of the experiment, point by point, replication by replication."""
    factors = [f.name for f in experiment.factors]
    runs = []
    for row in design.to_dict("records"):
        values = {name: plain(row[name]) for name in factors}
        for rep in range(experiment.replications):
            point = int(row["point"])
            runs.append(RunSpec(point, rep, run_seed(experiment, point, rep), values))
    return runs


def execute(experiment: Experiment, runs: list[RunSpec]) -> list[dict[str, Any]]:
    """Run a batch (on a worker). A run that raises is returned as failed with its
    message; it never stops the batch.

    Returns:
        Per run: ``spec``, ``row`` (the outcomes part's one row) and ``parts``: the
        run's Parquet files as bytes, ``outcomes`` and (unless not saved or failed)
        ``metrics``. Encoding them here keeps that work off the process that collects the
        results, which shares the machine with the workers.
    """
    results = []
    for spec in runs:
        t0 = time.perf_counter()
        parts: dict[str, bytes] = {}
        try:
            data = apply_factors(experiment.scenario, spec.values, experiment.factors)
            scenario = validate(data, source=f"design point {spec.point}")
            metrics = run_metrics(scenario, seed=spec.seed)
            outcomes = summarise_metrics(metrics, experiment.outcomes)
            if experiment.save_metrics:
                parts["metrics"] = parquet_bytes(metrics.assign(replication=spec.replication))
            status, error = "ok", ""
        except Exception as exc:  # recorded in the part, the sweep goes on
            outcomes = {o.column: math.nan for o in experiment.outcomes}
            status, error = "failed", f"{type(exc).__name__}: {exc}"
            parts.clear()
        row = {
            "replication": spec.replication,
            "seed": spec.seed,
            **spec.values,
            **outcomes,
            "status": status,
            "error": error,
            "seconds": round(time.perf_counter() - t0, 4),
        }
        parts["outcomes"] = parquet_bytes(pd.DataFrame([row]))
        results.append({"spec": spec, "row": row, "parts": parts})
    return results


def batches(runs: list[RunSpec], size: int) -> Iterator[list[RunSpec]]:
    """``runs`` in consecutive groups of ``size``."""
    for start in range(0, len(runs), size):
        yield runs[start : start + size]


def batch_size(seconds_per_run: float, pending: int, workers: int) -> int:
    """Runs per task: enough for about :data:`TARGET_TASK_SECONDS` of work, but at least
    :data:`TASKS_PER_WORKER` tasks per worker while there are runs to share."""
    by_time = max(1, math.ceil(TARGET_TASK_SECONDS / max(seconds_per_run, 1e-6)))
    by_balance = max(1, math.ceil(pending / (TASKS_PER_WORKER * max(workers, 1))))
    return int(min(by_time, by_balance, MAX_BATCH))


def local_cluster(workers: int | None = None) -> Any:
    """A ``distributed.LocalCluster`` of ``workers`` single-threaded worker processes
    (default: one per core) that have imported dirisk, without a dashboard; use it as a
    context manager."""
    from distributed import LocalCluster

    return LocalCluster(
        n_workers=workers or os.cpu_count() or 1,
        threads_per_worker=1,
        processes=True,
        dashboard_address=":0",  # the scheduler's HTTP routes on a free port,
        scheduler_kwargs={"dashboard": False},  # and no dashboard
        silence_logs=logging.ERROR,
        preload=[
            "sim.experiments.sweep"
        ],  # import dirisk as the worker starts, not in its first task
    )


@contextmanager
def dask_client(workers: int | None, scheduler: str | None) -> Iterator[Any]:
    """A Dask client: on an existing cluster at ``scheduler``, or on a fresh
    :func:`local_cluster` of ``workers`` processes."""
    from distributed import Client

    if scheduler is not None:
        with Client(scheduler, timeout="30s") as client:
            yield client
        return
    with local_cluster(workers) as cluster, Client(cluster) as client:
        yield client


def sweep(
    experiment: Experiment | str | Path,
    out: str | Path,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    retry_failed: bool = False,
    progress: Progress | None = None,
) -> dict[str, int]:
    """Run every missing run of an experiment into the sweep folder ``out``.

    Args:
        experiment: An Experiment or an experiment file.
        out: The sweep folder (created; if it exists it must hold this experiment, and
            only its missing runs are run).
        workers: Worker processes of the local cluster (default: one per core).
        scheduler: Address of an existing Dask scheduler (``tcp://host:8786``) instead.
        retry_failed: Also rerun runs recorded as failed.
        progress: Called as ``progress(done, failed, total)`` as runs finish.

    Returns:
        Counts: ``total``, ``skipped`` (already finished), ``ran``, ``failed`` (of
        those run now), and over the whole folder ``ok``, ``failed_total`` and
        ``missing`` (runs lost with their workers: rerun to finish them).

    Raises:
        ScenarioError: the experiment file is invalid.
        SweepError: ``out`` holds another experiment.
    """
    if not isinstance(experiment, Experiment):
        experiment = load_experiment(experiment)
    folder = SweepFolder(out)
    design = design_points(experiment)
    runs = plan(experiment, design)
    folder.prepare(experiment, design, len(runs))
    folder.remove_stale()
    finished = folder.finished()
    if retry_failed and finished:
        finished -= folder.failed()
    pending = [r for r in runs if (r.point, r.replication) not in finished]
    counts = {"total": len(runs), "skipped": len(runs) - len(pending), "ran": 0, "failed": 0}
    folder.write_manifest(started_at=utc_now(), state="running")

    def record(results: list[dict[str, Any]]) -> None:
        for result in results:
            spec = result["spec"]
            folder.save(spec.point, spec.replication, result["parts"])
            counts["ran"] += 1
            counts["failed"] += result["row"]["status"] != "ok"
        if progress is not None:
            progress(counts["skipped"] + counts["ran"], counts["failed"], counts["total"])

    if progress is not None:
        progress(counts["skipped"], 0, counts["total"])
    if pending:
        # The first run is run here: it times a run (to size the batches) and its part
        # is kept like any other.
        t0 = time.perf_counter()
        record(execute(experiment, pending[:1]))
        per_run = time.perf_counter() - t0
        rest = pending[1:]
        if rest:
            _run_on_dask(experiment, rest, per_run, workers, scheduler, record)
    done, failed = len(folder.finished()), len(folder.failed())
    folder.write_manifest(
        state="complete" if done == len(runs) else "incomplete",
        finished_at=utc_now(),
        ok=done - failed,
        failed=failed,
    )
    return {**counts, "ok": done - failed, "failed_total": failed, "missing": len(runs) - done}


def _run_on_dask(
    experiment: Experiment,
    runs: list[RunSpec],
    seconds_per_run: float,
    workers: int | None,
    scheduler: str | None,
    record: Callable[[list[dict[str, Any]]], None],
) -> None:
    """Submit ``runs`` in batches and record each batch as it completes."""
    from distributed import as_completed

    with dask_client(workers, scheduler) as client:
        n_workers = max(1, len(client.scheduler_info(n_workers=-1).get("workers", {})))
        size = batch_size(seconds_per_run, len(runs), n_workers)
        # The experiment travels with each task (a few kB): scattered data would be lost
        # with the worker holding it, and the tasks depending on it with it.
        batch_of = {
            client.submit(execute, experiment, batch, pure=False, retries=TASK_RETRIES): batch
            for batch in batches(runs, size)
        }
        for future in as_completed(list(batch_of)):
            if future.status == "finished":
                record(future.result())
            else:  # its workers died more than TASK_RETRIES times, or the task raised:
                # its runs stay missing and a rerun (resume) runs them again.
                why = future.exception() if future.status == "error" else future.status
                logger.warning("a batch of %d runs was lost: %s", len(batch_of[future]), why)
            future.release()
