"""Signals jurisdictions react to, and the growth of treaties."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from sim.engine.kernels.serving import Demand, ServingResult
from sim.engine.nodes import ACTIVE

if TYPE_CHECKING:
    from sim.engine.model import DiriskModel

__all__ = ["PolicyMemory", "PolicySignals", "grow_treaties", "signals"]


@dataclass(frozen=True)
class PolicySignals:
    """What jurisdictions observe when they revise their rules (J jurisdictions)."""

    prohibited: np.ndarray  #: (J, C) bool, rules in force
    trade: np.ndarray  #: (J, J) moving average of requests served from origin to destination
    requester_share: np.ndarray  #: (J,) share of requesters resident
    harm_per_1000: np.ndarray  #: (J,) harm completed for residents per 1,000 residents a day
    hosting_loss: np.ndarray  #: (J,) share of initial nodes no longer active there
    diffusing: np.ndarray  #: category indices whose prohibition can diffuse


@dataclass
class PolicyMemory:
    """Moving averages of trade and harm that jurisdictions react to."""

    trade: np.ndarray  #: (J, J)
    harm: np.ndarray  #: (J,) harm completed for residents per day

    @classmethod
    def empty(cls, n_jur: int) -> PolicyMemory:
        """No observations yet."""
        return cls(trade=np.zeros((n_jur, n_jur)), harm=np.zeros(n_jur))

    def observe(self, model: DiriskModel, demand: Demand, outcome: ServingResult) -> None:
        """Add one step's served flows and harm to the moving averages."""
        n_jur = self.harm.size
        served = outcome.served
        residence = model.requesters.jurisdiction[demand.requester]
        host = model.node_table.jurisdiction[outcome.served_node]
        flows = np.bincount(residence[served] * n_jur + host, minlength=n_jur * n_jur)
        malicious = model.requesters.kind[demand.requester] == model.malicious_kind
        harm_done = served & malicious & model.harmful[demand.category]
        harm = np.bincount(residence[harm_done], minlength=n_jur)
        memory = model.scenario.policy_dynamics.signal_memory if model.step_index > 0 else 0.0
        self.trade = memory * self.trade + (1 - memory) * flows.reshape(n_jur, n_jur)
        self.harm = memory * self.harm + (1 - memory) * harm


def signals(model: DiriskModel) -> PolicySignals:
    """The signals of the current step."""
    spec = model.scenario.policy_dynamics
    residents = np.bincount(model.requesters.jurisdiction, minlength=len(model.jurisdiction_names))
    hosted = np.bincount(
        model.node_table.jurisdiction[model.node_table.status == ACTIVE], minlength=residents.size
    )
    diffusing = (
        model.harmful_categories if spec.diffusing_categories is None else spec.diffusing_categories
    )
    return PolicySignals(
        prohibited=model.prohibited.copy(),
        trade=model.policy_memory.trade,
        requester_share=np.array(
            [j.requester_share for j in model.scenario.jurisdictions.values()]
        ),
        harm_per_1000=1000 * model.policy_memory.harm / np.maximum(residents, 1),
        hosting_loss=np.where(
            model.initial_hosting > 0, 1 - hosted / np.maximum(model.initial_hosting, 1), 0.0
        ),
        diffusing=np.array([model.category_names.index(c) for c in diffusing], dtype=np.int64),
    )


def grow_treaties(model: DiriskModel) -> None:
    """Each treaty gains non-members with probability ``rate x`` their share of
    cross-border traffic with its members."""
    rate = model.scenario.policy_dynamics.treaty_growth_rate
    if rate == 0:
        return
    trade = model.policy_memory.trade
    names = model.jurisdiction_names
    edges = list(model.treaties.edges(data="treaties"))
    for treaty in sorted(set().union(*(t for _, _, t in edges))):
        members = sorted({n for a, b, t in edges if treaty in t for n in (a, b)}, key=names.index)
        inside = np.isin(names, members)
        for j in np.flatnonzero(~inside):
            both = trade[j] + trade[:, j]
            both[j] = 0.0
            share = both[inside].sum() / both.sum() if both.sum() > 0 else 0.0
            if model.rng.random() < rate * share:
                model.sign_treaty([*members, names[j]], name=treaty)
                members.append(names[j])
                model.log_event(
                    "treaty_joined",
                    jurisdiction=names[j],
                    detail=f"{treaty} (traffic share with members {share:.0%})",
                )
