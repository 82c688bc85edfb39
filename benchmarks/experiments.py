"""``python -m benchmarks.experiments [--quick] [--json PATH]``: time attribution and
robustness end to end on the sweep engine, and print each target's PASS/MISS.

Targets (2 cores): attribution of ``classroom_demo`` over every applicable channel with 5
seeds under 1 minute; of ``baseline`` with 5 seeds under 5 minutes; robustness of 3
policies against ``classroom_demo`` in 100 futures × 3 seeds (1,200 runs) under 3
minutes; a policy search of 4 levers of ``classroom_demo`` over 20 futures, 20
generations of 20 candidates (8,000 runs) and the re-evaluation of its Pareto policies
over 20 fresh futures, under 10 minutes. Times are wall-clock seconds of the whole
command (cluster start included).
``--quick`` runs tiny versions to check the harness; its numbers are not comparable.
``--only TEXT`` runs the cases whose name contains TEXT.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sim.analysis.attribution import attribute
from sim.analysis.robustness import robust
from sim.experiments.optimize import optimize

DEFAULT_JSON = Path(__file__).resolve().parent / "results" / "experiments.json"

#: Robustness policies against classroom_demo: node-side compliance, audits, KYC.
POLICIES = (
    ("filters", {"extends": "classroom_demo", "name": "filters", "nodes": {"filter_recall": 0.99}}),
    (
        "audits",
        {
            "extends": "classroom_demo",
            "name": "audits",
            "jurisdictions": {j: {"enforcement": {"audit_rate": 0.05}} for j in ("eu", "us")},
        },
    ),
    (
        "kyc",
        {
            "extends": "classroom_demo",
            "name": "kyc",
            "jurisdictions": {j: {"enforcement": {"kyc_mandate": True}} for j in ("eu", "us")},
        },
    ),
)


#: The policy search's levers: the EU-like and US-like regimes' audit rate and takedown
#: probability, a KYC mandate, and the filter recall of compliant nodes everywhere.
LEVERS = {
    "levers": [
        {
            "name": "audit_rate",
            "path": [f"jurisdictions.{j}.enforcement.audit_rate" for j in ("eu", "us")],
            "bounds": [0.0, 0.1],
        },
        {
            "name": "takedown_probability",
            "path": [f"jurisdictions.{j}.enforcement.takedown_probability" for j in ("eu", "us")],
            "bounds": [0.1, 0.9],
        },
        {
            "name": "kyc_mandate",
            "path": [f"jurisdictions.{j}.enforcement.kyc_mandate" for j in ("eu", "us")],
            "type": "bool",
        },
        {"name": "filter_recall", "path": "nodes.filter_recall", "bounds": [0.7, 0.99]},
    ]
}


def cases(quick: bool) -> list[tuple[str, float, Callable[[Path], Any]]]:
    """(name, target seconds, run into a folder) of every case."""
    steps = 3 if quick else None
    seeds = 2 if quick else 5
    channels = ["vpn", "retries"] if quick else None
    return [
        (
            "attribution classroom_demo, all applicable channels, 5 seeds",
            60.0,
            lambda out: attribute(
                "classroom_demo", out, channels=channels, seeds=seeds, steps=steps, workers=2
            ),
        ),
        (
            "attribution baseline, all applicable channels, 5 seeds",
            300.0,
            lambda out: attribute(
                "baseline", out, channels=channels, seeds=seeds, steps=steps, workers=2
            ),
        ),
        (
            "robustness of 3 policies, classroom_demo, 100 futures x 3 seeds",
            180.0,
            lambda out: robust(
                "classroom_demo",
                list(POLICIES),
                out,
                futures=3 if quick else 100,
                seeds=1 if quick else 3,
                steps=steps,
                workers=2,
            ),
        ),
        (
            "policy search of 4 levers, classroom_demo, 20 futures x 20 generations x 20",
            600.0,
            lambda out: optimize(
                "classroom_demo",
                LEVERS,
                out,
                futures=3 if quick else 20,
                generations=2 if quick else 20,
                population=4 if quick else 20,
                steps=steps,
                workers=2,
            ),
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    """Run every case, print the table, write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: check the harness")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON)
    parser.add_argument("--only", default="", help="run only the cases whose name has this")
    args = parser.parse_args(argv)
    rows = []
    for name, target, run in cases(args.quick):
        if args.only not in name:
            continue
        with tempfile.TemporaryDirectory() as folder:
            start = time.perf_counter()
            run(Path(folder) / "out")
            seconds = time.perf_counter() - start
        verdict = "PASS" if seconds < target else "MISS"
        rows.append(
            {"case": name, "seconds": round(seconds, 1), "target": target, "verdict": verdict}
        )
        print(f"{verdict}  {seconds:7.1f} s  (target < {target:.0f} s)  {name}", flush=True)
    record = {
        "date": datetime.now(UTC).isoformat(timespec="minutes"),
        "cores": os.cpu_count(),
        "quick": args.quick,
        "cases": rows,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
