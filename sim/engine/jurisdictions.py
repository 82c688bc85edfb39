"""Jurisdictions: enforcement regimes as Mesa agents."""

from __future__ import annotations

import math

import mesa

from sim.engine.kernels.enforcement import Scope, audit, fine_amounts
from sim.engine.nodes import TAKEN_DOWN
from sim.engine.policy import PolicySignals
from sim.scenario import Enforcement, JurisdictionSpec

__all__ = ["ENFORCEMENT_COUNTERS", "Jurisdiction", "MIN_AUDIT_RATE"]

#: The enforcement counters of a step, in the order of ``model.enforcement_counts``.
ENFORCEMENT_COUNTERS = (
    "audits",
    "violations_detected",
    "fines_usd",
    "takedowns",
    "enforcement_spend_usd",
)

#: Audit rate a jurisdiction that audited nobody starts from when it tightens.
MIN_AUDIT_RATE = 0.001


class Jurisdiction(mesa.Agent):
    """An enforcement regime: a content policy and the means to enforce it.

    Attributes:
        name: Scenario name of the jurisdiction.
        index: Its row in the model's arrays.
        prohibited: Categories its policy prohibits.
        enforcement: Its enforcement profile (changed by timeline events).
    """

    def __init__(self, model: mesa.Model, name: str, index: int, spec: JurisdictionSpec) -> None:
        super().__init__(model)
        self.name = name
        self.index = index
        self.prohibited: set[str] = set(spec.prohibited)
        self.enforcement: Enforcement = spec.enforcement.model_copy()

    @property
    def last(self) -> dict[str, float]:
        """This step's enforcement counters (audits, detections, fines, takedowns, spend),
        a view of its row of ``model.enforcement_counts``."""
        return dict(
            zip(
                ENFORCEMENT_COUNTERS,
                self.model.enforcement_counts[self.index].tolist(),
                strict=True,
            )
        )

    @property
    def max_audits(self) -> float:
        """Audits the budget pays for per day (inf without a budget or audit cost)."""
        e = self.enforcement
        if e.budget_usd_per_day is None or e.audit_cost_usd == 0:
            return math.inf
        return math.floor(e.budget_usd_per_day / e.audit_cost_usd)

    def enforce(self, scope: Scope) -> None:
        """Audit the active nodes in reach
        (:func:`sim.engine.kernels.enforcement.audit_scope`), fine detected violators, take
        down what it can: domestic violators with the takedown probability, foreign ones
        only by a treaty partner that hosts them."""
        model = self.model
        nodes = model.node_table
        e = self.enforcement
        counters = model.enforcement_counts[self.index]  # zeroed by the model this step
        if e.audit_rate == 0 or self.max_audits == 0:  # nobody is audited: nothing to do
            return
        candidates = scope.in_reach[self.index].nonzero()[0]
        violated = scope.violated[self.index][candidates]
        audited, detected = audit(
            candidates,
            violated,
            audit_rate=e.audit_rate,
            detection_probability=e.detection_probability,
            max_audits=self.max_audits,
            rng=model.rng,
        )
        counters[0], counters[4] = audited.size, audited.size * e.audit_cost_usd  # audits, spend
        if detected.size == 0:  # no fines, no takedowns (and no draws for them)
            return
        fines = fine_amounts(
            nodes.annual_revenue(model.step_index, detected),
            share=e.fine_share_of_annual_revenue,
            minimum=e.fine_min_usd,
        )
        nodes.fine(detected, fines)
        hosts = nodes.jurisdiction[detected]
        can_take_down = (hosts == self.index) | model.partner_matrix()[self.index, hosts]
        taken = detected[can_take_down & (model.rng.random(detected.size) < e.takedown_probability)]
        nodes.status[taken] = TAKEN_DOWN
        scope.in_reach[:, taken] = False  # no longer active for the auditors after this one
        for node, fine in zip(detected.tolist(), fines.tolist(), strict=True):
            model.log_event(
                "fine", jurisdiction=self.name, node_id=node, detail=f"fined {fine:.2f} USD"
            )
        for node in taken.tolist():
            model.log_event(
                "takedown",
                jurisdiction=self.name,
                node_id=node,
                detail=f"hosted in {model.jurisdiction_names[nodes.jurisdiction[node]]}",
            )
        counters[1:4] = detected.size, fines.sum(), taken.size  # detected, fines, takedowns

    def revise_policy(self, signals: PolicySignals) -> None:
        """Adopt, tighten or relax rules, by the rules the scenario switches on.

        * Brussels effect: each diffusing category it does not prohibit is adopted with
          probability ``rate x (w x treaty-partner share + (1 - w) x trade share)`` of
          adopters (partners weighted by their requester share).
        * Harm: above the threshold of harm completed for residents, audits tighten by
          the factor and every harmful category is prohibited.
        * Competition: having lost more than the threshold share of its initial nodes,
          it relaxes audits by the factor.
        """
        model, spec = self.model, self.model.scenario.policy_dynamics
        j = self.index
        rng = model.rng
        adopters = signals.prohibited
        partners = model.partner_matrix()[j]
        weight = signals.requester_share * partners
        trade = signals.trade[j] + signals.trade[:, j]
        trade[j] = 0.0
        for c in signals.diffusing:
            name = model.category_names[c]
            if name in self.prohibited:
                continue
            treaty_term = weight @ adopters[:, c] / weight.sum() if weight.sum() > 0 else 0.0
            trade_term = trade @ adopters[:, c] / trade.sum() if trade.sum() > 0 else 0.0
            p = spec.diffusion_rate * (
                spec.treaty_weight * treaty_term + (1 - spec.treaty_weight) * trade_term
            )
            if rng.random() < p:
                self.prohibited.add(name)
                model.log_event(
                    "policy_adoption",
                    jurisdiction=self.name,
                    detail=f"prohibits {name} (adoption probability {p:.2f})",
                )
        e = self.enforcement
        if (
            spec.harm_threshold_per_1000 is not None
            and signals.harm_per_1000[j] > spec.harm_threshold_per_1000
        ):
            self.prohibited |= set(model.harmful_categories)
            self.enforcement = e.model_copy(
                update={
                    "audit_rate": min(1.0, max(e.audit_rate, MIN_AUDIT_RATE) * spec.tighten_factor)
                }
            )
            model.log_event(
                "policy_tightened",
                jurisdiction=self.name,
                detail=f"harm {signals.harm_per_1000[j]:.2f} per 1,000 residents a day; "
                f"audit rate {self.enforcement.audit_rate:.4f}",
            )
        elif (
            spec.hosting_loss_threshold is not None
            and signals.hosting_loss[j] > spec.hosting_loss_threshold
            and e.audit_rate > 0
        ):
            self.enforcement = e.model_copy(update={"audit_rate": e.audit_rate / spec.relax_factor})
            model.log_event(
                "policy_relaxed",
                jurisdiction=self.name,
                detail=f"lost {signals.hosting_loss[j]:.0%} of its nodes; "
                f"audit rate {self.enforcement.audit_rate:.4f}",
            )
