"""Node dynamics: revision (comply, defy, relocate, switch, exit), entry, moves, diffusion.

The model calls :func:`adapt` once per step, after enforcement. Decisions are made
with the kernels of :mod:`sim.engine.kernels.adaptation` on all revising nodes at once and written
to the event log.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from sim.engine.kernels.adaptation import (
    Costs,
    MarketSignals,
    allowed_options,
    current_option,
    expected_profit,
    fermi_copy,
    logit_choice,
    option_grid,
)
from sim.engine.kernels.routing import price_weight
from sim.engine.nodes import ACTIVE, EXITED, RELOCATING, NodeTable

if TYPE_CHECKING:
    from sim.engine.model import DiriskModel

__all__ = [
    "Diffusion",
    "adapt",
    "apply_choices",
    "costs",
    "diffuse",
    "enter",
    "imitate",
    "market_signals",
    "node_weights",
    "revise",
]


@dataclass
class Diffusion:
    """A released model kind spreading over the node network (Bass process)."""

    model: int  #: model kind index
    innovation: float
    imitation: float
    scope: np.ndarray | None  #: jurisdictions where nodes may adopt (None: all)


def costs(model: DiriskModel) -> Costs:
    """Adaptation cost parameters of the scenario."""
    a = model.scenario.adaptation
    return Costs(
        compliance_cost_share=a.compliance_cost_share,
        relocation_cost=a.relocation_cost_usd,
        switch_cost=a.switch_cost_usd,
        horizon=a.planning_horizon_days,
    )


def market_signals(model: DiriskModel) -> MarketSignals:
    """What nodes know: arrivals per unit routing weight by host and category (moving
    average), the rules in force and the model kinds available."""
    enf = [a.enforcement for a in model.jurisdiction_list]
    return MarketSignals(
        arrivals=model.market.arrivals,
        refusal=model.refusal,
        filters=model.market.filter_matrix(),
        prohibited=model.prohibited,
        hosting_cost=model.hosting_cost,
        licence_cost=model.licence_cost,
        audit_rate=np.array([e.audit_rate for e in enf]),
        detection=np.array([e.detection_probability for e in enf]),
        fine_share=np.array([e.fine_share_of_annual_revenue for e in enf]),
        fine_min=np.array([e.fine_min_usd for e in enf]),
        takedown=np.array([e.takedown_probability for e in enf]),
        available=model.available,
        quality_factor=model.quality_factor,
    )


def node_weights(model: DiriskModel, index: np.ndarray) -> np.ndarray:
    """Routing weight nodes ``index`` would have if active, before model quality."""
    nodes = model.node_table
    return price_weight(
        nodes.capacity[index], nodes.price[index], model.scenario.market.price_elasticity
    )


def adapt(model: DiriskModel) -> None:
    """One step of node dynamics: moves complete, models diffuse, nodes revise (every
    ``adaptation.every_steps`` days) and new nodes enter (every day)."""
    nodes = model.node_table
    arrived = np.flatnonzero(
        (nodes.status == RELOCATING) & (nodes.moving_until <= model.step_index + 1)
    )
    nodes.status[arrived] = ACTIVE
    nodes.moving_until[arrived] = -1
    diffuse(model)
    spec = model.scenario.adaptation
    if not spec.enabled:
        return
    if (model.step_index + 1) % spec.every_steps == 0:
        revise(model)
    enter(model)


def revise(model: DiriskModel) -> None:
    """A random share of active nodes reconsider host, model and compliance, or exit."""
    spec = model.scenario.adaptation
    nodes, rng = model.node_table, model.rng
    active = np.flatnonzero(nodes.status == ACTIVE)
    who = active[rng.random(active.size) < spec.revision_rate]
    if who.size == 0:
        return
    market = market_signals(model)
    current = (nodes.jurisdiction[who], nodes.model[who], nodes.compliant[who])
    n_models = len(model.model_names)
    choice = current_option(current, n_models)
    scale = np.maximum(nodes.capacity[who] * nodes.price[who], 1e-12)  # full-load revenue
    use_logit = np.ones(who.size, dtype=bool)
    if spec.rule == "imitation":
        use_logit[:] = False
    elif spec.rule == "mix":
        use_logit = rng.random(who.size) >= spec.imitation_weight
    allowed = allowed_options(
        current,
        market,
        can_relocate=spec.can_relocate,
        can_switch_model=spec.can_switch_model,
        can_comply=spec.can_comply,
    )
    exit_option = allowed.shape[1]
    if use_logit.any():
        lw = who[use_logit]
        profit = expected_profit(
            node_weights(model, lw),
            nodes.capacity[lw],
            nodes.price[lw],
            tuple(c[use_logit] for c in current),
            market,
            costs(model),
        )
        utility = np.column_stack([profit, np.zeros(lw.size)]) / scale[use_logit, None]
        ok = np.column_stack([allowed[use_logit], np.full(lw.size, spec.can_exit)])
        choice[use_logit] = logit_choice(utility, ok, spec.rationality, rng)
    if (~use_logit).any():
        choice[~use_logit] = imitate(
            model, who[~use_logit], allowed[~use_logit], choice[~use_logit], scale[~use_logit]
        )
    apply_choices(model, who, choice, exit_option)


def imitate(
    model: DiriskModel, who: np.ndarray, allowed: np.ndarray, choice: np.ndarray, scale: np.ndarray
) -> np.ndarray:
    """Copy a random network neighbour's (host, model, compliance) if it is better off,
    with the Fermi-rule probability; only allowed options are copied."""
    nodes, rng = model.node_table, model.rng
    spec = model.scenario.adaptation
    peer = model.adjacency.random_neighbour(who, rng)
    valid = peer >= 0
    valid[valid] &= nodes.status[peer[valid]] == ACTIVE
    out = choice.copy()
    if not valid.any():
        return out
    w, p = who[valid], peer[valid]
    better = nodes.profit_ema[p] > nodes.profit_ema[w]
    copy = better & fermi_copy(
        nodes.profit_ema[w], nodes.profit_ema[p], scale[valid], spec.imitation_sensitivity, rng
    )
    target = current_option(
        (nodes.jurisdiction[p], nodes.model[p], nodes.compliant[p]), len(model.model_names)
    )
    copy &= allowed[np.flatnonzero(valid), target]
    idx = np.flatnonzero(valid)[copy]
    out[idx] = target[copy]
    return out


def apply_choices(
    model: DiriskModel, who: np.ndarray, choice: np.ndarray, exit_option: int
) -> None:
    """Carry out chosen options: exit, relocate (offline for the delay), switch model,
    comply or defy; log each change."""
    nodes = model.node_table
    spec = model.scenario.adaptation
    oj, om, oc = option_grid(len(model.jurisdiction_names), len(model.model_names))
    leaving = choice == exit_option
    for node in who[leaving].tolist():
        model.log_event(
            "exit",
            jurisdiction=model.jurisdiction_names[nodes.jurisdiction[node]],
            node_id=node,
            detail="expected profit below zero",
        )
    nodes.status[who[leaving]] = EXITED
    stay, opt = who[~leaving], choice[~leaving]
    new_j, new_m, new_c = oj[opt], om[opt], oc[opt]
    for node, j, m, c in zip(
        stay.tolist(), new_j.tolist(), new_m.tolist(), new_c.tolist(), strict=True
    ):
        old_j = int(nodes.jurisdiction[node])
        here = model.jurisdiction_names[old_j]
        if j != old_j:
            model.log_event(
                "relocation",
                jurisdiction=here,
                node_id=node,
                detail=f"to {model.jurisdiction_names[j]}",
            )
            nodes.costs_step[node] += spec.relocation_cost_usd + model.licence_cost[j]
            nodes.status[node] = RELOCATING
            nodes.moving_until[node] = model.step_index + 1 + spec.relocation_delay_steps
        if m != nodes.model[node]:
            model.log_event(
                "model_switch",
                jurisdiction=here,
                node_id=node,
                detail=f"{model.model_names[nodes.model[node]]} to {model.model_names[m]}",
            )
            nodes.costs_step[node] += spec.switch_cost_usd
        if c != nodes.compliant[node]:
            model.log_event("comply" if c else "defy", jurisdiction=here, node_id=node)
    nodes.jurisdiction[stay], nodes.model[stay], nodes.compliant[stay] = new_j, new_m, new_c
    if spec.relocation_delay_steps == 0:
        moved = stay[nodes.status[stay] == RELOCATING]
        nodes.status[moved] = ACTIVE
        nodes.moving_until[moved] = -1


def enter(model: DiriskModel) -> None:
    """New nodes join where profit is attractive: Poisson(entry_rate x active x mean
    margin) entrants, each choosing host, model and compliance by logit."""
    spec = model.scenario.adaptation
    nodes, rng = model.node_table, model.rng
    active = nodes.status == ACTIVE
    revenue = nodes.revenue_step[active].sum()
    if spec.entry_rate == 0 or revenue <= 0:
        return
    margin = max(0.0, float(nodes.profit_ema[active].sum() / revenue))
    n_new = int(rng.poisson(spec.entry_rate * active.sum() * margin))
    if n_new == 0:
        return
    new = NodeTable.draw(
        model.scenario, rng, jurisdiction=np.zeros(n_new, dtype=np.int64), born=model.step_index + 1
    )
    market = market_signals(model)
    none = np.full(n_new, -1, dtype=np.int64)
    weight = price_weight(new.capacity, new.price, model.scenario.market.price_elasticity)
    profit = expected_profit(
        weight, new.capacity, new.price, (none, none, none), market, costs(model)
    )
    oj, om, oc = option_grid(*market.shape)
    ok = np.broadcast_to(market.available[om], profit.shape)
    choice = logit_choice(
        profit / np.maximum(new.capacity * new.price, 1e-12)[:, None], ok, spec.rationality, rng
    )
    new.jurisdiction, new.model, new.compliant = oj[choice], om[choice], oc[choice]
    new.costs_step = model.licence_cost[new.jurisdiction].astype(float)
    first = nodes.size
    model.add_nodes(new)
    for node in range(first, first + n_new):
        model.log_event(
            "entry",
            jurisdiction=model.jurisdiction_names[nodes.jurisdiction[node]],
            node_id=node,
            detail=model.model_names[nodes.model[node]],
        )


def diffuse(model: DiriskModel) -> None:
    """Each diffusing model kind: active non-adopters adopt with probability
    ``innovation + imitation x share of neighbours serving it`` (Bass on a network)."""
    nodes, rng = model.node_table, model.rng
    for spread in model.diffusions:
        if spread.innovation == 0 and spread.imitation == 0:
            continue
        serving = (nodes.model == spread.model) & (nodes.status == ACTIVE)
        candidates = (nodes.status == ACTIVE) & ~serving
        if spread.scope is not None:
            candidates &= np.isin(nodes.jurisdiction, spread.scope)
        p = spread.innovation + spread.imitation * model.adjacency.neighbour_mean(serving)
        adopters = np.flatnonzero(candidates & (rng.random(nodes.size) < np.minimum(p, 1.0)))
        nodes.model[adopters] = spread.model
        if adopters.size:
            model.log_event(
                "adoption", detail=f"{adopters.size} nodes adopt {model.model_names[spread.model]}"
            )
