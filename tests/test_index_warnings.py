"""Sensitivity indices a reader should not trust are flagged in plain words."""

from __future__ import annotations

import pandas as pd

from sim.analysis.sensitivity import index_warnings


def sobol(s1: float, s1_conf: float, st: float, st_conf: float) -> pd.DataFrame:
    return pd.DataFrame(
        [{"outcome": "harm", "factor": "audit", "S1": s1, "S1_conf": s1_conf, "ST": st,
          "ST_conf": st_conf}]
    )  # fmt: skip


def test_sobol_indices_outside_zero_one_are_flagged():
    warnings = index_warnings(sobol(-0.047, 0.02, 1.159, 0.1))
    assert len(warnings) == 2
    assert "S1 = -0.047 is outside [0, 1]" in warnings[0]
    assert "ST = 1.16 is outside [0, 1]" in warnings[1]


def test_an_interval_wider_than_its_index_is_flagged():
    (warning,) = index_warnings(sobol(0.05, 0.12, 0.4, 0.05))
    assert warning.startswith("harm, audit: S1 = 0.05 ± 0.12: the interval is wider")


def test_well_estimated_indices_raise_no_warning():
    assert index_warnings(sobol(0.3, 0.05, 0.4, 0.05)) == []


def test_morris_effects_with_wide_intervals_are_flagged():
    table = pd.DataFrame(
        [{"outcome": "harm", "factor": "vpn", "mu": 0.1, "mu_star": 0.1, "mu_star_conf": 0.3,
          "sigma": 0.2},
         {"outcome": "harm", "factor": "audit", "mu": 0.1, "mu_star": 0.4, "mu_star_conf": 0.1,
          "sigma": 0.2}]
    )  # fmt: skip
    (warning,) = index_warnings(table)
    assert warning.startswith("harm, vpn: mu* = 0.1 ± 0.3")
