"""Sweep throughput: many classroom runs through ``sim.experiments.sweep.sweep`` on a local Dask
cluster, the speed-up from 1 to 2 workers, and each worker's memory over a long sweep."""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from sim.experiments.experiment import Experiment, load_experiment
from sim.experiments.sweep import local_cluster, sweep


def classroom_experiment(runs: int, steps: int | None, seed: int = 1) -> Experiment:
    """``runs`` runs of the classroom demo: 10 audit-rate settings x replications."""
    points = 10
    data: dict[str, Any] = {
        "name": "bench_classroom",
        "scenario": "classroom_demo",
        "factors": [
            {
                "name": "audit_rate",
                "path": "jurisdictions.*.enforcement.audit_rate",
                "range": [0.0, 0.2],
            }
        ],
        "design": {"kind": "grid", "levels": points},
        "replications": max(1, runs // points),
        "seed": seed,
    }
    if steps is not None:
        data["steps"] = steps
    return load_experiment(data)


def _worker_rss(client: Any) -> dict[str, float]:
    """Resident memory of each worker process, MiB."""

    def rss() -> float:
        import psutil

        return psutil.Process().memory_info().rss / 2**20

    return client.run(rss)


def timed_sweep(experiment: Experiment, workers: int, *, sample_memory: bool = False) -> dict:
    """Sweep ``experiment`` on a fresh :func:`sim.experiments.sweep.local_cluster` of ``workers``
    processes (started here, outside the timed part, and reached through ``scheduler=``)
    into a temporary folder. Optionally sample each worker's RSS about once a second."""
    from distributed import Client

    samples: list[dict[str, Any]] = []
    with (
        local_cluster(workers) as cluster,
        Client(cluster) as client,
        tempfile.TemporaryDirectory() as tmp,
    ):
        done = {"runs": 0}
        stop = threading.Event()

        def sampler() -> None:
            while not stop.wait(1.0):
                samples.append({"runs_done": done["runs"], "rss_mb": _worker_rss(client)})

        thread = threading.Thread(target=sampler, daemon=True)
        if sample_memory:
            thread.start()
        t0 = time.perf_counter()
        counts = sweep(
            experiment,
            Path(tmp) / "sweep",
            scheduler=cluster.scheduler_address,
            progress=lambda d, f, t: done.update(runs=d),
        )
        wall = time.perf_counter() - t0
        stop.set()
        if sample_memory:
            thread.join()
            samples.append({"runs_done": counts["total"], "rss_mb": _worker_rss(client)})
    out = {
        "workers": workers,
        "runs": counts["total"],
        "ok": counts["ok"],
        "wall_s": wall,
        "runs_per_s": counts["total"] / wall,
    }
    if sample_memory:
        out["memory"] = memory_growth(samples)
    return out


def memory_growth(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """Worker RSS from the first sample taken after 10% of the runs to the last: the
    largest growth over all workers, in MiB and MiB per 100 runs."""
    total = samples[-1]["runs_done"] or 1
    settled = [s for s in samples if s["runs_done"] >= 0.1 * total] or samples
    first, last = settled[0], samples[-1]
    growth = {
        w: last["rss_mb"][w] - first["rss_mb"].get(w, last["rss_mb"][w]) for w in last["rss_mb"]
    }
    worst = max(growth.values()) if growth else 0.0
    span = max(last["runs_done"] - first["runs_done"], 1)
    return {
        "start_runs": first["runs_done"],
        "end_runs": last["runs_done"],
        "start_rss_mb": sorted(first["rss_mb"].values()),
        "end_rss_mb": sorted(last["rss_mb"].values()),
        "max_growth_mb": worst,
        "max_growth_mb_per_100_runs": 100 * worst / span,
    }


def sweep_case(*, runs: int, steps: int | None, speedup_runs: int) -> dict[str, Any]:
    """The sweep targets: ``runs`` classroom runs on 2 workers (wall time, memory), then
    ``speedup_runs`` runs on 1 and on 2 workers side by side."""
    long = timed_sweep(classroom_experiment(runs, steps), 2, sample_memory=True)
    small = classroom_experiment(speedup_runs, steps, seed=2)
    one = timed_sweep(small, 1)
    two = timed_sweep(small, 2)
    return {
        "long": long,
        "one_worker": one,
        "two_workers": two,
        "speedup_1_to_2": one["wall_s"] / two["wall_s"],
    }
