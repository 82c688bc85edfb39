"""Running an experiment's runs on Dask, crash-safe, into a sweep folder
(:mod:`sim.experiments.folder`).

Each part is written atomically by the client as its run's result arrives, so killing
the sweep loses only runs still in flight, and a part that exists is complete.
Rerunning into the same folder (or ``--resume``) runs only the missing parts.

A cluster that cannot run the sweep stops it with a :class:`SweepError` rather than
leaving it waiting: a scheduler that does not answer, or one without workers for
:data:`WORKER_GRACE_SECONDS` (at the start, or after losing them all). The manifest then
records ``state: interrupted`` and the reason; the folder resumes like any other.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
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
from sim.experiments.folder import SweepError, SweepFolder, parquet_bytes, utc_now
from sim.experiments.uncertainty import apply_future, catalogue_for
from sim.results.runner import run_metrics, run_metrics_by_residence
from sim.scenario import validate

__all__ = [
    "CONNECT_TIMEOUT_SECONDS",
    "DASK_LOG_LENGTH",
    "MAX_BATCH",
    "POLL_SECONDS",
    "Progress",
    "RunSpec",
    "TARGET_TASK_SECONDS",
    "TASKS_PER_WORKER",
    "TASK_RETRIES",
    "WORKER_GRACE_SECONDS",
    "batch_size",
    "batches",
    "dask_client",
    "execute",
    "kept_environment",
    "local_cluster",
    "plan",
    "short_dask_logs",
    "sweep",
]

#: Seconds of work a task should take (small runs are batched up to this).
TARGET_TASK_SECONDS = 0.5
#: Entries of Dask's developer logs (its default: 1,000) while dirisk's clients and
#: local clusters run (see :func:`short_dask_logs`).
DASK_LOG_LENGTH = 10
#: Most runs in one task.
MAX_BATCH = 64
#: Tasks per worker at least (for load balance near the end of a sweep).
TASKS_PER_WORKER = 4
#: Times a task is retried when its worker dies.
TASK_RETRIES = 3
#: Seconds to reach the Dask scheduler given with ``scheduler`` (``--scheduler``).
CONNECT_TIMEOUT_SECONDS = 10.0
#: Seconds a sweep waits for a worker when its cluster has none, at the start or after
#: losing them all, before it stops (the folder is left to resume).
WORKER_GRACE_SECONDS = 60.0
#: Seconds between looks at the cluster while no batch finishes.
POLL_SECONDS = 1.0

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


def execute(
    experiment: Experiment, runs: list[RunSpec], *, point_column: bool = True
) -> list[dict[str, Any]]:
    """Run a batch (on a worker). A run that raises is returned as failed with its
    message; it never stops the batch.

    Args:
        experiment: The experiment.
        runs: The batch.
        point_column: Parts start with the int64 column ``point`` (false only for a
            folder begun before parts held it: :meth:`SweepFolder.parts_hold_point`).

    Returns:
        Per run: ``spec``, ``row`` (the outcomes part's one row) and ``parts``: the
        run's Parquet files as bytes, ``outcomes`` and (unless not saved or failed)
        ``metrics``. Encoding them here keeps that work off the process that collects the
        results, which shares the machine with the workers.
    """
    results = []
    # Without factors every run's scenario before its future is the experiment's: the
    # uncertainty catalogue is resolved against it once for the batch.
    catalogue = None
    if experiment.futures is not None and not experiment.factors:
        catalogue = catalogue_for(experiment.scenario)
    for spec in runs:
        t0 = time.perf_counter()
        parts: dict[str, bytes] = {}
        try:
            data = apply_factors(experiment.scenario, spec.values, experiment.factors)
            if experiment.futures is not None:
                data = apply_future(data, experiment.futures[spec.point], catalogue)
            scenario = validate(data, source=f"design point {spec.point}")
            if experiment.by_residence:
                metrics, residents = run_metrics_by_residence(scenario, seed=spec.seed)
            else:
                metrics, residents = run_metrics(scenario, seed=spec.seed), {}
            outcomes = summarise_metrics(metrics, experiment.outcomes)
            for place, table in residents.items():
                values = summarise_metrics(table, experiment.outcomes)
                outcomes |= {f"{column}__{place}": v for column, v in values.items()}
            if experiment.save_metrics:
                frame = metrics.assign(replication=spec.replication)
                if point_column:
                    frame.insert(0, "point", spec.point)
                    frame = frame[["point", "replication", *metrics.columns]]
                parts["metrics"] = parquet_bytes(frame)
            status, error = "ok", ""
        except Exception as exc:  # recorded in the part, the sweep goes on
            outcomes = {column: math.nan for column in experiment.outcome_columns()}
            status, error = "failed", f"{type(exc).__name__}: {exc}"
            parts.clear()
        row = {
            **({"point": spec.point} if point_column else {}),
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


@contextmanager
def local_cluster(workers: int | None = None) -> Iterator[Any]:
    """A ``distributed.LocalCluster`` of ``workers`` single-threaded worker processes
    (default: one per core) that have imported dirisk, without a dashboard, and with
    Dask's developer logs cut to :data:`DASK_LOG_LENGTH` entries while it runs; this
    process's environment is as before once it closes (:func:`kept_environment`)."""
    from distributed import LocalCluster

    with (
        kept_environment(),
        short_dask_logs(),
        LocalCluster(
            n_workers=workers or os.cpu_count() or 1,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",  # the scheduler's HTTP routes on a free port,
            scheduler_kwargs={"dashboard": False},  # and no dashboard
            silence_logs=logging.ERROR,
            preload=["sim.experiments.sweep"],  # import dirisk as a worker starts
        ) as cluster,
    ):
        yield cluster


@contextmanager
def kept_environment() -> Iterator[None]:
    """This process's environment variables restored on leaving.

    A Dask nanny writes its worker's settings into the environment of the process that
    starts it, before spawning the worker (``MALLOC_TRIM_THRESHOLD_=65536``,
    ``OMP_NUM_THREADS=1``, ...), and leaves them there: every process started later
    inherits them. With glibc returning every freed block above 64 KB to the system, a
    large world started after a sweep ran its days at half speed (adaptive p2p at 1 M x
    100 k: 0.217 s a day against 0.101, 2026-12-07, 2 cores)."""
    before = dict(os.environ)
    try:
        yield
    finally:
        for name in set(os.environ) - set(before):
            del os.environ[name]
        for name, value in before.items():
            if os.environ.get(name) != value:
                os.environ[name] = value


@contextmanager
def short_dask_logs() -> Iterator[None]:
    """Dask's developer logs (``distributed.admin.low-level-log-length``) cut to
    :data:`DASK_LOG_LENGTH` entries for the comms, schedulers and workers made inside.

    Each comm keeps its last messages in such a log (1,000 by default), and a message
    that starts a task holds the task's experiment: a policy search's collecting
    process grew by 10 MB a generation (10 candidates x 10 futures of classroom_demo,
    2026-12-07) until every log was full."""
    import dask

    with dask.config.set({"distributed.admin.low-level-log-length": DASK_LOG_LENGTH}):
        yield


@contextmanager
def dask_client(workers: int | None, scheduler: str | None) -> Iterator[Any]:
    """A Dask client with at least one worker: on an existing cluster at ``scheduler``,
    or on a fresh :func:`local_cluster` of ``workers`` processes.

    Raises:
        SweepError: no scheduler answers at ``scheduler`` (within
            :data:`CONNECT_TIMEOUT_SECONDS`), or the cluster has had no worker for
            :data:`WORKER_GRACE_SECONDS`.
    """
    from distributed import Client

    if scheduler is not None:
        _check_reachable(scheduler)
        try:
            with short_dask_logs():
                client = Client(scheduler, timeout=f"{CONNECT_TIMEOUT_SECONDS}s")
        except (OSError, ValueError) as exc:  # TimeoutError is an OSError
            raise SweepError(
                f"cannot connect to the Dask scheduler at {scheduler} ({_one_line(exc)}): "
                "check the address and that `dask scheduler` runs there"
            ) from None
        with client:
            _wait_for_workers(client, scheduler)
            yield client
        return
    with local_cluster(workers) as cluster, Client(cluster) as client:
        _wait_for_workers(client, None)
        yield client


def _one_line(exc: BaseException) -> str:
    """An exception's message on one line (its type when it has none)."""
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def _check_reachable(address: str) -> None:
    """Fail at once when nothing listens at a TCP (or TLS) scheduler address, rather
    than after the client's connection retries."""
    from distributed.comm import parse_address, parse_host_port

    try:
        scheme, location = parse_address(address)
        if scheme not in ("tcp", "tls"):
            return
        host, port = parse_host_port(location, default_port=8786)
    except ValueError as exc:
        raise SweepError(f"--scheduler {address}: not a Dask address ({_one_line(exc)})") from None
    try:
        socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_SECONDS).close()
    except OSError as exc:
        why = exc.strerror or _one_line(exc)
        raise SweepError(
            f"no Dask scheduler answers at {address} ({why}): start one "
            f"(`dask scheduler --host {host} --port {port}`) or check the address; "
            "the sweep is resumable"
        ) from None


def _cluster_name(scheduler: str | None) -> str:
    """The cluster, for messages."""
    return "the local Dask cluster" if scheduler is None else f"the Dask scheduler at {scheduler}"


def _worker_count(client: Any, scheduler: str | None) -> int:
    """Workers the scheduler knows now."""
    try:
        return len(client.scheduler_info(n_workers=-1).get("workers", {}))
    except (OSError, ValueError) as exc:  # CommClosedError and TimeoutError are OSErrors
        raise SweepError(
            f"lost the connection to {_cluster_name(scheduler)} ({_one_line(exc)}); "
            "the sweep is resumable"
        ) from None


def _no_workers(scheduler: str | None, *, lost: bool) -> SweepError:
    """The error of a cluster without workers for the whole grace period."""
    what = "lost all its workers" if lost else "has no workers"
    hint = "" if scheduler is None else f"; start some (`dask worker {scheduler}`)"
    return SweepError(
        f"{_cluster_name(scheduler)} {what}, and none joined in {WORKER_GRACE_SECONDS:g} s"
        f"{hint}, then resume the sweep (`dirisk sweep --resume --out DIR`)"
    )


def _wait_for_workers(client: Any, scheduler: str | None) -> None:
    """Return once the cluster has a worker; SweepError after :data:`WORKER_GRACE_SECONDS`."""
    if _worker_count(client, scheduler):
        return
    logger.warning(
        "%s has no workers; waiting up to %g s for one",
        _cluster_name(scheduler),
        WORKER_GRACE_SECONDS,
    )
    deadline = time.monotonic() + WORKER_GRACE_SECONDS
    while time.monotonic() < deadline:
        time.sleep(min(POLL_SECONDS, max(deadline - time.monotonic(), 0.0)))
        if _worker_count(client, scheduler):
            return
    raise _no_workers(scheduler, lost=False)


def sweep(
    experiment: Experiment | str | Path,
    out: str | Path,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    retry_failed: bool = False,
    progress: Progress | None = None,
    client: Any = None,
    seconds_per_run: float | None = None,
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
        client: A connected ``distributed.Client`` to run on instead of ``workers`` or
            ``scheduler`` (several sweeps share it, from several threads: no connection
            per sweep). The caller has checked that its cluster has workers.
        seconds_per_run: Seconds a run takes, to size the batches; None: the first run
            is run here and timed.

    Returns:
        Counts: ``total``, ``skipped`` (already finished), ``ran``, ``failed`` (of
        those run now), and over the whole folder ``ok``, ``failed_total`` and
        ``missing`` (runs lost with their workers: rerun to finish them).

    Raises:
        ScenarioError: the experiment file is invalid.
        SweepError: ``out`` holds another experiment; or the cluster cannot run the
            sweep (no scheduler answers at ``scheduler``, or no worker for
            :data:`WORKER_GRACE_SECONDS`): the manifest's ``state`` is then
            ``interrupted`` with the ``reason``, and the folder resumes.
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
    point_column = folder.parts_hold_point()
    folder.write_manifest(started_at=utc_now(), state="running", reason="")

    def record(results: list[dict[str, Any]]) -> None:
        for result in results:
            spec = result["spec"]
            folder.save(spec.point, spec.replication, result["parts"])
            counts["ran"] += 1
            counts["failed"] += result["row"]["status"] != "ok"
        if progress is not None:
            progress(counts["skipped"] + counts["ran"], counts["failed"], counts["total"])

    try:
        if progress is not None:
            progress(counts["skipped"], 0, counts["total"])
        if pending:
            with ExitStack() as stack:
                if client is None and scheduler is not None and len(pending) > 1:
                    # Reach the cluster first: a sweep it cannot run stops before any run.
                    client = stack.enter_context(dask_client(workers, scheduler))
                rest, per_run = pending, seconds_per_run
                if per_run is None:
                    # The first run is run here: it times a run (to size the batches) and
                    # its part is kept like any other.
                    t0 = time.perf_counter()
                    record(execute(experiment, pending[:1], point_column=point_column))
                    per_run = time.perf_counter() - t0
                    rest = pending[1:]
                if rest:
                    if client is None:
                        client = stack.enter_context(dask_client(workers, scheduler))
                    _run_on_dask(client, scheduler, experiment, rest, per_run, point_column, record)
    except BaseException as exc:  # the command returns: the manifest must not say running
        reason = str(exc) if isinstance(exc, SweepError) else f"stopped by {type(exc).__name__}"
        if not isinstance(exc, SweepError) and str(exc):
            reason += f": {_one_line(exc)}"
        with suppress(Exception):  # never hide the error that stopped the sweep
            folder.write_manifest(state="interrupted", reason=reason, finished_at=utc_now())
            _record_end(folder, len(runs), "interrupted", reason)
        raise
    done, failed = _record_end(folder, len(runs), None, "")
    return {**counts, "ok": done - failed, "failed_total": failed, "missing": len(runs) - done}


def _record_end(folder: SweepFolder, total: int, state: str | None, reason: str) -> tuple[int, int]:
    """Write the end of a sweep into the manifest: ``state`` (None: complete, or
    incomplete when runs are missing), ``reason``, the time and the counts of runs ok
    and failed. Returns the finished and the failed runs."""
    done, failed = len(folder.finished()), len(folder.failed())
    if state is None:
        state = "complete" if done == total else "incomplete"
    folder.write_manifest(
        state=state, reason=reason, finished_at=utc_now(), ok=done - failed, failed=failed
    )
    return done, failed


def _run_on_dask(
    client: Any,
    scheduler: str | None,
    experiment: Experiment,
    runs: list[RunSpec],
    seconds_per_run: float,
    point_column: bool,
    record: Callable[[list[dict[str, Any]]], None],
) -> None:
    """Submit ``runs`` in batches and record each batch as it completes.

    Raises:
        SweepError: the cluster had no worker for :data:`WORKER_GRACE_SECONDS` while
            batches were waiting (the batches still running are given up).
    """
    from distributed import as_completed

    n_workers = max(1, _worker_count(client, scheduler))
    size = batch_size(seconds_per_run, len(runs), n_workers)
    # The experiment travels with each task (a few kB): scattered data would be lost
    # with the worker holding it, and the tasks depending on it with it.
    batch_of = {
        client.submit(
            execute,
            experiment,
            batch,
            point_column=point_column,
            pure=False,
            retries=TASK_RETRIES,
        ): batch
        for batch in batches(runs, size)
    }
    pending = as_completed(list(batch_of))
    looked = time.monotonic()
    alone_since: float | None = None
    while not pending.is_empty():
        ready = pending.next_batch(block=False)
        for future in ready:
            if future.status == "finished":
                record(future.result())
            else:  # its workers died more than TASK_RETRIES times, or the task raised:
                # its runs stay missing and a rerun (resume) runs them again.
                why = future.exception() if future.status == "error" else future.status
                logger.warning("a batch of %d runs was lost: %s", len(batch_of[future]), why)
            future.release()
        now = time.monotonic()
        if ready:
            looked, alone_since = now, None
            continue
        time.sleep(0.02)
        if now - looked < POLL_SECONDS:
            continue
        looked = now
        if _worker_count(client, scheduler):
            alone_since = None
        elif alone_since is None:
            alone_since = now
            logger.warning(
                "%s has lost all its workers; waiting up to %g s for one",
                _cluster_name(scheduler),
                WORKER_GRACE_SECONDS,
            )
        elif now - alone_since >= WORKER_GRACE_SECONDS:
            raise _no_workers(scheduler, lost=True)
