"""Shapley values and interaction indices: efficiency, symmetry, null players and the
closed forms of small games."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.analysis.shapley import coalitions, interaction_indices, sampled_shapley, shapley_values

PLAYERS = ["vpn", "permissive", "retries", "havens"]


def product_game(p: float = 0.3) -> dict[frozenset[str], float]:
    """Leakage = VPN share × permissive foreign share: zero unless both channels are on."""
    return {s: p if {"vpn", "permissive"} <= s else 0.0 for s in coalitions(PLAYERS)}


def test_both_factors_of_a_product_get_half_of_it_and_the_others_nothing():
    phi = shapley_values(product_game(0.3), PLAYERS)
    assert phi["vpn"] == pytest.approx(0.15) and phi["permissive"] == pytest.approx(0.15)
    assert phi["retries"] == 0 and phi["havens"] == 0


def test_the_product_game_is_pure_interaction():
    index = interaction_indices(product_game(0.3), PLAYERS)
    assert index[("vpn", "permissive")] == pytest.approx(0.3)
    assert all(v == 0 for pair, v in index.items() if pair != ("vpn", "permissive"))


def test_an_additive_game_gives_each_channel_its_own_effect():
    effect = {"vpn": 0.1, "permissive": 0.25, "retries": 0.05, "havens": 0.0}
    values = {s: sum(effect[p] for p in s) for s in coalitions(PLAYERS)}
    assert shapley_values(values, PLAYERS) == pytest.approx(effect)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-1, 1), min_size=16, max_size=16))
def test_values_add_up_to_all_on_minus_all_off(raw):
    values = dict(zip(coalitions(PLAYERS), raw, strict=True))
    phi = shapley_values(values, PLAYERS)
    everything, nothing = values[frozenset(PLAYERS)], values[frozenset()]
    assert sum(phi.values()) == pytest.approx(everything - nothing, abs=1e-12)


def test_symmetric_channels_get_equal_shares():
    rng = np.random.default_rng(3)
    base = {s: rng.random() for s in coalitions(["a", "b", "c"])}
    # b and c are exchangeable: a coalition's value depends on how many of them it holds.
    values = {}
    for s in coalitions(["a", "b", "c"]):
        twin = frozenset({"a"} & s) | frozenset(["b", "c"][: len(s & {"b", "c"})])
        values[s] = base[twin]
    phi = shapley_values(values, ["a", "b", "c"])
    assert phi["b"] == pytest.approx(phi["c"])


def test_sampled_values_are_efficient_and_converge_to_the_exact_ones():
    rng = np.random.default_rng(0)
    table = {s: rng.random() for s in coalitions(PLAYERS)}
    estimate, error = sampled_shapley(table.__getitem__, PLAYERS, 4000, rng)
    exact = shapley_values(table, PLAYERS)
    total = table[frozenset(PLAYERS)] - table[frozenset()]
    assert sum(estimate.values()) == pytest.approx(total)
    for player in PLAYERS:
        assert abs(estimate[player] - exact[player]) < 4 * error[player] + 1e-9


def test_coalitions_are_every_subset_once():
    found = coalitions(PLAYERS)
    assert len(found) == 2 ** len(PLAYERS) == len(set(found))
    assert all(
        frozenset(c) in found
        for r in range(len(PLAYERS) + 1)
        for c in itertools.combinations(PLAYERS, r)
    )
