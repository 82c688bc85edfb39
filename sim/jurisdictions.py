"""Jurisdictions: enforcement regimes as Mesa agents."""

from __future__ import annotations

import math

import mesa
import numpy as np

from sim.enforcement import Evidence, audit, fine_amounts
from sim.nodes import ACTIVE, TAKEN_DOWN
from sim.scenario import Enforcement, Jurisdiction as JurisdictionSpec


class Jurisdiction(mesa.Agent):
    """An enforcement regime: a content policy and the means to enforce it.

    Attributes:
        name: Scenario name of the jurisdiction.
        index: Its row in the model's arrays.
        prohibited: Categories its policy prohibits.
        enforcement: Its enforcement profile (changed by timeline events).
        last: This step's enforcement counters (audits, detections, fines, takedowns,
            spend).
    """

    def __init__(self, model: mesa.Model, name: str, index: int, spec: JurisdictionSpec) -> None:
        super().__init__(model)
        self.name = name
        self.index = index
        self.prohibited: set[str] = set(spec.prohibited)
        self.enforcement: Enforcement = spec.enforcement.model_copy()
        self.last = self._zero_counters()

    @staticmethod
    def _zero_counters() -> dict[str, float]:
        return dict(audits=0, violations_detected=0, fines_usd=0.0, takedowns=0,
                    enforcement_spend_usd=0.0)

    @property
    def max_audits(self) -> float:
        """Audits the budget pays for per day (inf without a budget or audit cost)."""
        e = self.enforcement
        if e.budget_usd_per_day is None or e.audit_cost_usd == 0:
            return math.inf
        return math.floor(e.budget_usd_per_day / e.audit_cost_usd)

    def enforce(self, evidence: Evidence) -> None:
        """Audit nodes in reach, fine detected violators, take down what it can.

        In reach: active nodes hosted here, and, with extraterritorial reach, foreign
        nodes that served its apparent residents this step. Domestic violators are taken
        down with the takedown probability; foreign ones only by a treaty partner that
        hosts them.
        """
        model = self.model
        nodes = model.node_table
        e = self.enforcement
        self.last = self._zero_counters()
        domestic = nodes.jurisdiction == self.index
        in_reach = domestic.copy()
        if e.extraterritorial:
            in_reach |= evidence.foreign_reach[self.index]
        candidates = np.flatnonzero(in_reach & (nodes.status == ACTIVE))
        violated = np.where(domestic[candidates], evidence.host_violations[candidates],
                            evidence.foreign_violations[self.index, candidates]) > 0
        audited, detected = audit(candidates, violated, audit_rate=e.audit_rate,
                                  detection_probability=e.detection_probability,
                                  max_audits=self.max_audits, rng=model.rng)
        fines = fine_amounts(nodes.annual_revenue(model.step_index, detected),
                             share=e.fine_share_of_annual_revenue, minimum=e.fine_min_usd)
        nodes.fine(detected, fines)
        hosts = nodes.jurisdiction[detected]
        can_take_down = (hosts == self.index) | np.array(
            [model.treaty_partners(self.index, int(h)) for h in hosts], dtype=bool)
        taken = detected[can_take_down & (model.rng.random(detected.size) < e.takedown_probability)]
        nodes.status[taken] = TAKEN_DOWN
        for node, fine in zip(detected.tolist(), fines.tolist(), strict=True):
            model.log_event("fine", jurisdiction=self.name, node_id=node,
                            detail=f"fined {fine:.2f} USD")
        for node in taken.tolist():
            model.log_event("takedown", jurisdiction=self.name, node_id=node,
                            detail=f"hosted in {model.jurisdiction_names[nodes.jurisdiction[node]]}")
        self.last = dict(audits=int(audited.size), violations_detected=int(detected.size),
                         fines_usd=float(fines.sum()), takedowns=int(taken.size),
                         enforcement_spend_usd=float(audited.size * e.audit_cost_usd))
