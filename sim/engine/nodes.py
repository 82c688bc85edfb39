"""Compute nodes: their state as arrays (for the kernels) and as Mesa agents (to inspect)."""

from __future__ import annotations

from dataclasses import dataclass, fields

import mesa
import numpy as np

from sim.common.units import DAYS_PER_YEAR
from sim.engine.requesters import apportion
from sim.scenario import Scenario

__all__ = ["ACTIVE", "EXITED", "Node", "NodeTable", "RELOCATING", "STATUS_NAMES", "TAKEN_DOWN"]

ACTIVE, TAKEN_DOWN, EXITED, RELOCATING = 0, 1, 2, 3
STATUS_NAMES = {
    ACTIVE: "active",
    TAKEN_DOWN: "taken_down",
    EXITED: "exited",
    RELOCATING: "relocating",
}


@dataclass
class NodeTable:
    """State of every node (length N each). Index = node id."""

    jurisdiction: np.ndarray  #: int, host jurisdiction
    model: np.ndarray  #: int, model kind served
    capacity: np.ndarray  #: int, requests per day
    price: np.ndarray  #: USD per request
    compliant: np.ndarray  #: bool, runs its host's filter and KYC
    status: np.ndarray  #: int8, ACTIVE / TAKEN_DOWN / EXITED / RELOCATING
    born: np.ndarray  #: int, step the node joined (-1: present at start)
    served_total: np.ndarray  #: requests served since joining
    revenue_total: np.ndarray  #: USD earned since joining
    fines_total: np.ndarray  #: USD fined since joining
    served_step: np.ndarray  #: requests served this step
    revenue_step: np.ndarray  #: USD earned this step
    fines_step: np.ndarray  #: USD fined this step
    costs_step: np.ndarray  #: USD of one-off costs (moves, switches) this step
    profit_ema: np.ndarray  #: moving average of daily profit, USD
    moving_until: np.ndarray  #: step a relocating node comes back online (-1: not moving)

    @property
    def size(self) -> int:
        """Number of nodes ever created."""
        return int(self.jurisdiction.size)

    @property
    def active(self) -> np.ndarray:
        """(N,) bool, node can receive requests."""
        return self.status == ACTIVE

    @classmethod
    def draw(
        cls,
        scenario: Scenario,
        rng: np.random.Generator,
        *,
        jurisdiction: np.ndarray,
        born: int = -1,
    ) -> NodeTable:
        """New nodes hosted in the given jurisdictions, with model, capacity, price and
        compliance drawn from the scenario."""
        spec = scenario.nodes
        jurs = list(scenario.jurisdictions.values())
        model_names = list(scenario.models)
        n = jurisdiction.size
        model = np.empty(n, dtype=np.int64)
        compliant = np.empty(n, dtype=bool)
        for j, jur in enumerate(jurs):
            mine = np.flatnonzero(jurisdiction == j)
            if mine.size == 0:
                continue
            mix = np.array([jur.model_mix.get(m, 0.0) for m in model_names])
            model[mine] = rng.choice(len(model_names), size=mine.size, p=mix / mix.sum())
            compliant[mine] = rng.random(mine.size) < jur.compliance_share
        capacity = np.maximum(
            1, np.rint(spec.capacity_per_day * rng.lognormal(0.0, spec.capacity_dispersion, n))
        )
        price = spec.price_usd_per_request * rng.lognormal(0.0, spec.price_dispersion, n)
        return cls(
            jurisdiction=jurisdiction.astype(np.int64),
            model=model,
            capacity=capacity.astype(np.int64),
            price=price,
            compliant=compliant,
            status=np.full(n, ACTIVE, dtype=np.int8),
            born=np.full(n, born, dtype=np.int64),
            served_total=np.zeros(n, dtype=np.int64),
            revenue_total=np.zeros(n),
            fines_total=np.zeros(n),
            served_step=np.zeros(n, dtype=np.int64),
            revenue_step=np.zeros(n),
            fines_step=np.zeros(n),
            costs_step=np.zeros(n),
            profit_ema=np.zeros(n),
            moving_until=np.full(n, -1, dtype=np.int64),
        )

    @classmethod
    def create(cls, scenario: Scenario, rng: np.random.Generator) -> NodeTable:
        """The market at the start: node counts per jurisdiction apportioned exactly by
        hosting share."""
        shares = np.array([j.hosting_share for j in scenario.jurisdictions.values()])
        per_jur = apportion(scenario.nodes.count, shares)
        return cls.draw(scenario, rng, jurisdiction=np.repeat(np.arange(shares.size), per_jur))

    def extend(self, other: NodeTable) -> None:
        """Append new nodes (their ids continue from the current size)."""
        for f in fields(self):
            setattr(self, f.name, np.concatenate([getattr(self, f.name), getattr(other, f.name)]))

    def annual_revenue(self, step: int, index: np.ndarray) -> np.ndarray:
        """Mean daily revenue since joining of nodes ``index`` at (0-based) ``step``,
        annualised (USD per year)."""
        age = np.maximum(1, step + 1 - np.maximum(self.born[index], 0))
        return self.revenue_total[index] / age * DAYS_PER_YEAR

    def book(self, served: np.ndarray, step: int) -> np.ndarray:
        """Start a step's accounts: add served counts per node, reset fines and one-off
        costs (keeping those of nodes joining today, charged when they entered);
        return the step's revenue per node (USD)."""
        revenue = served * self.price
        self.served_total += served
        self.revenue_total += revenue
        self.served_step = served
        self.revenue_step = revenue
        self.fines_step = np.zeros(self.size)
        self.costs_step = np.where(self.born == step, self.costs_step, 0.0)
        return revenue

    def pay(self, amount: np.ndarray) -> None:
        """Add payments other than fees (protocol emissions, USD) to revenue."""
        self.revenue_step = self.revenue_step + amount
        self.revenue_total += amount

    @property
    def running(self) -> np.ndarray:
        """(N,) bool: active or relocating (paying for hosting)."""
        return (self.status == ACTIVE) | (self.status == RELOCATING)

    def profit_step(
        self, hosting_cost: np.ndarray, compliance_cost_share: float, running: np.ndarray, step: int
    ) -> np.ndarray:
        """(N,) this step's profit in USD: revenue less hosting, compliance cost, fines and
        one-off costs, for nodes that were running at the start of ``step`` (nodes that
        joined during it start tomorrow: zero)."""
        profit = (
            self.revenue_step * (1 - self.compliant * compliance_cost_share)
            - hosting_cost[self.jurisdiction]
            - self.fines_step
            - self.costs_step
        )
        if running.size < self.size:  # nodes that joined during the step
            running = np.pad(running, (0, self.size - running.size))
        ran = running & (self.born <= step)
        return np.where(ran, profit, 0.0)

    def fine(self, index: np.ndarray, amount: np.ndarray) -> None:
        """Charge fines (USD) to nodes ``index``."""
        np.add.at(self.fines_total, index, amount)
        np.add.at(self.fines_step, index, amount)


class Node(mesa.Agent):
    """A compute node (miner / provider), a view onto one row of the model's NodeTable.

    The state lives in arrays so the kernels can read it in bulk; the decisions of all
    revising nodes (comply, relocate, switch model, exit) are made together by
    :mod:`sim.engine.dynamics` on those arrays.
    """

    def __init__(self, model: mesa.Model, index: int) -> None:
        super().__init__(model)
        self.index = index

    @property
    def _table(self) -> NodeTable:
        return self.model.node_table

    @property
    def jurisdiction(self) -> str:
        """Name of the host jurisdiction."""
        return self.model.jurisdiction_names[self._table.jurisdiction[self.index]]

    @property
    def model_kind(self) -> str:
        """Name of the model kind served."""
        return self.model.model_names[self._table.model[self.index]]

    @property
    def status(self) -> str:
        """active, taken_down, exited or relocating."""
        return STATUS_NAMES[int(self._table.status[self.index])]

    @property
    def compliant(self) -> bool:
        """Whether it runs its host's compliance filter and KYC gate."""
        return bool(self._table.compliant[self.index])

    @property
    def capacity(self) -> int:
        """Requests per day."""
        return int(self._table.capacity[self.index])

    @property
    def price(self) -> float:
        """USD per request."""
        return float(self._table.price[self.index])

    @property
    def revenue(self) -> float:
        """USD earned since joining."""
        return float(self._table.revenue_total[self.index])

    @property
    def fines(self) -> float:
        """USD fined since joining."""
        return float(self._table.fines_total[self.index])

    def __repr__(self) -> str:
        return (
            f"Node({self.index}, {self.jurisdiction}, {self.model_kind}, {self.status}, "
            f"compliant={self.compliant})"
        )
