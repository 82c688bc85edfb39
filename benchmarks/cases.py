"""The benchmark cases. Each returns a plain, JSON-ready dict of measurements.

Throughput is measured on step time (model construction and table building are
reported separately):

* ``requests_per_s``: requests emitted (routed) per second of step time;
* ``attempts_per_s``: routing attempts (first tries plus retries) per second;
* ``agent_steps_per_s``: (requesters + nodes + jurisdictions) x steps per second.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np

import sim
from benchmarks.reference import ReferenceModel
from benchmarks.scenarios import described, large_scenario, sized_preset
from benchmarks.timing import (
    Clock,
    PhaseTimer,
    current_rss_mb,
    instrument,
    median,
    peak_rss_mb,
)
from sim.engine.model import DiriskModel
from sim.scenario import Scenario

ROOT = Path(__file__).resolve().parent.parent


def describe(spec: Scenario) -> dict[str, Any]:
    """Sizes of a scenario."""
    rate = sum(p.share * p.requests_per_day for p in spec.requesters.kinds.values())
    return dict(
        requesters=spec.requesters.count,
        nodes=spec.nodes.count,
        jurisdictions=len(spec.jurisdictions),
        categories=len(spec.categories),
        model_kinds=len(spec.models),
        steps=spec.steps,
        expected_requests_per_step=round(spec.requesters.count * rate, 1),
        capacity_per_node=round(spec.nodes.capacity_per_day, 2),
    )


def agents_of(model: DiriskModel) -> int:
    """Requesters + nodes + jurisdictions."""
    return model.requesters.size + model.node_table.size + len(model.jurisdiction_names)


def _counts(model: DiriskModel, *, after: int = 0) -> tuple[int, int]:
    """Requests emitted and attempts made in the steps after the first ``after``, from
    the model's tables (built outside any timed block)."""
    tables = model.recorder.tables()
    metrics, requests = tables["metrics"], tables["requests"]
    emitted = int(metrics.loc[metrics["step"] >= after, "requests_emitted"].sum())
    attempts = int(requests.loc[requests["step"] >= after, "attempts"].sum())
    return emitted, attempts


# --------------------------------------------------------------------------- start-up


def startup(reps: int) -> dict[str, Any]:
    """Interpreter start-up and ``import sim``, each in fresh subprocesses."""
    env = worker_env()
    bare, with_sim, import_only = [], [], []
    probe = "import time; t = time.perf_counter(); import sim; print(time.perf_counter() - t)"
    for _ in range(reps):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True, env=env)
        bare.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-c", probe],
            check=True,
            env=env,
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        with_sim.append(time.perf_counter() - t0)
        import_only.append(float(out.stdout.strip().splitlines()[-1]))
    return dict(
        interpreter_s=median(bare),
        interpreter_plus_import_sim_s=median(with_sim),
        import_sim_s=median(import_only),
        reps=reps,
    )


# --------------------------------------------------------------------------- presets


def preset_case(
    preset: str, *, steps: int, reps: int, requesters: int | None = None, nodes: int | None = None
) -> dict[str, Any]:
    """End-to-end ``sim.run`` of a preset (load, build, steps, tables), plus a breakdown.

    ``end_to_end_s`` is the median wall time of ``sim.run(preset)``; the breakdown
    (build, steps, tables) comes from separate runs of the same seed.
    """
    spec = sized_preset(preset, requesters=requesters, nodes=nodes, steps=steps)
    ref: str | Scenario = preset if requesters is None and nodes is None else spec
    end_to_end, build, stepping, stepping_cpu, tables = [], [], [], [], []
    emitted = attempts = agents = 0
    for _ in range(reps):
        with Clock() as c:
            sim.run(ref, steps=steps)
        end_to_end.append(c.wall)
        with Clock() as c:
            model = DiriskModel(spec)
        build.append(c.wall)
        with Clock() as c:
            for _ in range(steps):
                model.step()
        stepping.append(c.wall)
        stepping_cpu.append(c.cpu)
        with Clock() as c:
            model.recorder.tables()
        tables.append(c.wall)
        emitted, attempts = _counts(model)
        agents = agents_of(model)
    step_s = median(stepping)
    tracemalloc.start()
    sim.run(ref, steps=steps)
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return dict(
        scenario=describe(spec),
        reps=reps,
        end_to_end_s=median(end_to_end),
        end_to_end_all_s=end_to_end,
        build_s=median(build),
        steps_s=step_s,
        steps_cpu_s=median(stepping_cpu),
        tables_s=median(tables),
        step_ms=1000 * step_s / steps,
        emitted=emitted,
        attempts=attempts,
        requests_per_s=emitted / step_s,
        attempts_per_s=attempts / step_s,
        agent_steps_per_s=agents * steps / step_s,
        traced_peak_mb=traced_peak / 2**20,
    )


# --------------------------------------------------------------------------- large


def stepped(spec: Scenario, *, warmup: int, timed: int, seed: int = 1) -> dict[str, Any]:
    """Build a model, run ``warmup`` untimed steps, then time ``timed`` steps one by one,
    with the step phases (emit, serve, ..., record) timed too."""
    rss_before = current_rss_mb()
    with Clock() as c:
        model = DiriskModel(spec, seed=seed)
    build_s = c.wall
    for _ in range(warmup):
        model.step()
    timer = instrument(model)
    walls, cpus = [], []
    for _ in range(timed):
        with Clock() as c:
            model.step()
        walls.append(c.wall)
        cpus.append(c.cpu)
    emitted, attempts = _counts(model, after=warmup)
    total = sum(walls)
    step_s, cpu_s = median(walls), median(cpus)
    per_step = emitted / timed
    return dict(
        scenario=describe(spec),
        build_s=build_s,
        warmup_steps=warmup,
        timed_steps=timed,
        step_s=step_s,
        step_cpu_s=cpu_s,
        step_all_s=walls,
        emitted_per_step=per_step,
        attempts_per_step=attempts / timed,
        requests_per_s=per_step / step_s,
        requests_per_cpu_s=per_step / cpu_s,
        attempts_per_s=attempts / timed / step_s,
        agent_steps_per_s=agents_of(model) / step_s,
        phases_s=dict(timer.totals),
        step_total_s=total,
        record_share=timer.totals["record"] / total if total else float("nan"),
        rss_before_build_mb=rss_before,
    )


def large_case(
    *,
    nodes: int,
    jurisdictions: int,
    requesters: int,
    requests: float,
    warmup: int,
    timed: int,
    market: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The large scenario (under the protocol of ``market``, default open); meant to run
    in a fresh process (see benchmarks.worker)."""
    spec = large_scenario(
        nodes=nodes,
        jurisdictions=jurisdictions,
        requesters=requesters,
        requests_per_step=requests,
        steps=warmup + timed,
        market=market,
    )
    out = stepped(spec, warmup=warmup, timed=timed)
    out["peak_rss_mb"] = peak_rss_mb()
    return out


def day_case(*, scenario: dict[str, Any], warmup: int, timed: int, seed: int = 1) -> dict[str, Any]:
    """Time per day of a described scenario (:func:`benchmarks.scenarios.described`):
    build, ``warmup`` untimed days, then ``timed`` days one by one (wall and CPU, and the
    CPU time of the market protocol's daily work, e.g. the validators' scoring and
    consensus), with the process's peak memory; meant to run in a fresh process (see
    benchmarks.worker)."""
    spec = described(dict(scenario, steps=warmup + timed))
    rss_before = current_rss_mb()
    start = time.perf_counter()
    model = DiriskModel(spec, seed=seed)
    build_s = time.perf_counter() - start
    for _ in range(warmup):
        model.step()
    protocol = PhaseTimer(clock=time.process_time)
    protocol.wrap(model.market.protocol, "daily")  # the protocol's own daily work
    walls, cpus = [], []
    for _ in range(timed):
        wall, cpu = time.perf_counter(), time.process_time()
        model.step()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return dict(
        scenario=describe(spec),
        build_s=build_s,
        warmup_steps=warmup,
        timed_steps=timed,
        day_s=sum(walls) / timed,
        day_cpu_s=sum(cpus) / timed,
        protocol_cpu_s=protocol.totals["daily"] / timed,
        day_median_s=median(walls),
        day_all_s=walls,
        day_cpu_all_s=cpus,
        peak_rss_mb=peak_rss_mb(),
        rss_before_build_mb=rss_before,
    )


def worker_command(case: str, params: dict[str, Any]) -> list[str]:
    """The command line that runs ``case`` with ``params`` in a fresh interpreter."""
    import json

    return [sys.executable, "-m", "benchmarks.worker", case, json.dumps(params)]


def worker_answer(case: str, returncode: int, stdout: str, stderr: str) -> dict[str, Any]:
    """The JSON answer of a finished worker (its last line of output)."""
    import json

    if returncode != 0:
        raise RuntimeError(f"benchmark worker {case!r} failed:\n{stderr}")
    return json.loads(stdout.strip().splitlines()[-1])


def run_worker(case: str, params: dict[str, Any]) -> dict[str, Any]:
    """Run ``benchmarks.worker`` in a fresh interpreter and return its JSON answer."""
    proc = subprocess.run(
        worker_command(case, params),
        check=False,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=worker_env(),
    )
    return worker_answer(case, proc.returncode, proc.stdout, proc.stderr)


def worker_env() -> dict[str, str]:
    """Environment of a worker process: the harness's, with the repository on the path
    (the sweep case's Dask cluster leaves it as it found it:
    :func:`sim.experiments.sweep.kept_environment`)."""
    env = dict(os.environ)
    env.setdefault("PYTHONPATH", str(ROOT))
    return env


# --------------------------------------------------------------------------- scaling


def scaling(
    *,
    series: str,
    sizes: list[dict[str, Any]],
    warmup: int,
    timed: int,
    reps: int,
    market: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Step time at successive sizes; ``ratios[i]`` = time(size i+1) / time(size i).

    Each size runs in a fresh process, as a real run does: models of other sizes in the
    same process would leave the memory allocator in a state no real run meets (at a
    million requests, a tenth of the step is then spent faulting in memory handed back
    to the system by the smaller models' steps). The sizes take turns, ``reps`` times
    (size 1, 2, 3, 4, 1, 2, ...), so that drift in the machine's speed affects every size
    alike; each size's time is the median of all its ``reps x timed`` steps.
    """
    walls: list[list[float]] = [[] for _ in sizes]
    last: list[dict[str, Any]] = [{} for _ in sizes]
    for _ in range(reps):
        for i, size in enumerate(sizes):
            params = {k: v for k, v in size.items() if k != "requests_per_step"}
            out = run_worker(
                "large",
                dict(
                    params,
                    requests=size["requests_per_step"],
                    warmup=warmup,
                    timed=timed,
                    market=market,
                ),
            )
            walls[i] += out["step_all_s"]
            last[i] = out
    rows = []
    for size, out, times in zip(sizes, last, walls, strict=True):
        step_s = median(times)
        rows.append(
            dict(
                size=size,
                scenario=out["scenario"],
                step_s=step_s,
                step_all_s=times,
                emitted_per_step=out["emitted_per_step"],
                attempts_per_step=out["attempts_per_step"],
                requests_per_s=out["emitted_per_step"] / step_s,
            )
        )
    steps = [r["step_s"] for r in rows]
    ratios = [b / a for a, b in zip(steps, steps[1:], strict=False)]
    return dict(
        series=series, rows=rows, ratios=ratios, max_ratio=max(ratios) if ratios else float("nan")
    )


# --------------------------------------------------------------------------- recording


def recording_case(preset: str, *, steps: int, reps: int) -> dict[str, Any]:
    """Share of step time spent in ``model.recorder.record`` (and the other phases)."""
    spec = sized_preset(preset, steps=steps)
    shares, phases = [], []
    for _ in range(reps):
        model = DiriskModel(spec)
        timer = instrument(model)
        with Clock() as c:
            for _ in range(steps):
                model.step()
        shares.append(timer.totals["record"] / c.wall)
        phases.append({k: v / c.wall for k, v in timer.totals.items()})
    keys = sorted(phases[0])
    return dict(
        scenario=describe(spec),
        reps=reps,
        record_share=median(shares),
        phase_shares={k: median([p[k] for p in phases]) for k in keys},
    )


# --------------------------------------------------------------------------- reference


def reference_case(spec: Scenario, *, reps: int, seed: int = 1) -> dict[str, Any]:
    """Engine (``sim.run``) against the plain-Mesa reference on the same scenario and
    seed, alternated rep by rep in this process; both include construction and the
    per-step table."""
    engine, reference = [], []
    emitted_e = emitted_r = 0.0
    for _ in range(reps):
        with Clock() as c:
            results = sim.run(spec, seed=seed)
        engine.append(c.wall)
        emitted_e = float(results.metrics["requests_emitted"].sum())
        with Clock() as c:
            table = ReferenceModel(spec, seed=seed).run()
        reference.append(c.wall)
        emitted_r = float(table["requests_emitted"].sum())
    e, r = median(engine), median(reference)
    return dict(
        scenario=describe(spec),
        reps=reps,
        engine_s=e,
        reference_s=r,
        engine_all_s=engine,
        reference_all_s=reference,
        speedup=r / e,
        engine_requests_per_s=emitted_e / e,
        reference_requests_per_s=emitted_r / r,
    )


def reference_step_case(spec: Scenario, *, engine_steps: int, seed: int = 1) -> dict[str, Any]:
    """Step time of the engine against the plain-Mesa reference on the same scenario, in
    this process and side by side: the reference's first step after construction
    against the median of the engine's steps after one warm-up step. Construction (500k
    Python agents for the reference on the large scenario) is reported, not compared."""
    with Clock() as c:
        reference = ReferenceModel(spec, seed=seed)
    reference_build_s = c.wall
    with Clock() as c:
        reference.step()
    reference_step_s = c.wall
    reference_emitted = float(
        reference.datacollector.get_model_vars_dataframe()["requests_emitted"].iloc[-1]
    )
    del reference
    engine = stepped(spec, warmup=1, timed=engine_steps, seed=seed)
    return dict(
        scenario=describe(spec),
        reference_build_s=reference_build_s,
        reference_step_s=reference_step_s,
        engine_build_s=engine["build_s"],
        engine_step_s=engine["step_s"],
        speedup=reference_step_s / engine["step_s"],
        engine_requests_per_s=engine["requests_per_s"],
        reference_requests_per_s=reference_emitted / reference_step_s,
    )


def numpy_info() -> dict[str, Any]:
    """numpy version and how many CPUs this process may use."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:
        cpus = os.cpu_count() or 1
    return dict(numpy=np.__version__, cpus_available=cpus)
