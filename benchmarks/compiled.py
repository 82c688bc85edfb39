"""What the compiled kernels cost and save end to end: a fresh process that imports
dirisk, loads the kernels (compiling them into an empty numba cache, or loading them
from a warm one) and runs a preset, against the same run on the numpy twins.

Each case runs in its own interpreter, so numba's import, compilation and cache loading
are all counted; the times are wall-clock seconds of the parts and of the whole process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from statistics import median
from typing import Any

from benchmarks.cases import ROOT, worker_env

__all__ = ["compiled_case", "end_to_end"]

#: The program a fresh interpreter runs: import, kernels, run; the parts' times as JSON.
_PROGRAM = """
import json, sys, time
start = time.perf_counter()
import sim
from sim.engine.kernels.backend import kernels
imported = time.perf_counter()
chosen = kernels()
loaded = time.perf_counter()
sim.run(sys.argv[1], seed=1)
done = time.perf_counter()
print(json.dumps(dict(kernels=chosen.name, import_s=imported - start,
                      kernels_s=loaded - imported, run_s=done - loaded)))
"""


def end_to_end(preset: str, choice: str, cache_dir: str | None = None) -> dict[str, Any]:
    """One fresh process running ``preset`` with ``DIRISK_KERNELS=choice`` (numba's cache
    in ``cache_dir`` if given): the parts' times and the process's wall time."""
    env = dict(worker_env(), DIRISK_KERNELS=choice)
    if cache_dir is not None:
        env["NUMBA_CACHE_DIR"] = cache_dir
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", _PROGRAM, preset],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"end-to-end run of {preset} failed:\n{proc.stderr}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]), wall_s=wall)


def compiled_case(preset: str, *, reps: int) -> dict[str, Any]:
    """``preset`` end to end: compiled kernels into an empty cache (the first run after
    installing), from the warm cache (every later run) and numpy's twins, ``reps`` times
    each (medians)."""
    cold, warm, twins = [], [], []
    for _ in range(reps):
        with tempfile.TemporaryDirectory() as cache:
            cold.append(end_to_end(preset, "numba", cache))
            warm.append(end_to_end(preset, "numba", cache))
        twins.append(end_to_end(preset, "numpy"))

    def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
        keys = ("import_s", "kernels_s", "run_s", "wall_s")
        return dict({k: median(r[k] for r in rows) for k in keys}, kernels=rows[0]["kernels"])

    return dict(
        preset=preset,
        reps=reps,
        cold=summary(cold),
        warm=summary(warm),
        numpy=summary(twins),
        cpus=len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
    )
