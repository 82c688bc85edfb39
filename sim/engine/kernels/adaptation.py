"""Node adaptation kernels: expected profit of each option, and the choice among them.

An *option* is a (host jurisdiction, model kind, compliant) triple; exiting is one more
option worth zero. A node's expected daily profit under an option is computed from
market signals every node can see (the requests arriving per unit of routing weight in
each jurisdiction, by category) and the rules of the jurisdiction:

* arrivals ``a_c = w * q[m] * A[j, c]`` (``w``: the node's routing weight before model
  quality, ``q[m]``: the quality factor of model m),
* refusal ``r_c = 1 - (1 - R[m, c]) (1 - comply * F[j, c])``,
* served ``s = min(capacity, sum_c a_c (1 - r_c))``, revenue ``s * price`` (less the
  compliance cost share when compliant),
* violation probability ``v = 1 - exp(-sum_c a_c (1 - r_c) prohibited[j, c])``,
* expected fine ``audit * detection * v * fine`` and expected takedown loss
  ``audit * detection * v * takedown * horizon * max(0, revenue - cost)``,
* one-off relocation, licence (on arriving in a jurisdiction) and switch costs spread
  over the planning horizon.

Pure functions on arrays; :mod:`sim.engine.dynamics` applies the decisions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.common.units import DAYS_PER_YEAR

__all__ = [
    "Costs",
    "MarketSignals",
    "allowed_options",
    "current_option",
    "expected_profit",
    "fermi_copy",
    "logit_choice",
    "option_grid",
]


@dataclass(frozen=True)
class MarketSignals:
    """What a node can know about the market and the rules (J jurisdictions, M model
    kinds, C categories)."""

    arrivals: np.ndarray  #: (J, C) attempts per day per unit routing weight
    refusal: np.ndarray  #: (M, C) model refusal probabilities
    filters: np.ndarray  #: (J, C) compliance filter catch probabilities
    prohibited: np.ndarray  #: (J, C) bool
    hosting_cost: np.ndarray  #: (J,) USD per node-day
    licence_cost: np.ndarray  #: (J,) USD, one-off, to start operating in a jurisdiction
    audit_rate: np.ndarray  #: (J,)
    detection: np.ndarray  #: (J,)
    fine_share: np.ndarray  #: (J,) share of annual revenue
    fine_min: np.ndarray  #: (J,) USD
    takedown: np.ndarray  #: (J,)
    available: np.ndarray  #: (M,) bool, model kind can be served now
    quality_factor: np.ndarray  #: (M,) routing-weight factor of each model kind

    @property
    def shape(self) -> tuple[int, int]:
        """(J, M)."""
        return self.arrivals.shape[0], self.refusal.shape[0]


@dataclass(frozen=True)
class Costs:
    """Cost parameters of adaptation (from the scenario's ``adaptation`` block)."""

    compliance_cost_share: float
    relocation_cost: float
    switch_cost: float
    horizon: float


def option_grid(n_jur: int, n_models: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The (jurisdiction, model, compliant) of every option, each (J*M*2,)."""
    j, m, c = np.meshgrid(np.arange(n_jur), np.arange(n_models), [False, True], indexing="ij")
    return j.ravel(), m.ravel(), c.ravel()


def expected_profit(
    weight: np.ndarray,
    capacity: np.ndarray,
    price: np.ndarray,
    current: tuple[np.ndarray, np.ndarray, np.ndarray],
    market: MarketSignals,
    costs: Costs,
) -> np.ndarray:
    """Expected daily profit (USD) of every option for each node.

    Args:
        weight, capacity, price: (n,) routing weight before model quality, capacity
            (requests/day), USD/request.
        current: (n,) jurisdiction, model and compliance now (-1: a new entrant, who
            pays no switching costs).
        market: the market signals and rules.
        costs: adaptation cost parameters.

    Returns:
        (n, J*M*2) profits, options ordered as :func:`option_grid`.
    """
    n_jur, n_models = market.shape
    oj, om, oc = option_grid(n_jur, n_models)
    passing = (1 - market.refusal[om]) * (1 - oc[:, None] * market.filters[oj])  # (O, C)
    per_weight = market.arrivals[oj] * passing  # served per unit weight, by category
    weights = weight[:, None] * market.quality_factor[om][None, :]  # (n, O)
    served = np.minimum(capacity[:, None], weights * per_weight.sum(axis=1))
    revenue = served * price[:, None] * (1 - oc * costs.compliance_cost_share)
    banned = weights * (per_weight * market.prohibited[oj]).sum(axis=1)
    caught = market.audit_rate[oj] * market.detection[oj] * (1 - np.exp(-banned))
    fine = np.maximum(market.fine_min[oj], market.fine_share[oj] * revenue * DAYS_PER_YEAR)
    margin = revenue - market.hosting_cost[oj]
    profit = (
        margin
        - caught * fine
        - caught * market.takedown[oj] * costs.horizon * np.maximum(margin, 0)
    )
    cur_j, cur_m, _ = current
    moves = (cur_j[:, None] >= 0) & (oj[None, :] != cur_j[:, None])
    arrives = oj[None, :] != cur_j[:, None]  # relocating, or a new entrant
    switches = (cur_m[:, None] >= 0) & (om[None, :] != cur_m[:, None])
    one_off = (
        moves * costs.relocation_cost
        + switches * costs.switch_cost
        + arrives * market.licence_cost[oj][None, :]
    )
    profit -= one_off / costs.horizon
    return profit


def allowed_options(
    current: tuple[np.ndarray, np.ndarray, np.ndarray],
    market: MarketSignals,
    *,
    can_relocate: bool,
    can_switch_model: bool,
    can_comply: bool,
) -> np.ndarray:
    """(n, J*M*2) bool: options a node may choose (its current one always)."""
    n_jur, n_models = market.shape
    oj, om, oc = option_grid(n_jur, n_models)
    cur_j, cur_m, cur_c = current
    ok = np.broadcast_to(market.available[om], (cur_j.size, om.size)).copy()
    if not can_relocate:
        ok &= oj[None, :] == cur_j[:, None]
    if not can_switch_model:
        ok &= om[None, :] == cur_m[:, None]
    if not can_comply:
        ok &= oc[None, :] == cur_c[:, None]
    ok[np.arange(cur_j.size), current_option(current, n_models)] = True
    return ok


def current_option(current: tuple[np.ndarray, np.ndarray, np.ndarray], n_models: int) -> np.ndarray:
    """(n,) index of each node's current option in :func:`option_grid` order."""
    cur_j, cur_m, cur_c = current
    return (cur_j * n_models + cur_m) * 2 + cur_c.astype(np.int64)


def logit_choice(
    utility: np.ndarray, allowed: np.ndarray, rationality: float, rng: np.random.Generator
) -> np.ndarray:
    """Choose one option per row with probability proportional to
    ``exp(rationality * utility)`` among allowed options.

    ``rationality = inf`` picks the best allowed option (ties: the first). 0 picks
    uniformly among allowed options.
    """
    masked = np.where(allowed, utility, -np.inf)
    if np.isinf(rationality):
        return masked.argmax(axis=1)
    gap = np.where(allowed, utility - masked.max(axis=1, keepdims=True), 0.0)
    weights = np.where(allowed, np.exp(rationality * gap), 0.0)
    cum = np.cumsum(weights, axis=1)
    u = rng.random(utility.shape[0]) * cum[:, -1]
    return np.minimum((cum <= u[:, None]).sum(axis=1), utility.shape[1] - 1)


def fermi_copy(
    own: np.ndarray,
    other: np.ndarray,
    scale: np.ndarray,
    sensitivity: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Whether each node copies another: probability ``1 / (1 + exp(-s (other - own) /
    scale))`` (the Fermi imitation rule)."""
    gap = np.clip(sensitivity * (other - own) / scale, -50, 50)
    return rng.random(own.size) < 1.0 / (1.0 + np.exp(-gap))
