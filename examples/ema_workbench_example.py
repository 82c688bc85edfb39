"""dirisk as an EMA Workbench model: 8 Latin-hypercube experiments over compliance filter
recall, the share of compliant nodes and the seed, on a small classroom world for 10 days.

:func:`sim.interop.ema_model` turns dotted scenario paths into EMA parameters (named
``nodes_filter_recall`` etc.) and headline metrics into run-level outcomes (the mean over
days, as in ``dirisk sweep``); the seed is an integer uncertainty, so each experiment is
a different replication. The table printed is each experiment's inputs and outcomes.

Run it with ``python examples/ema_workbench_example.py`` (a few seconds; needs
``pip install 'dirisk[ema]'``).
"""

from __future__ import annotations

import pandas as pd
from ema_workbench import SequentialEvaluator, perform_experiments

from sim.interop import ema_model

SCENARIO = {"extends": "classroom_demo", "requesters": {"count": 500}, "nodes": {"count": 60}}


def main() -> None:
    """Run the experiments and print their inputs and outcomes, one row each."""
    model = ema_model(
        SCENARIO,
        uncertainties={
            "nodes.filter_recall": (0.0, 0.99),
            "jurisdictions.*.compliance_share": (0.5, 1.0),
            "seed": (0, 999),
        },
        outcomes=["policy_leakage", "malicious_success_share", "benign_over_refusal"],
        steps=10,
    )
    with SequentialEvaluator(model) as evaluator:
        experiments, outcomes = perform_experiments(model, 8, evaluator=evaluator)
    inputs = [u.name for u in model.uncertainties]
    table = pd.concat([experiments[inputs], pd.DataFrame(outcomes)], axis=1).round(3)
    print(table.to_string(index=False))


if __name__ == "__main__":
    main()
