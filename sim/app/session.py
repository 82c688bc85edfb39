"""Runs kept in the browser session, keyed by (scenario, seed): moving between pages or
re-rendering never reruns a simulation that is already there."""

from __future__ import annotations

import streamlit as st

from sim.app.controls import run_key
from sim.results.runner import run
from sim.results.tables import Results
from sim.scenario import Scenario

__all__ = ["MAX_RUNS", "last_run", "run_cached"]

#: Runs kept per session (oldest dropped first).
MAX_RUNS = 8


def run_cached(spec: Scenario, seed: int, *, remember: bool = True) -> Results:
    """The run of ``spec`` with ``seed``: from the session if there, else simulated with
    a progress bar. With ``remember``, it becomes the last run the other pages show."""
    runs: dict[str, Results] = st.session_state.setdefault("runs", {})
    key = run_key(spec, seed)
    if key not in runs:
        bar = st.progress(0.0, text=f"Simulating {spec.name}…")
        runs[key] = run(
            spec,
            seed=seed,
            progress=lambda done, total: bar.progress(
                done / total, text=f"Simulating {spec.name}: day {done} of {total}"
            ),
        )
        bar.empty()
        while len(runs) > MAX_RUNS:
            runs.pop(next(iter(runs)))
    if remember:
        st.session_state["last_run"] = key
    return runs[key]


def last_run() -> Results | None:
    """The most recent run of this session, if any."""
    key = st.session_state.get("last_run")
    return st.session_state.get("runs", {}).get(key)
