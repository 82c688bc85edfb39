"""Headline metrics by residence: the residents of the jurisdictions together make the
whole population, so counts add up to the run's and ratios are their residents' own."""

from __future__ import annotations

import numpy as np
import pytest

from sim.results.runner import build_model, simulate

COUNTS = ("requests_emitted", "requests_served", "harmful_requests", "harmful_completed",
          "prohibited_requests", "prohibited_served")  # fmt: skip


@pytest.fixture(scope="module")
def model():
    built = build_model("classroom_demo", seed=2, steps=25)
    simulate(built)
    return built


def test_resident_counts_add_up_to_the_whole_run(model):
    whole = model.recorder.headline()
    parts = model.recorder.headline_by_residence()
    assert list(parts) == model.jurisdiction_names
    for column in COUNTS:
        total = sum(part[column].to_numpy() for part in parts.values())
        np.testing.assert_array_equal(total, whole[column].to_numpy())


def test_resident_leakage_is_the_ratio_of_residents_counts(model):
    for part in model.recorder.headline_by_residence().values():
        defined = part["prohibited_requests"] > 0
        expected = part["prohibited_served"][defined] / part["prohibited_requests"][defined]
        np.testing.assert_allclose(part["policy_leakage"][defined], expected)
        assert part.loc[~defined, "policy_leakage"].isna().all()


def test_market_columns_are_the_whole_markets(model):
    whole = model.recorder.headline()
    for part in model.recorder.headline_by_residence().values():
        np.testing.assert_array_equal(part["active_nodes"], whole["active_nodes"])
        np.testing.assert_array_equal(part["takedowns"], whole["takedowns"])
