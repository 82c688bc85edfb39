"""Timeline events: scheduled changes applied by the engine at the end of a step."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.engine.nodes import ACTIVE, EXITED, NodeTable
from sim.engine.requesters import apportion
from sim.scenario import (
    EnforcementChange,
    Event,
    HostingChange,
    ModelRelease,
    NodeShock,
    PolicyChange,
    TreatySigned,
)

if TYPE_CHECKING:
    from sim.engine.model import DiriskModel

__all__ = ["apply_event"]


def apply_event(model: DiriskModel, event: Event) -> None:
    """Apply one timeline event to the model and write it to the event log."""
    handler = _HANDLERS[type(event)]
    detail = handler(model, event)
    model.log_event(
        event.kind,
        jurisdiction=getattr(event, "jurisdiction", None) or "",
        detail="; ".join(x for x in (detail, event.note) if x),
    )


def _policy_change(model: DiriskModel, event: PolicyChange) -> str:
    jur = model.jurisdiction(event.jurisdiction)
    jur.prohibited |= set(event.prohibit)
    jur.prohibited -= set(event.allow)
    return f"prohibits {sorted(jur.prohibited)}"


def _enforcement_change(model: DiriskModel, event: EnforcementChange) -> str:
    jur = model.jurisdiction(event.jurisdiction)
    changes = event.changes.model_dump(exclude_none=True)
    jur.enforcement = jur.enforcement.model_copy(update=changes)
    return ", ".join(f"{k}={v}" for k, v in changes.items())


def _hosting_change(model: DiriskModel, event: HostingChange) -> str:
    model.hosting_cost[model.jurisdiction_index[event.jurisdiction]] = (
        event.hosting_cost_usd_per_day
    )
    return f"hosting costs {event.hosting_cost_usd_per_day:g} USD per node-day"


def _treaty_signed(model: DiriskModel, event: TreatySigned) -> str:
    model.sign_treaty(event.jurisdictions, name=event.name)
    return f"{event.name}: {', '.join(event.jurisdictions)}"


def _model_release(model: DiriskModel, event: ModelRelease) -> str:
    scope = (
        None
        if event.jurisdictions is None
        else np.array([model.jurisdiction_index[j] for j in event.jurisdictions])
    )
    index = model.model_names.index(event.model)
    model.release(index, innovation=event.innovation, imitation=event.imitation, scope=scope)
    nodes = model.node_table
    where = nodes.status == ACTIVE
    if scope is not None:
        where &= np.isin(nodes.jurisdiction, scope)
    candidates = np.flatnonzero(where)
    adopters = candidates[model.rng.random(candidates.size) < event.adoption_share]
    nodes.model[adopters] = index
    for variant in event.variants:
        model.schedule_release(
            model.step_index + variant.delay_steps,
            model.model_names.index(variant.model),
            innovation=event.innovation,
            imitation=event.imitation,
            scope=scope,
        )
    later = ", ".join(f"{v.model} after {v.delay_steps} days" for v in event.variants)
    return f"{event.model} adopted by {adopters.size} nodes" + (
        f"; variants: {later}" if later else ""
    )


def _node_shock(model: DiriskModel, event: NodeShock) -> str:
    nodes = model.node_table
    where = nodes.status == ACTIVE
    scope = np.arange(len(model.jurisdiction_names))
    if event.jurisdiction is not None:
        j = model.jurisdiction_index[event.jurisdiction]
        where &= nodes.jurisdiction == j
        scope = np.array([j])
    candidates = np.flatnonzero(where)
    n = event.count + int(round(event.fraction * candidates.size))
    if event.action == "remove":
        gone = model.rng.choice(candidates, size=min(n, candidates.size), replace=False)
        nodes.status[gone] = EXITED
        return f"{gone.size} nodes exited"
    shares = np.array(
        [model.scenario.jurisdictions[model.jurisdiction_names[j]].hosting_share for j in scope]
    )
    if shares.sum() == 0:
        shares = np.ones_like(shares)
    hosts = np.repeat(scope, apportion(n, shares))
    model.add_nodes(
        NodeTable.draw(model.scenario, model.rng, jurisdiction=hosts, born=model.step_index + 1)
    )
    return f"{hosts.size} nodes joined"


_HANDLERS = {
    PolicyChange: _policy_change,
    EnforcementChange: _enforcement_change,
    HostingChange: _hosting_change,
    TreatySigned: _treaty_signed,
    ModelRelease: _model_release,
    NodeShock: _node_shock,
}
