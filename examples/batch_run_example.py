"""dirisk under Mesa's ``batch_run``: a 2 x 2 grid of compliance filter recall and the
share of compliant nodes, two seeds each, on a small classroom world for 10 days.

Each parameter is a dotted scenario path passed to :class:`sim.interop.BatchModel`;
``batch_run`` returns one row per (run, day) with that day's headline metrics. The table
printed is the mean over days and seeds of three of them.

Run it with ``python examples/batch_run_example.py`` (a few seconds).
"""

from __future__ import annotations

import pandas as pd
from mesa.batchrunner import batch_run

from sim.interop import BatchModel

PARAMETERS = {
    "scenario": "classroom_demo",
    "steps": 10,
    "requesters.count": 500,
    "nodes.count": 60,
    "nodes.filter_recall": [0.0, 0.99],
    "jurisdictions.*.compliance_share": [0.5, 1.0],
    # Mesa 3.3's batch_run passes no seed: replications are listed seeds.
    "seed": [1, 2],
}
LEVERS = ["nodes.filter_recall", "jurisdictions.*.compliance_share"]
SHOWN = ["policy_leakage", "malicious_success_share", "benign_over_refusal"]


def main() -> None:
    """Run the grid and print the mean of :data:`SHOWN` per setting of :data:`LEVERS`."""
    rows = batch_run(
        BatchModel,
        parameters=PARAMETERS,
        iterations=1,
        number_processes=1,
        data_collection_period=1,
        display_progress=False,
    )
    table = pd.DataFrame(rows).groupby(LEVERS)[SHOWN].mean().round(3)
    print(f"{len(rows)} rows (runs x days); mean over days and seeds:")
    print(table.to_string())


if __name__ == "__main__":
    main()
