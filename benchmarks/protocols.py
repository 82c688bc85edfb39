"""Every market protocol and the adaptive presets against the static open baseline.

A case's time per day is compared with the baseline's side by side: both run at the same
time, each in a fresh process pinned to its own core (the cores swap from one round to
the next), so that they meet the same machine; the answer is the median over rounds of
the ratio of their CPU time per day. Sizes: the baseline's (the presets as they are,
every day of their run) and 1 M requesters x 100 k nodes (the same presets with those
counts, a warm-up day and then timed days, adaptation revisions among them).
"""

from __future__ import annotations

import os
import statistics
import subprocess
from typing import Any

from benchmarks.cases import ROOT, worker_answer, worker_command, worker_env
from benchmarks.scenarios import PROTOCOL_MARKETS, described

#: The static open baseline every case is compared with.
BASE: dict[str, Any] = {"preset": "baseline"}

#: The cases: each protocol on the baseline (validators as its two presets run it) and
#: the presets whose nodes adapt or whose jurisdictions revise their rules.
CASES: dict[str, dict[str, Any]] = {
    "gateway": {"preset": "baseline", "market": PROTOCOL_MARKETS["gateway"]},
    "p2p": {"preset": "baseline", "market": PROTOCOL_MARKETS["p2p"]},
    "protocol_self_governance": {"preset": "protocol_self_governance"},
    "defence_in_depth": {"preset": "defence_in_depth"},
    "eu_ai_act": {"preset": "eu_ai_act"},
    "haven_emerges": {"preset": "haven_emerges"},
    "us_state_patchwork": {"preset": "us_state_patchwork"},
    "global_treaty": {"preset": "global_treaty"},
}


def _cores() -> tuple[int, int]:
    """Two cores this process may use (the same one twice on a single core)."""
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else [0, 1]
    return tuple((cores + cores)[:2])  # type: ignore[return-value]


def together(jobs: list[tuple[str, dict[str, Any]]], cores: tuple[int, ...]) -> list[dict]:
    """Run benchmark workers ``(case, params)`` at the same time, the i-th pinned to
    ``cores[i]``; return their answers in order."""
    procs = []
    for (case, params), core in zip(jobs, cores, strict=True):
        procs.append(
            subprocess.Popen(
                worker_command(case, params),
                cwd=ROOT,
                env=worker_env(),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                preexec_fn=(lambda c=core: os.sched_setaffinity(0, {c}))
                if hasattr(os, "sched_setaffinity")
                else None,
            )
        )
    answers = []
    for (case, _), proc in zip(jobs, procs, strict=True):
        stdout, stderr = proc.communicate()
        answers.append(worker_answer(case, proc.returncode, stdout, stderr))
    return answers


def side_by_side(
    cases: dict[str, dict[str, Any]],
    *,
    rounds: int,
    warmup: int,
    timed: int | None,
    size: dict[str, Any] | None = None,
    log=print,
) -> dict[str, Any]:
    """Each case's CPU time per day over the baseline's, run side by side ``rounds``
    times; ``size``: requester and node counts for every scenario (None: as they are).
    ``timed`` None: every day of the preset's run (no warm-up)."""
    size = size or {}
    cores = _cores()
    out: dict[str, Any] = {}
    for name, case in cases.items():
        log(f"  {name} ...")
        ratios, days, base_days, own = [], [], [], []
        for k in range(rounds):
            pinned = cores if k % 2 == 0 else cores[::-1]
            params = [
                dict(scenario={**scenario, **size}, warmup=warmup, timed=timed)
                for scenario in (BASE, case)
            ]
            if timed is None:  # every day of the preset's run
                for p in params:
                    p["timed"] = described(p["scenario"]).steps
            base, this = together([("day", params[0]), ("day", params[1])], pinned)
            ratios.append(this["day_cpu_s"] / base["day_cpu_s"])
            days.append(this["day_cpu_s"])
            base_days.append(base["day_cpu_s"])
            own.append(this["protocol_cpu_s"] / base["day_cpu_s"])
        out[name] = dict(
            ratio=statistics.median(ratios),
            ratios=ratios,
            day_cpu_s=statistics.median(days),
            base_day_cpu_s=statistics.median(base_days),
            protocol_ratio=statistics.median(own),
            scenario=this["scenario"],
            peak_rss_mb=this["peak_rss_mb"],
        )
    worst = max(out.values(), key=lambda r: r["ratio"]) if out else None
    return dict(cases=out, worst_ratio=worst["ratio"] if worst else float("nan"))
