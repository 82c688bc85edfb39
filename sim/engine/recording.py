"""Recording: per-step counts gathered with ``bincount`` and turned into tidy tables.

Each step adds a few small arrays (cubes indexed by jurisdiction, requester kind,
category, model kind); the pandas tables are built once, at the end of the run. The
headline ``metrics`` table is derived from the others, so every headline number can be
recomputed by an analyst from the detailed tables.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from sim.engine.kernels.run_sums import Runs
from sim.engine.kernels.serving import DROPPED_NODE, REFUSED_NODE, Demand, ServingResult
from sim.engine.nodes import ACTIVE, EXITED, RELOCATING, STATUS_NAMES, TAKEN_DOWN
from sim.scenario import REQUESTER_KINDS

if TYPE_CHECKING:
    from sim.engine.model import DiriskModel

__all__ = [
    "EVENT_COUNTS",
    "HEADLINE_COUNTERS",
    "HHI_SCALE",
    "NODE_FLOWS",
    "N_STATUS",
    "Recorder",
    "SNAPSHOT_FIELDS",
    "STEP_COUNTERS",
    "concentration",
    "headline",
    "hhi",
]

HHI_SCALE = 10_000.0


def hhi(volume: np.ndarray) -> np.ndarray:
    """Herfindahl-Hirschman index of the market shares along the last axis of ``volume``,
    on the 0-10,000 scale (0 where the total is 0)."""
    volume = np.asarray(volume, dtype=np.float64)
    return concentration(np.einsum("...i,...i->...", volume, volume), volume.sum(axis=-1))


def concentration(squares: np.ndarray, total: np.ndarray) -> np.ndarray:
    """HHI (0-10,000) from the sum of squared volumes and the total volume: the sum of
    squared shares, ``squares / total**2`` (0 where the total is 0)."""
    squares, total = np.asarray(squares, dtype=np.float64), np.asarray(total, dtype=np.float64)
    return HHI_SCALE * np.divide(squares, total**2, out=np.zeros_like(squares), where=total > 0)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den, NaN where den is 0 (undefined, not zero)."""
    num, den = np.asarray(num, dtype=np.float64), np.asarray(den, dtype=np.float64)
    return np.divide(num, den, out=np.full(num.shape, np.nan), where=den > 0)


N_STATUS = len(STATUS_NAMES)

#: Node amounts of the day summed per (host jurisdiction, model kind) cell (NODE_COLUMNS).
NODE_FLOWS = ("served", "revenue_usd", "fines_usd", "profit_usd")

#: Node states copied at each snapshot, as (node_states column, NodeTable attribute).
SNAPSHOT_FIELDS = (
    ("jurisdiction", "jurisdiction"),
    ("model", "model"),
    ("status", "status"),
    ("compliant", "compliant"),
    ("capacity", "capacity"),
    ("price_usd", "price"),
    ("served_total", "served_total"),
    ("revenue_total_usd", "revenue_total"),
    ("fines_total_usd", "fines_total"),
    ("joined_step", "born"),
)


@dataclass(frozen=True)
class _Layout:
    """Each node's keys into the recorded cubes, for one arrangement of the nodes."""

    cells: int  #: (host jurisdiction, model kind) cells
    cell: np.ndarray  #: (N,) the node's cell
    status_key: np.ndarray  #: (N,) ``cell * N_STATUS`` (add the status)
    order: np.ndarray  #: (N,) nodes sorted by cell
    runs: Runs  #: each cell's nodes, a run in ``order``
    fate_key: np.ndarray  #: (N+2,) request key offset of a request served by the node
    #: (fate ``2 * host + permissive``, times the request cells); at -2 and -1 (the
    #: ``ServingResult.node`` of requests not served): dropped and refused

    @classmethod
    def of(cls, model: DiriskModel, blocks: int) -> _Layout:
        """The layout of ``model``'s nodes; ``blocks`` requester blocks."""
        nodes = model.node_table
        cells = len(model.jurisdiction_names) * len(model.model_names)
        cell = nodes.jurisdiction * len(model.model_names) + nodes.model
        fate = np.empty(nodes.size + 2, dtype=np.int64)  # read at ServingResult.node
        fate[: nodes.size] = nodes.jurisdiction * 2 + model.permissive[nodes.model]
        fate[REFUSED_NODE] = 2 * len(model.jurisdiction_names)
        fate[DROPPED_NODE] = 2 * len(model.jurisdiction_names) + 1
        return cls(
            cells=cells,
            cell=cell,
            status_key=cell * N_STATUS,
            order=np.argsort(cell, kind="stable"),
            runs=Runs.of(np.bincount(cell, minlength=cells)),
            fate_key=fate * (blocks * len(model.category_names)),
        )

    def cell_sums(self, values: np.ndarray) -> np.ndarray:
        """(cells,) the sum of a node array (N,) over each cell's nodes."""
        return self.runs.sums(values[self.order])


def _kept(arrays: tuple[np.ndarray, ...]) -> tuple:
    """A copy of node arrays to compare later with :func:`_same`: their bytes while small
    (the quickest to compare), else the arrays (no byte copies of millions of nodes)."""
    return tuple(a.tobytes() if a.size <= _SMALL else a.copy() for a in arrays)


def _same(kept: tuple, now: tuple[np.ndarray, ...]) -> bool:
    """Whether node arrays kept by :func:`_kept` equal the current ones."""
    return all(
        k == a.tobytes() if isinstance(k, bytes) else np.array_equal(k, a)
        for k, a in zip(kept, now, strict=True)
    )


#: Node arrays up to this size are kept as bytes by :func:`_kept`.
_SMALL = 1 << 16


@dataclass
class Recorder:
    """Collects one run's per-step arrays and builds its tables."""

    model: DiriskModel
    _requests: list[np.ndarray] = field(default_factory=list)
    _prohibited: list[np.ndarray] = field(default_factory=list)
    _actors: list[np.ndarray] = field(default_factory=list)
    _served: list[np.ndarray] = field(default_factory=list)  # (host J, request cells) int32
    _nodes: list[np.ndarray] = field(default_factory=list)
    _jurisdictions: list[np.ndarray] = field(default_factory=list)  # enforcement counts
    _partners: list[np.ndarray] = field(default_factory=list)  # (J, J) treaty partners
    _policies: list[list[str]] = field(default_factory=list)
    _global: list[tuple[int, int, int, int]] = field(default_factory=list)  # STEP_COUNTERS
    _snapshots: list[dict[str, np.ndarray]] = field(default_factory=list)  # _node_state
    _policy_cache: dict[bytes, list[str]] = field(default_factory=dict)
    _layout_cache: tuple | None = None
    _stocks_cache: tuple | None = None

    REQUEST_COLUMNS = (
        "emitted",
        "served",
        "refused",
        "dropped",
        "attempts",
        "attempts_on_served",
        "served_foreign",
        "served_permissive",
    )
    FOREIGN = REQUEST_COLUMNS.index("served_foreign")
    ACTOR_COLUMNS = (
        "requesters",
        "requesting",
        "served_any",
        "seeking_harm",
        "harm_completed",
        "knowing_a_node",
    )
    NODE_COLUMNS = (
        "nodes_active",
        "nodes_compliant",
        "nodes_taken_down",
        "nodes_exited",
        "nodes_relocating",
        "capacity",
        "served",
        "revenue_usd",
        "fines_usd",
        "profit_usd",
    )
    JURISDICTION_COLUMNS = (
        "audits",
        "violations_detected",
        "fines_usd",
        "takedowns",
        "enforcement_spend_usd",
        "prohibited_categories",
        "treaty_partners",
    )

    def record(self, demand: Demand, outcome: ServingResult) -> None:
        """Add one step's counts."""
        m = self.model
        req, nodes = m.requesters, m.node_table
        n_j = len(m.jurisdiction_names)
        n_c = len(m.category_names)
        size = req.block_sizes.size * n_c  # (residence, kind, category) cells
        # One key per request: its cell and its fate (served by a node in host jurisdiction
        # h with a permissive or other model, code 2h or 2h+1; refused, 2J; dropped, 2J+1).
        layout = self._layout()
        key = np.take(layout.fate_key, outcome.node) + demand.cell
        n_fates = 2 * n_j + 2
        counts = np.bincount(key, minlength=n_fates * size).reshape(n_fates, size)
        # Attempts beyond the first (one per request), made by the few retried.
        retried = outcome.retried
        extra = np.bincount(
            key[retried], weights=outcome.attempts[retried] - 1, minlength=n_fates * size
        )
        # REQUEST_COLUMNS are sums over fates of counts and extra attempts (served_foreign
        # as served: the service at home is taken off at table time).
        combine = self._request_weights(n_j)
        self._requests.append((combine @ np.concatenate([counts, extra.reshape(n_fates, size)])).T)
        self._prohibited.append(m.prohibited)  # read-only, new each step
        # Served by host jurisdiction and request cell (fates 2h and 2h+1): the flows and
        # the service at home come from it at table time.
        self._served.append(
            np.add(counts[0 : 2 * n_j : 2], counts[1 : 2 * n_j : 2], dtype=np.int32)
        )

        ok = outcome.served
        who = demand.requester
        who_harmful, harm_done = demand.of_categories(self._harmful_index, who, ok)
        self._actors.append(
            np.concatenate(
                [
                    req.block_sizes[:, None],
                    req.block_counts(
                        (who, None), (who, ok), (who_harmful, None), (who_harmful, harm_done)
                    ),
                    req.knowing_counts(),
                ],
                axis=1,
            )
        )

        self._nodes.append(self._node_counts(layout))
        self._jurisdictions.append(m.enforcement_counts.copy())
        self._partners.append(m.partner_matrix())  # read-only, replaced when treaties change
        self._policies.append(self._policy_names(m.prohibited))
        self._global.append(
            (
                int(nodes.served_step @ nodes.served_step),
                outcome.kyc_blocked,
                *m.market.protocol.probe_counts(),
            )
        )
        every = m.scenario.recording.node_snapshot_every
        last = m.step_index == m.scenario.steps - 1
        if last or (every and (m.step_index + 1) % every == 0):
            self._snapshots.append(self._node_state())

    @staticmethod
    @functools.cache
    def _request_weights(n_j: int) -> np.ndarray:
        """The REQUEST_COLUMNS of a cell as weighted sums over fates (served in host h with
        a permissive model or not, refused, dropped) of its request counts and its attempts
        beyond the first: ``(8, 2F)`` weights (served_foreign as served)."""
        fates = np.arange(2 * n_j + 2)
        served = fates < 2 * n_j
        every = np.ones(fates.size, dtype=bool)
        combine = np.zeros((len(Recorder.REQUEST_COLUMNS), 2, fates.size))
        for column, (part, rows) in {
            "emitted": (0, every),
            "served": (0, served),
            "refused": (0, fates == 2 * n_j),
            "dropped": (0, fates == 2 * n_j + 1),
            "attempts": (1, every),
            "attempts_on_served": (1, served),
            "served_foreign": (0, served),
            "served_permissive": (0, served & (fates % 2 == 1)),
        }.items():
            combine[Recorder.REQUEST_COLUMNS.index(column), part, rows] = 1.0
        combine[:, 0] += combine[:, 1]  # attempts = requests + attempts beyond the first
        return combine.reshape(len(Recorder.REQUEST_COLUMNS), -1)

    def _node_counts(self, layout: _Layout) -> np.ndarray:
        """This step's node aggregates per (host jurisdiction, model kind) cell, flat: the
        stocks of :meth:`_node_stocks`, then the sums of :data:`NODE_FLOWS` (flows x cells);
        see :meth:`_node_columns`."""
        m, nodes = self.model, self.model.node_table
        flows = (nodes.served_step, nodes.revenue_step, nodes.fines_step, m.profit)
        return np.concatenate(
            [self._node_stocks(layout), *(layout.cell_sums(flow) for flow in flows)],
            dtype=np.float64,
        )

    def _node_stocks(self, layout: _Layout) -> np.ndarray:
        """Node counts by status (cells x statuses), active compliant nodes and active
        capacity (cells each), kept until a node changes status or compliance or the
        layout changes."""
        nodes = self.model.node_table
        cache = self._stocks_cache  # (state, layout, stocks); holding the layout object
        # keeps the identity test sound (no new layout can reuse its id)
        if (
            cache is None
            or cache[1] is not layout
            or not _same(cache[0], (nodes.status, nodes.compliant))
        ):
            active = nodes.status == ACTIVE
            capacity = np.where(active, nodes.capacity, 0)
            stocks = np.concatenate(
                [
                    np.bincount(
                        layout.status_key + nodes.status, minlength=layout.cells * N_STATUS
                    ),
                    np.bincount(layout.cell[active & nodes.compliant], minlength=layout.cells),
                    np.bincount(layout.cell, weights=capacity, minlength=layout.cells),
                ]
            )
            self._stocks_cache = (_kept((nodes.status, nodes.compliant)), layout, stocks)
        return self._stocks_cache[2]

    def _node_columns(self, raw: np.ndarray) -> np.ndarray:
        """(T, cells, NODE_COLUMNS) from stacked :meth:`_node_counts` rows (T, width)."""
        cells = len(self.model.jurisdiction_names) * len(self.model.model_names)
        by_status = raw[:, : cells * N_STATUS].reshape(-1, cells, N_STATUS)
        compliant, capacity = (
            raw[:, cells * (N_STATUS + i) : cells * (N_STATUS + i + 1), None] for i in (0, 1)
        )
        flows = raw[:, cells * (N_STATUS + 2) :].reshape(-1, len(NODE_FLOWS), cells)
        return np.concatenate(
            [
                by_status[:, :, [ACTIVE]],
                compliant,
                by_status[:, :, [TAKEN_DOWN, EXITED, RELOCATING]],
                capacity,
                flows.transpose(0, 2, 1),
            ],
            axis=2,
        )

    def _layout(self) -> _Layout:
        """The nodes' keys into the recorded cubes (rebuilt when nodes move, switch model
        kind or enter)."""
        m, nodes = self.model, self.model.node_table
        state = (nodes.jurisdiction, nodes.model)
        if self._layout_cache is None or not _same(self._layout_cache[0], state):
            layout = _Layout.of(m, len(m.requesters.block_sizes))
            self._layout_cache = (_kept(state), layout)
        return self._layout_cache[1]

    @functools.cached_property
    def _harmful_index(self) -> np.ndarray:
        """Ascending indices of the harmful categories."""
        return np.flatnonzero(self.model.harmful)

    def _policy_names(self, prohibited: np.ndarray) -> list[str]:
        """Each jurisdiction's prohibited categories, comma-joined (cached: rules rarely
        change)."""
        key = prohibited.tobytes()
        if key not in self._policy_cache:
            names = np.asarray(self.model.category_names)
            self._policy_cache[key] = [",".join(names[row]) for row in prohibited]
        return self._policy_cache[key]

    def _node_state(self) -> dict[str, np.ndarray]:
        """Copies of the node arrays of a snapshot (the table is built at table time)."""
        m, nodes = self.model, self.model.node_table
        state = {column: getattr(nodes, attr).copy() for column, attr in SNAPSHOT_FIELDS}
        state["step"] = np.full(nodes.size, m.step_index, dtype=np.int64)
        state["node_id"] = np.arange(nodes.size, dtype=np.int64)
        return state

    def _node_frame(self, states: list[dict[str, np.ndarray]]) -> pd.DataFrame:
        """The node_states table of snapshots taken by :meth:`_node_state`."""
        m = self.model
        names = {
            "jurisdiction": m.jurisdiction_names,
            "model": m.model_names,
            "status": list(STATUS_NAMES.values()),
        }
        out = {}
        for column in ("step", "node_id", *(column for column, _ in SNAPSHOT_FIELDS)):
            values = np.concatenate([state[column] for state in states])
            out[column] = (
                pd.Categorical.from_codes(values, names[column]) if column in names else values
            )
        return pd.DataFrame(out)

    # ------------------------------------------------------------------ tables

    @staticmethod
    def _cube(
        data: np.ndarray,
        levels: list[tuple[str, list[str]]],
        columns: tuple[str, ...],
        counts: tuple[str, ...] = (),
    ) -> pd.DataFrame:
        """A tidy table with index columns from ``data`` (T, *levels, columns); the
        ``counts`` columns become int64, the others keep the data's type."""
        n_steps = data.shape[0]
        sizes = [len(names) for _, names in levels]
        cells = int(np.prod(sizes))
        data = data.reshape(n_steps * cells, len(columns))
        out = {"step": np.repeat(np.arange(n_steps, dtype=np.int64), cells)}
        codes = np.indices(sizes).reshape(len(sizes), -1)
        for (name, names), code in zip(levels, codes, strict=True):
            out[name] = pd.Categorical.from_codes(np.tile(code, n_steps), names)
        for i, col in enumerate(columns):
            out[col] = data[:, i].astype(np.int64) if col in counts else data[:, i]
        return pd.DataFrame(out)

    def _arrays(self, first: int = 0) -> dict[str, np.ndarray]:
        """The recorded days from day ``first`` on, as arrays with the day first:
        ``requests`` (T, J, K, C, REQUEST_COLUMNS), ``actors`` (T, J, K, ACTOR_COLUMNS),
        ``nodes`` (T, J, M, NODE_COLUMNS), ``jurisdictions`` (T, J, JURISDICTION_COLUMNS),
        ``prohibited`` (T, J, C) and ``flows`` (T, host J, origin J, C)."""
        m = self.model
        n_j, n_k, n_c = len(m.jurisdiction_names), len(REQUESTER_KINDS), len(m.category_names)
        n_m = len(m.model_names)

        def stack(blocks: list[np.ndarray], *shape: int) -> np.ndarray:
            blocks = blocks[first:]
            return np.stack(blocks).reshape(-1, *shape) if blocks else np.zeros((0, *shape))

        width = n_j * n_m * (N_STATUS + 2 + len(NODE_FLOWS))
        prohibited = stack(self._prohibited, n_j, n_c).astype(bool)
        served = stack(self._served, n_j, n_j, n_k, n_c)  # (T, host, residence, K, C)
        requests = stack(self._requests, n_j, n_k, n_c, len(self.REQUEST_COLUMNS))
        at_home = np.arange(n_j)
        requests[..., self.FOREIGN] -= served[:, at_home, at_home]  # host = residence
        return dict(
            requests=requests,
            actors=stack(self._actors, n_j, n_k, len(self.ACTOR_COLUMNS)),
            nodes=self._node_columns(stack(self._nodes, width)).reshape(
                -1, n_j, n_m, len(self.NODE_COLUMNS)
            ),
            jurisdictions=np.concatenate(
                [
                    stack(self._jurisdictions, n_j, len(self.JURISDICTION_COLUMNS) - 2),
                    prohibited.sum(axis=2, keepdims=True),  # prohibited_categories
                    stack(self._partners, n_j, n_j).sum(axis=2, keepdims=True),  # treaty_partners
                ],
                axis=2,
            ),
            prohibited=prohibited,
            flows=served.sum(axis=3),
        )

    def headline(self, first: int = 0, arrays: dict[str, np.ndarray] | None = None) -> pd.DataFrame:
        """The headline metrics of the recorded days from day ``first`` on, one row per
        day (``first = -1``: the last day only, e.g. for a DataCollector); ``arrays``:
        those of :meth:`_arrays` for ``first``, if already built."""
        m = self.model
        first = first % max(len(self._requests), 1) if first < 0 else first
        log = m.event_log  # in step order: read the recent days from the end
        recent = list(itertools.takewhile(lambda e: e["step"] >= first, reversed(log)))
        events = pd.DataFrame(recent if first else log, columns=["step", "event"])
        events["step"] -= first
        out = headline(
            **(self._arrays(first) if arrays is None else arrays),
            per_step=pd.DataFrame(self._global[first:], columns=list(STEP_COUNTERS)),
            events=events,
            harmful=m.harmful,
            permissive=m.permissive,
        )
        out["step"] += first
        return out

    def headline_by_residence(self) -> dict[str, pd.DataFrame]:
        """The headline metrics restricted to the requesters resident in each jurisdiction,
        by jurisdiction name: the request, actor and flow columns (harm, leakage,
        over-refusal, cross-border service) count only that jurisdiction's residents; node
        and enforcement columns are those of the whole market."""
        m = self.model
        arrays = self._arrays()
        per_step = pd.DataFrame(self._global, columns=list(STEP_COUNTERS))
        events = pd.DataFrame(m.event_log, columns=["step", "event"])
        out = {}
        for j, name in enumerate(m.jurisdiction_names):
            resident = slice(j, j + 1)
            out[name] = headline(
                requests=arrays["requests"][:, resident],
                actors=arrays["actors"][:, resident],
                nodes=arrays["nodes"],
                jurisdictions=arrays["jurisdictions"],
                prohibited=arrays["prohibited"][:, resident],
                flows=arrays["flows"][:, :, resident],
                per_step=per_step,
                events=events,
                harmful=m.harmful,
                permissive=m.permissive,
            )
        return out

    def tables(self) -> dict[str, pd.DataFrame]:
        """All tables of the run (see docs/DATA.md for every column)."""
        m = self.model
        jur, kinds, cats = m.jurisdiction_names, list(REQUESTER_KINDS), m.category_names
        arrays = self._arrays()
        requests = self._cube(
            arrays["requests"],
            [("jurisdiction", jur), ("requester_kind", kinds), ("category", cats)],
            self.REQUEST_COLUMNS,
            counts=self.REQUEST_COLUMNS,
        )
        prohibited = arrays["prohibited"]
        requests["prohibited_at_residence"] = np.broadcast_to(
            prohibited[:, :, None, :], (prohibited.shape[0], len(jur), len(kinds), len(cats))
        ).ravel()
        actors = self._cube(
            arrays["actors"],
            [("jurisdiction", jur), ("requester_kind", kinds)],
            self.ACTOR_COLUMNS,
            counts=self.ACTOR_COLUMNS,
        )
        flows = self._cube(
            arrays["flows"].transpose(0, 2, 1, 3)[..., None],
            [("origin", jur), ("destination", jur), ("category", cats)],
            ("served",),
            counts=("served",),
        )
        flows = flows[flows["served"] > 0].reset_index(drop=True)
        nodes = self._cube(
            arrays["nodes"],
            [("jurisdiction", jur), ("model", m.model_names)],
            self.NODE_COLUMNS,
            counts=self.NODE_COLUMNS[:7],
        )
        served_in_step = nodes.groupby("step")["served"].transform("sum")
        nodes["market_share"] = nodes["served"] / served_in_step.where(served_in_step > 0)
        jurisdictions = self._cube(
            arrays["jurisdictions"],
            [("jurisdiction", jur)],
            self.JURISDICTION_COLUMNS,
            counts=(
                "audits",
                "violations_detected",
                "takedowns",
                "prohibited_categories",
                "treaty_partners",
            ),
        )
        jurisdictions["policy"] = np.concatenate(self._policies or [np.array([], dtype=str)])
        node_states = self._node_frame(self._snapshots or [self._node_state()])
        if not self._snapshots:
            node_states = node_states.iloc[:0]
        metrics = self.headline(arrays=arrays)
        return dict(
            metrics=metrics,
            requests=requests,
            actors=actors,
            flows=flows,
            nodes=nodes,
            jurisdictions=jurisdictions,
            node_states=node_states,
        )


#: Per-step counters recorded directly (not derivable from the detailed tables);
#: ``served_squares`` is the sum over nodes of (requests served)^2, for ``hhi_nodes``.
STEP_COUNTERS = ("served_squares", "kyc_blocked", "probes", "probes_caught")

#: Headline counters in column order: those above and three derived from the tables
#: (``hhi_nodes`` with nodes, ``hhi_jurisdictions`` from flows, ``treaty_links`` from
#: jurisdictions).
HEADLINE_COUNTERS = (
    "hhi_nodes",
    "hhi_jurisdictions",
    "kyc_blocked",
    "probes",
    "probes_caught",
    "treaty_links",
)

#: Headline columns counting events of these kinds per step.
EVENT_COUNTS = {
    "relocations": ("relocation",),
    "exits": ("exit",),
    "entries": ("entry",),
    "model_switches": ("model_switch",),
    "compliance_switches": ("comply", "defy"),
    "policy_changes": (
        "policy_change",
        "enforcement_change",
        "policy_adoption",
        "policy_tightened",
        "policy_relaxed",
    ),
    "treaty_joins": ("treaty_signed", "treaty_joined"),
}


def headline(
    requests: np.ndarray,
    actors: np.ndarray,
    nodes: np.ndarray,
    jurisdictions: np.ndarray,
    prohibited: np.ndarray,
    flows: np.ndarray,
    *,
    per_step: pd.DataFrame,
    events: pd.DataFrame,
    harmful: np.ndarray,
    permissive: np.ndarray,
) -> pd.DataFrame:
    """The one-row-per-step headline metrics, derived from the detailed tables' arrays.

    Every column is a sum or ratio of sums of the ``requests``, ``actors``, ``nodes``
    and ``jurisdictions`` tables, so analysts can recompute it from them.

    Args:
        requests: (T, J, K, C, columns) as :attr:`Recorder.REQUEST_COLUMNS`.
        actors: (T, J, K, columns) as :attr:`Recorder.ACTOR_COLUMNS`.
        nodes: (T, J, M, columns) as :attr:`Recorder.NODE_COLUMNS`.
        jurisdictions: (T, J, columns) as :attr:`Recorder.JURISDICTION_COLUMNS`.
        prohibited: (T, J, C) bool, rules in force.
        flows: (T, J, J, C) served requests by host, residence and category.
        per_step: one row per step of :data:`STEP_COUNTERS`.
        events: the event log (``step`` and ``event`` columns).
        harmful: (C,) bool, harmful categories.
        permissive: (M,) bool, permissive model kinds.
    """
    rq = {c: requests[..., i] for i, c in enumerate(Recorder.REQUEST_COLUMNS)}
    ac = {c: actors[..., i] for i, c in enumerate(Recorder.ACTOR_COLUMNS)}
    benign, dual, mal = (REQUESTER_KINDS.index(k) for k in ("benign", "dual_use", "malicious"))
    n_steps = requests.shape[0]

    def total(x: np.ndarray) -> np.ndarray:
        return x.reshape(n_steps, int(np.prod(x.shape[1:]))).sum(axis=1)  # also for T = 0

    out: dict[str, np.ndarray] = {"step": np.arange(n_steps, dtype=np.int64)}
    for col in ("emitted", "served", "refused", "dropped"):
        out[f"requests_{col}"] = total(rq[col]).astype(np.int64)
    harm = {c: rq[c][:, :, mal][..., harmful] for c in ("emitted", "served", "attempts_on_served")}
    out["harmful_requests"] = total(harm["emitted"]).astype(np.int64)
    out["harmful_completed"] = total(harm["served"]).astype(np.int64)
    out["harm_completion_rate"] = _ratio(out["harmful_completed"], out["harmful_requests"])
    out["malicious_success_share"] = _ratio(
        total(ac["harm_completed"][:, :, mal]), total(ac["seeking_harm"][:, :, mal])
    )
    out["mean_attempts_malicious"] = _ratio(
        total(harm["attempts_on_served"]), total(harm["served"])
    )
    for name, k in (("benign", benign), ("dual_use", dual)):
        served = total(rq["served"][:, :, k])
        out[f"{name}_over_refusal"] = _ratio(
            total(rq["refused"][:, :, k]), total(rq["emitted"][:, :, k])
        )
        out[f"mean_attempts_{name}"] = _ratio(total(rq["attempts_on_served"][:, :, k]), served)
        out[f"{name}_served_permissive_share"] = _ratio(
            total(rq["served_permissive"][:, :, k]), served
        )
    out["malicious_knowing_share"] = _ratio(
        total(ac["knowing_a_node"][:, :, mal]), total(ac["requesters"][:, :, mal])
    )
    out["cross_border_share"] = _ratio(total(rq["served_foreign"]), out["requests_served"])
    banned = prohibited[:, :, None, :]
    out["prohibited_requests"] = total(rq["emitted"] * banned).astype(np.int64)
    out["prohibited_served"] = total(rq["served"] * banned).astype(np.int64)
    out["policy_leakage"] = _ratio(out["prohibited_served"], out["prohibited_requests"])
    out["prohibited_served_abroad_share"] = _ratio(
        total(rq["served_foreign"] * banned), out["prohibited_served"]
    )
    active = nodes[..., Recorder.NODE_COLUMNS.index("nodes_active")]
    out["active_nodes"] = total(active).astype(np.int64)
    out["permissive_node_share"] = _ratio(total(active[:, :, permissive]), out["active_nodes"])
    out["compliance_rate"] = _ratio(
        total(nodes[..., Recorder.NODE_COLUMNS.index("nodes_compliant")]), out["active_nodes"]
    )
    for col in ("audits", "violations_detected", "takedowns", "fines_usd", "enforcement_spend_usd"):
        summed = total(jurisdictions[..., Recorder.JURISDICTION_COLUMNS.index(col)])
        out[col] = summed if col.endswith("usd") else summed.astype(np.int64)
    derived = {
        "hhi_nodes": concentration(
            per_step["served_squares"].to_numpy(),
            total(nodes[..., Recorder.NODE_COLUMNS.index("served")]),
        ),
        "hhi_jurisdictions": hhi(flows.sum(axis=(2, 3))),
        "treaty_links": total(
            jurisdictions[..., Recorder.JURISDICTION_COLUMNS.index("treaty_partners")]
        ).astype(np.int64)
        // 2,
    }
    for col in HEADLINE_COUNTERS:
        values = derived[col] if col in derived else per_step[col].to_numpy()
        out[col] = values if col.startswith("hhi") else values.astype(np.int64)
    out["probe_catch_rate"] = _ratio(out["probes_caught"], out["probes"])
    steps, kinds = events["step"].to_numpy(dtype=np.int64), events["event"].to_numpy()
    for col, names in EVENT_COUNTS.items():
        out[col] = np.bincount(steps[np.isin(kinds, names)], minlength=n_steps)[:n_steps]
    return pd.DataFrame(out)
