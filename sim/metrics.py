"""Recording: per-step counts gathered with ``bincount`` and turned into tidy tables.

Each step adds a few small arrays (cubes indexed by jurisdiction, requester kind,
category, model kind); the pandas tables are built once, at the end of the run. The
headline ``metrics`` table is derived from the others, so every headline number can be
recomputed by an analyst from the detailed tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from sim.nodes import ACTIVE, EXITED, RELOCATING, STATUS_NAMES, TAKEN_DOWN
from sim.scenario import REQUESTER_KINDS
from sim.serving import DROPPED, REFUSED, SERVED, Demand, Outcome

if TYPE_CHECKING:
    from sim.model import DiriskModel

HHI_SCALE = 10_000.0


def hhi(volume: np.ndarray) -> float:
    """Herfindahl-Hirschman index of market shares, on the 0-10,000 scale (0 if empty)."""
    total = volume.sum()
    if total <= 0:
        return 0.0
    share = volume / total
    return float(HHI_SCALE * np.dot(share, share))


def _ratio(num: pd.Series, den: pd.Series) -> pd.Series:
    """num / den, NaN where den is 0 (undefined, not zero)."""
    return num / den.where(den > 0)


@dataclass
class Recorder:
    """Collects one run's per-step arrays and builds its tables."""

    model: DiriskModel
    _requests: list[np.ndarray] = field(default_factory=list)
    _prohibited: list[np.ndarray] = field(default_factory=list)
    _actors: list[np.ndarray] = field(default_factory=list)
    _flows: list[np.ndarray] = field(default_factory=list)
    _nodes: list[np.ndarray] = field(default_factory=list)
    _jurisdictions: list[np.ndarray] = field(default_factory=list)
    _policies: list[list[str]] = field(default_factory=list)
    _global: list[dict[str, float]] = field(default_factory=list)
    _snapshots: list[pd.DataFrame] = field(default_factory=list)

    REQUEST_COLUMNS = ("emitted", "served", "refused", "dropped", "attempts",
                       "attempts_on_served", "served_foreign", "served_permissive")
    ACTOR_COLUMNS = ("requesters", "requesting", "served_any", "seeking_harm", "harm_completed",
                     "knowing_a_node")
    NODE_COLUMNS = ("nodes_active", "nodes_compliant", "nodes_taken_down", "nodes_exited",
                    "nodes_relocating", "capacity", "served", "revenue_usd", "fines_usd",
                    "profit_usd")
    JURISDICTION_COLUMNS = ("audits", "violations_detected", "fines_usd", "takedowns",
                            "enforcement_spend_usd", "prohibited_categories", "treaty_partners")

    def record(self, demand: Demand, outcome: Outcome) -> None:
        """Add one step's counts."""
        m = self.model
        req, nodes = m.requesters, m.node_table
        n_j, n_k, n_c = len(m.jurisdiction_names), len(REQUESTER_KINDS), len(m.category_names)
        n_m = len(m.model_names)
        who = demand.requester
        cell = demand.block * n_c + demand.category  # (residence, kind, category)
        size = n_j * n_k * n_c
        # Status and attempts by cell in one pass: key = (cell, attempts, status).
        top = int(outcome.attempts.max(initial=0)) + 1
        key = (cell * top + outcome.attempts) * 4 + outcome.status
        counts = np.bincount(key, minlength=size * top * 4).reshape(size, top, 4)
        tries = np.arange(top)
        by_status = counts.sum(axis=1)
        # Served requests by (block, host, permissive model, category) in one pass.
        served = np.flatnonzero(outcome.status == SERVED)
        node_code = nodes.jurisdiction * 2 + m.permissive[nodes.model]
        key = ((demand.block[served] * (n_j * 2) + node_code[outcome.node[served]]) * n_c
               + demand.category[served])
        cube = np.bincount(key, minlength=n_j * n_k * n_j * 2 * n_c).reshape(
            n_j, n_k, n_j, 2, n_c)
        by_host = cube.sum(axis=3)  # (residence, kind, host, category)
        home = np.eye(n_j, dtype=bool)[:, None, :, None]
        self._requests.append(np.column_stack([
            by_status.sum(axis=1),
            by_status[:, SERVED], by_status[:, REFUSED], by_status[:, DROPPED],
            counts.sum(axis=2) @ tries,
            counts[:, :, SERVED] @ tries,
            np.where(home, 0, by_host).sum(axis=2).ravel(),
            cube[:, :, :, 1, :].sum(axis=2).ravel(),
        ]))
        self._prohibited.append(m.prohibited.copy())
        self._flows.append(by_host.sum(axis=1).ravel())  # (origin, destination, category)

        harmful = m.harmful[demand.category]
        self._actors.append(np.column_stack([
            req.block_sizes,
            req.block_count(who), req.block_count(who[served]),
            req.block_count(who[harmful]), req.block_count(who[served[harmful[served]]]),
            req.block_count(np.flatnonzero(req.known >= 0)),
        ]))

        node_cell = nodes.jurisdiction * n_m + nodes.model
        active = nodes.status == ACTIVE

        def per_model_kind(weights: np.ndarray) -> np.ndarray:
            return np.bincount(node_cell, weights=weights, minlength=n_j * n_m)

        self._nodes.append(np.column_stack([
            per_model_kind(active), per_model_kind(active & nodes.compliant),
            per_model_kind(nodes.status == TAKEN_DOWN), per_model_kind(nodes.status == EXITED),
            per_model_kind(nodes.status == RELOCATING),
            per_model_kind(np.where(active, nodes.capacity, 0)),
            per_model_kind(nodes.served_step), per_model_kind(nodes.revenue_step),
            per_model_kind(nodes.fines_step), per_model_kind(m.profit),
        ]))
        self._jurisdictions.append(np.array([
            [a.last[c] for c in self.JURISDICTION_COLUMNS[:5]]
            + [int(m.prohibited[a.index].sum()), m.treaties.degree(a.name)]
            for a in m.jurisdiction_agents]))
        self._policies.append([",".join(np.asarray(m.category_names)[row]) for row in m.prohibited])
        validators = m.validators
        self._global.append({
            "hhi_nodes": hhi(nodes.served_step),
            "hhi_jurisdictions": hhi(by_host.sum(axis=(0, 1, 3)).astype(float)),
            "kyc_blocked": outcome.kyc_blocked,
            "probes": validators.probes if validators is not None else 0,
            "probes_caught": validators.probes_caught if validators is not None else 0,
            "treaty_links": m.treaties.number_of_edges(),
        })
        every = m.scenario.recording.node_snapshot_every
        last = m.step_index == m.scenario.steps - 1
        if last or (every and (m.step_index + 1) % every == 0):
            self._snapshots.append(self.node_snapshot())

    def node_snapshot(self) -> pd.DataFrame:
        """Every node's state now, one row per node."""
        m, nodes = self.model, self.model.node_table
        return pd.DataFrame({
            "step": np.full(nodes.size, m.step_index, dtype=np.int64),
            "node_id": np.arange(nodes.size, dtype=np.int64),
            "jurisdiction": pd.Categorical.from_codes(nodes.jurisdiction, m.jurisdiction_names),
            "model": pd.Categorical.from_codes(nodes.model, m.model_names),
            "status": pd.Categorical.from_codes(nodes.status, list(STATUS_NAMES.values())),
            "compliant": nodes.compliant.copy(),
            "capacity": nodes.capacity.copy(),
            "price_usd": nodes.price.copy(),
            "served_total": nodes.served_total.copy(),
            "revenue_total_usd": nodes.revenue_total.copy(),
            "fines_total_usd": nodes.fines_total.copy(),
            "joined_step": nodes.born.copy(),
        })

    # ------------------------------------------------------------------ tables

    def _cube(self, blocks: list[np.ndarray], levels: list[tuple[str, list[str]]],
              columns: tuple[str, ...]) -> pd.DataFrame:
        """Stack per-step (cells, columns) blocks into a tidy table with index columns."""
        n_steps = len(blocks)
        sizes = [len(names) for _, names in levels]
        cells = int(np.prod(sizes))
        data = np.concatenate(blocks) if blocks else np.zeros((0, len(columns)))
        out = {"step": np.repeat(np.arange(n_steps, dtype=np.int64), cells)}
        codes = np.indices(sizes).reshape(len(sizes), -1)
        for (name, names), code in zip(levels, codes, strict=True):
            out[name] = pd.Categorical.from_codes(np.tile(code, n_steps), names)
        frame = pd.DataFrame(out)
        for i, col in enumerate(columns):
            frame[col] = data[:, i]
        return frame

    def tables(self) -> dict[str, pd.DataFrame]:
        """All tables of the run (see docs/DATA.md for every column)."""
        m = self.model
        jur, kinds, cats = m.jurisdiction_names, list(REQUESTER_KINDS), m.category_names
        requests = self._cube(self._requests,
                              [("jurisdiction", jur), ("requester_kind", kinds), ("category", cats)],
                              self.REQUEST_COLUMNS)
        for col in self.REQUEST_COLUMNS:
            if col != "attempts":
                requests[col] = requests[col].astype(np.int64)
        prohibited = np.stack(self._prohibited) if self._prohibited else np.zeros((0, len(jur), len(cats)), bool)
        requests["prohibited_at_residence"] = np.broadcast_to(
            prohibited[:, :, None, :], (prohibited.shape[0], len(jur), len(kinds), len(cats))
        ).ravel()
        actors = self._cube(self._actors, [("jurisdiction", jur), ("requester_kind", kinds)],
                            self.ACTOR_COLUMNS).astype({c: np.int64 for c in self.ACTOR_COLUMNS})
        flows = self._cube([f[:, None] for f in self._flows],
                           [("origin", jur), ("destination", jur), ("category", cats)], ("served",))
        flows = flows[flows["served"] > 0].reset_index(drop=True).astype({"served": np.int64})
        nodes = self._cube(self._nodes, [("jurisdiction", jur), ("model", m.model_names)],
                           self.NODE_COLUMNS)
        nodes = nodes.astype({c: np.int64 for c in self.NODE_COLUMNS[:7]})
        served_in_step = nodes.groupby("step")["served"].transform("sum")
        nodes["market_share"] = nodes["served"] / served_in_step.where(served_in_step > 0)
        jurisdictions = self._cube(self._jurisdictions, [("jurisdiction", jur)],
                                   self.JURISDICTION_COLUMNS)
        jurisdictions = jurisdictions.astype(
            {c: np.int64 for c in ("audits", "violations_detected", "takedowns",
                                   "prohibited_categories", "treaty_partners")})
        jurisdictions["policy"] = np.concatenate(self._policies) if self._policies else []
        node_states = (pd.concat(self._snapshots, ignore_index=True) if self._snapshots
                       else self.node_snapshot().iloc[:0])
        metrics = headline(requests, actors, nodes, jurisdictions,
                           pd.DataFrame(self._global, columns=list(STEP_COUNTERS)),
                           pd.DataFrame(m.event_log, columns=["step", "event"]),
                           harmful=m.harmful_categories, permissive=m.permissive_models)
        return dict(metrics=metrics, requests=requests, actors=actors, flows=flows, nodes=nodes,
                    jurisdictions=jurisdictions, node_states=node_states)


#: Per-step counters recorded directly (not derivable from the detailed tables).
STEP_COUNTERS = ("hhi_nodes", "hhi_jurisdictions", "kyc_blocked", "probes", "probes_caught",
                 "treaty_links")

#: Headline columns counting events of these kinds per step.
EVENT_COUNTS = {
    "relocations": ("relocation",),
    "exits": ("exit",),
    "entries": ("entry",),
    "model_switches": ("model_switch",),
    "compliance_switches": ("comply", "defy"),
    "policy_changes": ("policy_change", "enforcement_change", "policy_adoption",
                       "policy_tightened", "policy_relaxed"),
    "treaty_joins": ("treaty_signed", "treaty_joined"),
}


def headline(requests: pd.DataFrame, actors: pd.DataFrame, nodes: pd.DataFrame,
             jurisdictions: pd.DataFrame, per_step: pd.DataFrame, events: pd.DataFrame, *,
             harmful: list[str], permissive: list[str]) -> pd.DataFrame:
    """The one-row-per-step headline metrics, derived from the detailed tables.

    Args:
        per_step: one row per step of :data:`STEP_COUNTERS`.
        events: the event log (``step`` and ``event`` columns).
        harmful: names of harmful categories.
        permissive: names of permissive model kinds.
    """
    by_step = requests.groupby("step", observed=True)
    kind = requests["requester_kind"]
    harmful_rows = requests["category"].isin(harmful)
    out = by_step[["emitted", "served", "refused", "dropped"]].sum().add_prefix("requests_")
    mal = requests[(kind == "malicious") & harmful_rows].groupby("step")
    out["harmful_requests"] = mal["emitted"].sum()
    out["harmful_completed"] = mal["served"].sum()
    out["harm_completion_rate"] = _ratio(out["harmful_completed"], out["harmful_requests"])
    mal_actors = actors[actors["requester_kind"] == "malicious"].groupby("step")
    out["malicious_success_share"] = _ratio(mal_actors["harm_completed"].sum(),
                                            mal_actors["seeking_harm"].sum())
    out["mean_attempts_malicious"] = _ratio(mal["attempts_on_served"].sum(), mal["served"].sum())
    for name in ("benign", "dual_use"):
        sub = requests[kind == name].groupby("step")
        out[f"{name}_over_refusal"] = _ratio(sub["refused"].sum(), sub["emitted"].sum())
        out[f"mean_attempts_{name}"] = _ratio(sub["attempts_on_served"].sum(), sub["served"].sum())
        out[f"{name}_served_permissive_share"] = _ratio(sub["served_permissive"].sum(),
                                                        sub["served"].sum())
    out["malicious_knowing_share"] = _ratio(mal_actors["knowing_a_node"].sum(),
                                            mal_actors["requesters"].sum())
    out["cross_border_share"] = _ratio(by_step["served_foreign"].sum(), out["requests_served"])
    banned = requests[requests["prohibited_at_residence"]].groupby("step")
    out["prohibited_requests"] = banned["emitted"].sum()
    out["prohibited_served"] = banned["served"].sum()
    out["policy_leakage"] = _ratio(out["prohibited_served"], out["prohibited_requests"])
    out["prohibited_served_abroad_share"] = _ratio(banned["served_foreign"].sum(),
                                                   out["prohibited_served"])
    node_steps = nodes.groupby("step")
    out["active_nodes"] = node_steps["nodes_active"].sum()
    perm = nodes[nodes["model"].isin(permissive)].groupby("step")["nodes_active"].sum()
    out["permissive_node_share"] = _ratio(perm.reindex(out.index, fill_value=0), out["active_nodes"])
    out["compliance_rate"] = _ratio(node_steps["nodes_compliant"].sum(), out["active_nodes"])
    jur_steps = jurisdictions.groupby("step")
    for col in ("audits", "violations_detected", "takedowns", "fines_usd", "enforcement_spend_usd"):
        out[col] = jur_steps[col].sum()
    for col in STEP_COUNTERS:
        out[col] = per_step[col].to_numpy()
    out["probe_catch_rate"] = _ratio(out["probes_caught"], out["probes"])
    for col, kinds in EVENT_COUNTS.items():
        counts = events[events["event"].isin(kinds)].groupby("step").size()
        out[col] = counts.reindex(out.index, fill_value=0).astype(np.int64)
    out = out.fillna({c: 0 for c in ("harmful_requests", "harmful_completed",
                                     "prohibited_requests", "prohibited_served")})
    for col in ("harmful_requests", "harmful_completed", "prohibited_requests",
                "prohibited_served", "active_nodes", "audits", "violations_detected", "takedowns",
                "kyc_blocked", "probes", "probes_caught", "treaty_links"):
        out[col] = out[col].astype(np.int64)
    return out.reset_index()
