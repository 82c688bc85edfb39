"""Shapley values and pairwise Shapley interaction indices of a cooperative game given
by the value of every coalition (exact), or by a value function (permutation sampling).

In attribution the players are channels of leakage and ``v(S)`` is an outcome of the run
with the channels in ``S`` on and all others switched off. The Shapley value of channel
``i`` is its marginal effect averaged over the orders in which channels could be
switched on::

    phi_i = sum over S ⊆ N − {i} of |S|! (n − |S| − 1)! / n! · (v(S ∪ {i}) − v(S))

and the values add up to ``v(N) − v(∅)`` exactly (efficiency). The interaction index of
``i`` and ``j`` (Grabisch and Roubens, 1999) averages ``v(S ∪ {i, j}) − v(S ∪ {i}) −
v(S ∪ {j}) + v(S)``: positive when the two channels leak more together than apart.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from math import factorial

import numpy as np

__all__ = ["Coalition", "coalitions", "interaction_indices", "sampled_shapley", "shapley_values"]

Coalition = frozenset[str]


def coalitions(players: Sequence[str]) -> list[Coalition]:
    """Every subset of ``players``, from the empty one to all of them."""
    return [
        frozenset(c)
        for size in range(len(players) + 1)
        for c in itertools.combinations(players, size)
    ]


def shapley_values(values: Mapping[Coalition, float], players: Sequence[str]) -> dict[str, float]:
    """Exact Shapley value of each player from the value of every coalition."""
    n = len(players)
    weight = [factorial(s) * factorial(n - s - 1) / factorial(n) for s in range(n)]
    out = {}
    for player in players:
        others = [p for p in players if p != player]
        out[player] = float(
            sum(weight[len(s)] * (values[s | {player}] - values[s]) for s in coalitions(others))
        )
    return out


def interaction_indices(
    values: Mapping[Coalition, float], players: Sequence[str]
) -> dict[tuple[str, str], float]:
    """Shapley interaction index of every pair of players (exact)."""
    n = len(players)
    weight = [factorial(s) * factorial(n - s - 2) / factorial(n - 1) for s in range(max(n - 1, 0))]
    out = {}
    for i, j in itertools.combinations(players, 2):
        others = [p for p in players if p not in (i, j)]
        out[(i, j)] = float(
            sum(
                weight[len(s)]
                * (values[s | {i, j}] - values[s | {i}] - values[s | {j}] + values[s])
                for s in coalitions(others)
            )
        )
    return out


def sampled_shapley(
    value: Callable[[Coalition], float],
    players: Sequence[str],
    permutations: int,
    rng: np.random.Generator,
) -> tuple[dict[str, float], dict[str, float]]:
    """Shapley values estimated from random orders of the players (for games too large to
    enumerate). Each order switches players on one by one; a player's marginal effect in
    each order is one sample of its value, so the estimates stay efficient order by order.

    Returns:
        The estimates and, per player, the standard error of its estimate over orders.
    """
    samples: dict[str, list[float]] = {p: [] for p in players}
    for _ in range(permutations):
        order = [players[k] for k in rng.permutation(len(players))]
        current: Coalition = frozenset()
        before = value(current)
        for player in order:
            current = current | {player}
            after = value(current)
            samples[player].append(after - before)
            before = after
    means = {p: float(np.mean(s)) for p, s in samples.items()}
    errors = {
        p: float(np.std(s, ddof=1) / np.sqrt(len(s))) if len(s) > 1 else float("nan")
        for p, s in samples.items()
    }
    return means, errors
