"""Small timing and memory helpers for the benchmarks."""

from __future__ import annotations

import functools
import gc
import resource
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any


def median(values: list[float]) -> float:
    """Median of a non-empty list (NaN if empty)."""
    return statistics.median(values) if values else float("nan")


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB.

    On Linux, the high-water mark of the process's own memory (``VmHWM``): ``ru_maxrss``
    also counts the parent's memory at the fork that started the process, so a worker
    started by a large harness would report at least the harness's size.
    """
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def current_rss_mb() -> float:
    """Current resident set size of this process, in MiB (Linux; else the peak)."""
    try:
        with open("/proc/self/statm") as fh:
            pages = int(fh.read().split()[1])
        return pages * resource.getpagesize() / (1024 * 1024)
    except OSError:
        return peak_rss_mb()


class Clock:
    """Wall and CPU time of a block: ``with Clock() as c: ...; c.wall, c.cpu``."""

    def __enter__(self) -> Clock:
        gc.collect()
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.wall = time.perf_counter() - self._wall
        self.cpu = time.process_time() - self._cpu


class PhaseTimer:
    """Accumulates time per named phase by wrapping callables: wall time, or the time of
    another ``clock`` (``time.process_time``: CPU time).

    ``timer.wrap(obj, "method", "phase")`` replaces ``obj.method`` on the instance
    with a timed version; the class is untouched.
    """

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self.totals: dict[str, float] = defaultdict(float)
        self.clock = clock

    def wrap(self, obj: Any, attr: str, phase: str | None = None) -> None:
        """Time every call of ``obj.attr`` under ``phase`` (default: ``attr``)."""
        inner: Callable = getattr(obj, attr)
        name = phase or attr
        totals, clock = self.totals, self.clock

        @functools.wraps(inner)
        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = clock()
            try:
                return inner(*args, **kwargs)
            finally:
                totals[name] += clock() - t0

        setattr(obj, attr, timed)


def instrument(model: Any) -> PhaseTimer:
    """A PhaseTimer on the phases of ``DiriskModel.step`` (emit, serve, settle, evidence,
    enforce, adapt, record, events; those the model has)."""
    timer = PhaseTimer()
    timer.wrap(model.requesters, "emit")
    for phase in ("serve", "settle", "evidence", "enforce", "adapt", "fire_events"):
        if callable(getattr(model, phase, None)):
            timer.wrap(model, phase)
    timer.wrap(model.recorder, "record")
    return timer
