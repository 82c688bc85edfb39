"""The data dictionary: every column of every table dirisk writes, in one place.

:data:`TABLES_DICTIONARY` describes the tables :meth:`sim.results.tables.Results.save` writes
(one entry per name in :data:`sim.results.tables.TABLES`), :data:`RUN_JSON` the keys of
``run.json`` and :data:`SCENARIO_YAML` the saved scenario; :data:`SWEEP_TABLES` and
:data:`MANIFEST_JSON` describe a sweep folder (``dirisk sweep``), whose columns partly
depend on the experiment (:data:`PLACEHOLDERS`); :data:`EXPERIMENT_FOLDERS`
(:mod:`sim.output.dictionary_experiments`) the folders of ``dirisk compare``,
``attribute``, ``robust`` and ``optimize``. ``docs/DATA.md`` is generated from it
(``python -m sim.output.dictionary``) and ``dirisk describe [TABLE]`` prints it; the tests
check it against the columns and dtypes that runs, sweeps and those commands actually
write, so it cannot drift.

Column names, types and units are a stable public interface: analysts' code depends on
them. Rename or retype a column only with a deprecation note in docs/DATA.md.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from collections.abc import Iterable
from pathlib import Path

from sim.output.dictionary_entries import (
    PHASE_MEANINGS,
    PHASES,
    PLACEHOLDERS,
    TYPES,
    Column,
    FolderKind,
    MetaKey,
    Table,
    UnknownTable,
)
from sim.output.dictionary_experiments import EXPERIMENT_FOLDERS, EXPERIMENT_TABLES
from sim.results.outcomes import OUTCOMES

__all__ = [
    "ACTORS",
    "Column",
    "DATA_MD",
    "DESIGN",
    "DISCOVERY",
    "EVENTS",
    "EXPERIMENT_FOLDERS",
    "EXPERIMENT_TABLES",
    "FLOWS",
    "FolderKind",
    "JURISDICTIONS",
    "MANIFEST_JSON",
    "METRICS",
    "MetaKey",
    "NODES",
    "NODE_STATES",
    "PHASES",
    "PHASE_MEANINGS",
    "PLACEHOLDERS",
    "REQUESTS",
    "RUNS",
    "RUN_JSON",
    "RUN_METRICS",
    "SCENARIO_YAML",
    "SENSITIVITY",
    "SUMMARY",
    "SWEEP_TABLES",
    "TABLES_DICTIONARY",
    "TYPES",
    "Table",
    "UnknownTable",
    "describe",
    "main",
    "render_markdown",
    "table",
]

# --------------------------------------------------------------------------- shared pieces

_PERMISSIVE = (
    "a model kind is permissive when its mean refusal probability over harmful "
    "categories is below 0.5, `sim.engine.model.PERMISSIVE_THRESHOLD`"
)


def _step(
    meaning: str = "Day of the run, 0-based (0 to run.json `steps` − 1).", phase: str = "record"
) -> Column:
    return Column("step", "int64", "step index", meaning, phase)


def _residence(name: str = "jurisdiction") -> Column:
    return Column(
        name,
        "category",
        "jurisdiction name",
        "Residence jurisdiction of the requesters (where they live, not the VPN exit "
        "the market sees).",
        "record",
    )


def _kind() -> Column:
    return Column(
        "requester_kind",
        "category",
        "requester kind",
        "Requester kind: benign, dual_use or malicious.",
        "record",
    )


def _category() -> Column:
    return Column(
        "category",
        "category",
        "category name",
        "Request category, as named in the scenario's `categories`.",
        "record",
    )


def _over_refusal(kind: str, label: str) -> tuple[Column, ...]:
    return (
        Column(
            f"{kind}_over_refusal",
            "float64",
            "share 0–1",
            f"Requests of {label} requesters whose final status is refused / requests "
            f"emitted by {label} requesters, over all categories (dropped requests count "
            "in the denominator only); NaN when none was emitted.",
            "serve",
        ),
        Column(
            f"mean_attempts_{kind}",
            "float64",
            "attempts per request",
            f"Attempts made by served requests of {label} requesters / served requests "
            f"of {label} requesters, over all categories (1 = served at the first "
            "attempt); NaN when none was served.",
            "serve",
        ),
        Column(
            f"{kind}_served_permissive_share",
            "float64",
            "share 0–1",
            f"Served requests of {label} requesters whose serving node runs a permissive "
            f"model kind / served requests of {label} requesters ({_PERMISSIVE}; model "
            "read at the record phase); NaN when none was served.",
            "serve, record",
        ),
    )


def _event_count(name: str, kinds: str, meaning: str, phase: str) -> Column:
    return Column(
        name,
        "int64",
        "events",
        f"Records in the event log at this step of kind {kinds}: {meaning}.",
        phase,
    )


# --------------------------------------------------------------------------- tables

METRICS = Table(
    name="metrics",
    description="The headline metrics of each day. Every column is a sum, or a ratio of "
    "sums, of the detailed tables (or a per-step counter), so it can be "
    "recomputed from them.",
    row="one row per step",
    key=("step",),
    source="sim.engine.recording.headline",
    columns=(
        _step(),
        Column(
            "requests_emitted",
            "int64",
            "requests",
            "Requests emitted by all requesters this step, each counted once however many "
            "attempts it made (sum of `requests.emitted`).",
            "emit",
        ),
        Column(
            "requests_served",
            "int64",
            "requests",
            "Requests whose final status is served (sum of `requests.served`).",
            "serve",
        ),
        Column(
            "requests_refused",
            "int64",
            "requests",
            "Requests whose final status is refused (sum of `requests.refused`).",
            "serve",
        ),
        Column(
            "requests_dropped",
            "int64",
            "requests",
            "Requests whose final status is dropped (sum of `requests.dropped`); "
            "requests_served + requests_refused + requests_dropped = requests_emitted.",
            "serve",
        ),
        Column(
            "harmful_requests",
            "int64",
            "requests",
            "Requests emitted by malicious requesters in harmful categories "
            "(`categories.*.harmful`); harmful-category requests of benign or dual-use "
            "requesters are not counted.",
            "emit",
        ),
        Column(
            "harmful_completed",
            "int64",
            "requests",
            "Of harmful_requests, those whose final status is served.",
            "serve",
        ),
        Column(
            "harm_completion_rate",
            "float64",
            "share 0–1",
            "harmful_completed / harmful_requests (malicious requesters, harmful "
            "categories); NaN when harmful_requests is 0.",
            "serve",
        ),
        Column(
            "malicious_success_share",
            "float64",
            "share 0–1",
            "Malicious requesters with at least one harmful-category request served this "
            "step / malicious requesters who emitted at least one harmful-category request "
            "this step (`actors.harm_completed` / `actors.seeking_harm`, malicious rows, "
            "summed over jurisdictions); NaN when no malicious requester sought harm.",
            "serve",
        ),
        Column(
            "mean_attempts_malicious",
            "float64",
            "attempts per request",
            "Attempts made by the served harmful-category requests of malicious requesters "
            "/ harmful_completed (1 = served at the first attempt; other categories of "
            "malicious requesters are excluded); NaN when harmful_completed is 0.",
            "serve",
        ),
        *_over_refusal("benign", "benign"),
        *_over_refusal("dual_use", "dual-use"),
        Column(
            "malicious_knowing_share",
            "float64",
            "share 0–1",
            "Malicious requesters who remember a serving node after this step's learning "
            "/ all malicious requesters (`actors.knowing_a_node` / `actors.requesters`, "
            "malicious rows); NaN when there are no malicious requesters.",
            "adapt",
        ),
        Column(
            "cross_border_share",
            "float64",
            "share 0–1",
            "Served requests whose serving node is hosted outside the requester's "
            "residence (not VPN exit) jurisdiction / requests_served, all requester "
            "kinds (host read at the record phase); NaN when nothing was served.",
            "serve, record",
        ),
        Column(
            "prohibited_requests",
            "int64",
            "requests",
            "Requests emitted by requesters of any kind in a category their residence "
            "jurisdiction prohibits under the policy in force during the step "
            "(`requests.emitted` where `prohibited_at_residence`).",
            "emit",
        ),
        Column(
            "prohibited_served",
            "int64",
            "requests",
            "Of prohibited_requests, those whose final status is served.",
            "serve",
        ),
        Column(
            "policy_leakage",
            "float64",
            "share 0–1",
            "prohibited_served / prohibited_requests (all requester kinds, policy of the "
            "residence); NaN when no request was prohibited at residence.",
            "serve",
        ),
        Column(
            "prohibited_served_abroad_share",
            "float64",
            "share 0–1",
            "Of prohibited_served, the share served by a node hosted outside the "
            "residence jurisdiction (host read at the record phase); NaN when "
            "prohibited_served is 0.",
            "serve, record",
        ),
        Column(
            "active_nodes",
            "int64",
            "nodes",
            "Nodes with status active at the record phase: after this step's takedowns, "
            "exits, relocations and entries (entrants serve from the next step), before "
            "this step's timeline events (sum of `nodes.nodes_active`).",
            "enforce, adapt",
        ),
        Column(
            "permissive_node_share",
            "float64",
            "share 0–1",
            f"Active nodes running a permissive model kind / active_nodes ({_PERMISSIVE}); "
            "NaN when no node is active.",
            "enforce, adapt",
        ),
        Column(
            "compliance_rate",
            "float64",
            "share 0–1",
            "Active compliant nodes / active_nodes (sum of `nodes.nodes_compliant` / sum "
            "of `nodes.nodes_active`); NaN when no node is active.",
            "enforce, adapt",
        ),
        Column(
            "audits",
            "int64",
            "audits",
            "Audits carried out by all jurisdictions this step (sum of `jurisdictions.audits`).",
            "enforce",
        ),
        Column(
            "violations_detected",
            "int64",
            "nodes",
            "Audited nodes found in violation, summed over jurisdictions (a node detected "
            "by two jurisdictions counts twice; each detection is fined).",
            "enforce",
        ),
        Column(
            "takedowns",
            "int64",
            "nodes",
            "Nodes taken down by enforcement this step (sum of `jurisdictions.takedowns`).",
            "enforce",
        ),
        Column(
            "fines_usd",
            "float64",
            "USD",
            "Fines imposed this step, summed over the fining jurisdictions (sum of "
            "`jurisdictions.fines_usd`).",
            "enforce",
        ),
        Column(
            "enforcement_spend_usd",
            "float64",
            "USD",
            "Audit spending this step: each jurisdiction's audits × its audit_cost_usd, "
            "summed (sum of `jurisdictions.enforcement_spend_usd`).",
            "enforce",
        ),
        Column(
            "hhi_nodes",
            "float64",
            "HHI 0–10000",
            "Herfindahl–Hirschman index of this step's served requests across nodes, "
            "10,000 × Σ (node's share of served requests)²; 0, not NaN, when nothing was "
            "served.",
            "serve",
        ),
        Column(
            "hhi_jurisdictions",
            "float64",
            "HHI 0–10000",
            "Herfindahl–Hirschman index of this step's served requests across host "
            "jurisdictions (host read at the record phase); 0, not NaN, when nothing was "
            "served.",
            "serve, record",
        ),
        Column(
            "kyc_blocked",
            "int64",
            "attempts",
            "Attempts (not requests) of unverified requesters stopped by a KYC gate this "
            "step: on attempts admitted by a compliant node whose host, or the requester's "
            "apparent jurisdiction with extraterritorial reach, mandates KYC, plus a central "
            "gateway's KYC stops.",
            "serve",
        ),
        Column(
            "probes",
            "int64",
            "probes",
            "Test prompts validators sent to online miners this step, in the probe "
            "categories (by default the harmful ones; validators protocol, 0 otherwise).",
            "enforce",
        ),
        Column(
            "probes_caught",
            "int64",
            "probes",
            "Probes the miner answered instead of refusing this step (each cuts that "
            "validator's score of the miner).",
            "enforce",
        ),
        Column(
            "treaty_links",
            "int64",
            "jurisdiction pairs",
            "Edges of the treaty graph at the record phase: pairs of jurisdictions linked "
            "by at least one treaty (after this step's treaty growth, before this step's "
            "timeline events).",
            "adapt, record",
        ),
        Column(
            "probe_catch_rate",
            "float64",
            "share 0–1",
            "probes_caught / probes; NaN when no probe was sent (always NaN outside the "
            "validators protocol).",
            "enforce",
        ),
        _event_count(
            "relocations",
            "relocation",
            "revising nodes that decided to move host (offline while relocating)",
            "adapt",
        ),
        _event_count(
            "exits",
            "exit",
            "revising nodes that chose to exit (node_shock removals are not counted)",
            "adapt",
        ),
        _event_count(
            "entries",
            "entry",
            "nodes that entered the market, serving from the next step (node_shock "
            "additions are not counted)",
            "adapt",
        ),
        _event_count(
            "model_switches",
            "model_switch",
            "revising nodes that changed model kind (diffusion and release adoptions, "
            "logged as adoption and model_release, are not counted)",
            "adapt",
        ),
        _event_count(
            "compliance_switches",
            "comply or defy",
            "revising nodes that started or stopped running their host's filter and KYC gate",
            "adapt",
        ),
        _event_count(
            "policy_changes",
            "policy_change, enforcement_change, policy_adoption, "
            "policy_tightened or policy_relaxed",
            "timeline changes (phase events) and policy revisions (phase adapt), "
            "in force from the next step",
            "adapt, events",
        ),
        _event_count(
            "treaty_joins",
            "treaty_signed or treaty_joined",
            "one per timeline treaty signature however many members sign, plus one "
            "per jurisdiction joining a treaty by treaty growth",
            "adapt, events",
        ),
    ),
    notes=(
        "Harm is counted only for malicious requesters, in harmful categories, without a "
        "severity weight; over-refusal counts every refusal of benign and dual-use "
        "requesters.",
        "Ratios are NaN when their denominator is 0 (undefined, not zero); the HHI columns "
        "are 0 when nothing was served.",
        "Over a run, aggregate counts first and divide afterwards (e.g. sum harmful_completed "
        "/ sum harmful_requests); the mean of a per-step ratio weights every day equally. "
        "`dirisk run` reports harm_completion_rate and policy_leakage as ratios of totals and "
        "the shares of actors, over-refusal and cross-border service as means over steps.",
        "policy_leakage counts every requester kind: where a jurisdiction prohibits a "
        "non-harmful category (for example political speech), benign requests served "
        "anyway are leakage too.",
    ),
)

REQUESTS = Table(
    name="requests",
    description="What happened to the requests: emitted, served, refused and dropped, by "
    "where requesters live, who they are and what they asked for.",
    row="one row per step × residence jurisdiction × requester kind × category (every "
    "combination, zeros included)",
    key=("step", "jurisdiction", "requester_kind", "category"),
    source="sim.engine.recording.Recorder.tables",
    columns=(
        _step(),
        _residence(),
        _kind(),
        _category(),
        Column(
            "emitted",
            "int64",
            "requests",
            "Requests emitted, each counted once however many attempts it made.",
            "emit",
        ),
        Column(
            "served",
            "int64",
            "requests",
            "Requests whose final status is served (by any node, possibly after retries).",
            "serve",
        ),
        Column(
            "refused",
            "int64",
            "requests",
            "Requests whose final status is refused: the last attempt was admitted by a "
            "node and refused (model refusal, compliance filter or KYC gate), or stopped "
            "by a central gateway.",
            "serve",
        ),
        Column(
            "dropped",
            "int64",
            "requests",
            "Requests whose final status is dropped: an attempt reached no node (not "
            "retried) or the last attempt found its node out of capacity; emitted = "
            "served + refused + dropped.",
            "serve",
        ),
        Column(
            "attempts",
            "int64",
            "attempts",
            "Attempts made by these requests (1 + retries each), including attempts "
            "stopped at a gateway or reaching no node.",
            "serve",
        ),
        Column(
            "attempts_on_served",
            "int64",
            "attempts",
            "Attempts made by the served requests (attempts_on_served / served = mean "
            "attempts to success).",
            "serve",
        ),
        Column(
            "served_foreign",
            "int64",
            "requests",
            "Served requests whose serving node is hosted outside the residence "
            "jurisdiction (host read at the record phase).",
            "serve, record",
        ),
        Column(
            "served_permissive",
            "int64",
            "requests",
            f"Served requests whose serving node runs a permissive model kind "
            f"({_PERMISSIVE}; model read at the record phase).",
            "serve, record",
        ),
        Column(
            "prohibited_at_residence",
            "bool",
            "flag",
            "Whether the residence jurisdiction prohibits the category under the policy in "
            "force during the step (rebuilt at its start; changes made during the step "
            "apply from the next).",
            "emit",
        ),
    ),
    notes=(
        "Requests are attributed to the requester's residence, not to the apparent "
        "jurisdiction (VPN exit) the market and enforcement see.",
    ),
)

ACTORS = Table(
    name="actors",
    description="Requesters as people rather than requests: how many asked, got served, "
    "sought harm and completed it.",
    row="one row per step × residence jurisdiction × requester kind (every combination, "
    "zeros included)",
    key=("step", "jurisdiction", "requester_kind"),
    source="sim.engine.recording.Recorder.tables",
    columns=(
        _step(),
        _residence(),
        _kind(),
        Column(
            "requesters",
            "int64",
            "requesters",
            "Requesters of this kind resident in this jurisdiction (the population, fixed "
            "at initialisation; the same every step).",
            "record",
        ),
        Column(
            "requesting",
            "int64",
            "requesters",
            "Distinct requesters who emitted at least one request this step.",
            "emit",
        ),
        Column(
            "served_any",
            "int64",
            "requesters",
            "Distinct requesters with at least one request served this step.",
            "serve",
        ),
        Column(
            "seeking_harm",
            "int64",
            "requesters",
            "Distinct requesters who emitted at least one request in a harmful category this step.",
            "emit",
        ),
        Column(
            "harm_completed",
            "int64",
            "requesters",
            "Distinct requesters with at least one harmful-category request served this step.",
            "serve",
        ),
        Column(
            "knowing_a_node",
            "int64",
            "requesters",
            "Requesters who remember a serving node after this step's learning (the node "
            "was active when they learned).",
            "adapt",
        ),
    ),
)

FLOWS = Table(
    name="flows",
    description="Where requests are served: from the requesters' residence to the serving "
    "node's host, by category.",
    row="one row per step × origin × destination × category with at least one request "
    "served (zero rows omitted)",
    key=("step", "origin", "destination", "category"),
    source="sim.engine.recording.Recorder.tables",
    columns=(
        _step(),
        _residence("origin"),
        Column(
            "destination",
            "category",
            "jurisdiction name",
            "Host jurisdiction of the serving node, read at the record phase (after the "
            "step's relocations).",
            "serve, record",
        ),
        _category(),
        Column(
            "served",
            "int64",
            "requests",
            "Requests of residents of origin in this category served by nodes hosted in "
            "destination, all requester kinds; at least 1 (zero rows are omitted).",
            "serve",
        ),
    ),
    notes=(
        "Unlike requests, actors and nodes, flows omits zero rows and has no requester-kind "
        "column: a missing (origin, destination, category) at a step means 0.",
    ),
)

NODES = Table(
    name="nodes",
    description="The supply side: node counts by status, capacity, service and money, by "
    "host jurisdiction and model kind.",
    row="one row per step × host jurisdiction × model kind (every combination, zeros included)",
    key=("step", "jurisdiction", "model"),
    source="sim.engine.recording.Recorder.tables",
    columns=(
        _step(),
        Column(
            "jurisdiction",
            "category",
            "jurisdiction name",
            "Host jurisdiction of the nodes at the record phase (a relocating node counts "
            "under its destination).",
            "adapt, record",
        ),
        Column(
            "model",
            "category",
            "model kind name",
            "Model kind the nodes serve at the record phase, as named in the scenario's `models`.",
            "adapt, record",
        ),
        Column(
            "nodes_active",
            "int64",
            "nodes",
            "Nodes with status active (after this step's takedowns, exits, relocations "
            "and entries).",
            "enforce, adapt",
        ),
        Column(
            "nodes_compliant",
            "int64",
            "nodes",
            "Active nodes that are compliant (run their host's filter and KYC gate); "
            "compliant nodes that are not active are not counted.",
            "enforce, adapt",
        ),
        Column(
            "nodes_taken_down",
            "int64",
            "nodes",
            "Nodes with status taken_down: every takedown so far, a running total (a "
            "stock; `jurisdictions.takedowns` is the flow of the step).",
            "enforce",
        ),
        Column(
            "nodes_exited",
            "int64",
            "nodes",
            "Nodes with status exited: every exit and node_shock removal so far, a running total.",
            "adapt, events",
        ),
        Column(
            "nodes_relocating",
            "int64",
            "nodes",
            "Nodes with status relocating (moving, serving nothing), counted under their "
            "destination.",
            "adapt",
        ),
        Column(
            "capacity",
            "int64",
            "requests per day",
            "Summed daily capacity of the active nodes (attempts each can admit per day).",
            "enforce, adapt",
        ),
        Column("served", "int64", "requests", "Requests served this step by these nodes.", "serve"),
        Column(
            "revenue_usd",
            "float64",
            "USD",
            "Revenue of these nodes this step: served requests × price, plus validator "
            "emissions under the validators protocol.",
            "settle, enforce",
        ),
        Column(
            "fines_usd",
            "float64",
            "USD",
            "Fines charged to these nodes this step, by any jurisdiction.",
            "enforce",
        ),
        Column(
            "profit_usd",
            "float64",
            "USD",
            "Profit this step of the nodes that were running (active or relocating) at its "
            "start: revenue × (1 − compliance_cost_share if compliant) − hosting cost − "
            "fines − one-off costs (relocation, licence, model switch); nodes not running "
            "at the start contribute 0.",
            "adapt",
        ),
        Column(
            "market_share",
            "float64",
            "share 0–1",
            "served / all requests served this step (sums to 1 over the step's rows); NaN "
            "when nothing was served this step.",
            "serve, record",
        ),
    ),
    notes=(
        "Nodes are grouped by the host and model kind they have at the record phase, after "
        "the step's adaptation: the service, revenue and fines of a node that relocates or "
        "switches model during step t are counted under its new host or model kind for "
        "step t.",
        "nodes_taken_down and nodes_exited are stocks (running totals); "
        "nodes_active, nodes_compliant, nodes_relocating and capacity are the state at the "
        "record phase; served, revenue_usd, fines_usd and profit_usd are flows of the step.",
    ),
)

JURISDICTIONS = Table(
    name="jurisdictions",
    description="The regulators: what each jurisdiction enforced this step, and its policy.",
    row="one row per step × jurisdiction",
    key=("step", "jurisdiction"),
    source="sim.engine.recording.Recorder.tables",
    columns=(
        _step(),
        Column(
            "jurisdiction",
            "category",
            "jurisdiction name",
            "The jurisdiction (regulator).",
            "record",
        ),
        Column(
            "audits",
            "int64",
            "audits",
            "Nodes it audited this step, among its active domestic nodes and the foreign "
            "nodes that served its apparent residents (any foreign node with "
            "extraterritorial reach, else those hosted by treaty partners).",
            "enforce",
        ),
        Column(
            "violations_detected",
            "int64",
            "nodes",
            "Audited nodes found (with its detection_probability) to have served this step "
            "requests its rules prohibit: any such request for a domestic node, requests "
            "of its apparent residents for a foreign one; each is fined once.",
            "enforce",
        ),
        Column(
            "fines_usd",
            "float64",
            "USD",
            "Fines it imposed this step, domestic or foreign: per detected node max("
            "fine_min_usd, fine_share_of_annual_revenue × the node's annualised revenue).",
            "enforce",
        ),
        Column(
            "takedowns",
            "int64",
            "nodes",
            "Nodes it took down this step (detected nodes hosted at home or by a treaty "
            "partner, each with its takedown_probability).",
            "enforce",
        ),
        Column(
            "enforcement_spend_usd",
            "float64",
            "USD",
            "audits × its audit_cost_usd in force this step.",
            "enforce",
        ),
        Column(
            "prohibited_categories",
            "int64",
            "categories",
            "Number of categories its policy prohibits, policy in force during the step.",
            "emit",
        ),
        Column(
            "treaty_partners",
            "int64",
            "jurisdictions",
            "Jurisdictions linked to it in the treaty graph at the record phase (after this "
            "step's treaty growth, before this step's timeline events).",
            "adapt, record",
        ),
        Column(
            "policy",
            "str",
            "category names",
            "Categories its policy prohibits during the step, comma-separated in scenario "
            "order; the empty string when none.",
            "emit",
        ),
    ),
    notes=(
        "fines_usd and takedowns are attributed to the enforcing jurisdiction here, and to "
        "the fined node's host in `nodes`: per step, the totals agree, the breakdowns do "
        "not.",
        "Jurisdictions enforce one after another in scenario order, so a node taken down by "
        "an earlier one is not audited by a later one.",
    ),
)

NODE_STATES = Table(
    name="node_states",
    description="Every node's state, for analyses of individual nodes.",
    row="one row per node ever created × snapshot step (after the last step, and every "
    "`recording.node_snapshot_every` steps when set)",
    key=("step", "node_id"),
    source="sim.engine.recording.Recorder.tables",
    columns=(
        _step(
            "Snapshot step: the last step, and each step where (step + 1) is a multiple of "
            "`recording.node_snapshot_every` when that is set (state at the record phase)."
        ),
        Column(
            "node_id",
            "int64",
            "node id",
            "Node index, 0-based in order of creation, the same across snapshots and in "
            "`events.node_id`.",
            "record",
        ),
        Column(
            "jurisdiction",
            "category",
            "jurisdiction name",
            "Host jurisdiction at the snapshot (the destination for a relocating node).",
            "adapt, record",
        ),
        Column(
            "model",
            "category",
            "model kind name",
            "Model kind served at the snapshot.",
            "adapt, record",
        ),
        Column(
            "status",
            "category",
            "status",
            "active, taken_down, exited or relocating; taken_down and exited are final.",
            "enforce, adapt",
        ),
        Column(
            "compliant",
            "bool",
            "flag",
            "Whether the node runs its host's compliance filter and KYC gate (whatever its "
            "status).",
            "adapt",
        ),
        Column(
            "capacity",
            "int64",
            "requests per day",
            "Attempts the node can admit per day (whatever its status).",
            "record",
        ),
        Column(
            "price_usd",
            "float64",
            "USD per request",
            "Price the node charges per served request.",
            "record",
        ),
        Column(
            "served_total",
            "int64",
            "requests",
            "Requests the node has served since it joined.",
            "settle",
        ),
        Column(
            "revenue_total_usd",
            "float64",
            "USD",
            "Revenue since it joined: fees plus validator emissions.",
            "settle, enforce",
        ),
        Column(
            "fines_total_usd", "float64", "USD", "Fines charged to it since it joined.", "enforce"
        ),
        Column(
            "joined_step",
            "int64",
            "step index",
            "First step the node could serve: −1 for nodes present at the start, t + 1 for "
            "a node that entered or was added at step t (so it can exceed the snapshot "
            "step by 1).",
            "adapt, events",
        ),
    ),
    notes=(
        "Rows include nodes that are taken down or exited; filter on status for the live market.",
    ),
)

EVENTS = Table(
    name="events",
    description="The event log: every fine, takedown, node decision, policy change and "
    "timeline event, in the order they happened.",
    row="one row per event record",
    key=(),
    source="sim.engine.model.DiriskModel.log_event",
    columns=(
        _step(
            "Step during which the event was logged (timeline events fire at the end of "
            "their step and are in effect from the next).",
            "enforce, adapt, events",
        ),
        Column(
            "event",
            "str",
            "event kind",
            "Kind of event: fine and takedown (enforce); exit, relocation, model_switch, "
            "comply, defy, entry, adoption, policy_adoption, policy_tightened, "
            "policy_relaxed and treaty_joined (adapt); the timeline kinds policy_change, "
            "enforcement_change, hosting_change, treaty_signed, model_release and "
            "node_shock, and model_release of a due variant (events).",
            "enforce, adapt, events",
        ),
        Column(
            "jurisdiction",
            "str",
            "jurisdiction name",
            "The enforcing jurisdiction (fine, takedown), the node's host before its "
            "decision (exit, relocation, model_switch, comply, defy), the chosen host "
            "(entry), or the jurisdiction a policy or timeline event concerns; the empty "
            "string when none (adoption, model_release, treaty_signed, node_shock without "
            "one).",
            "enforce, adapt, events",
        ),
        Column(
            "node_id",
            "int64",
            "node id",
            "The node concerned (fine, takedown, exit, relocation, model_switch, comply, "
            "defy, entry), as in `node_states.node_id`; −1 for other events.",
            "enforce, adapt, events",
        ),
        Column(
            "detail",
            "str",
            "text",
            "Human-readable detail (fine amount, destination, model kinds, number of "
            "adopters, the timeline note); free text, not a stable format.",
            "enforce, adapt, events",
        ),
    ),
    notes=(
        "One node can have several records in one step (e.g. relocation, model_switch and "
        "comply from one decision; a fine from each of two jurisdictions).",
        "A run with no events writes an empty table whose columns have no type (Parquet "
        "null, pandas object) instead of the types above.",
    ),
)

#: Every table a run writes, by name, in the order of :data:`sim.results.tables.TABLES`.
TABLES_DICTIONARY: dict[str, Table] = {
    t.name: t for t in (METRICS, REQUESTS, ACTORS, FLOWS, NODES, JURISDICTIONS, NODE_STATES, EVENTS)
}

#: The keys of run.json, in file order.
RUN_JSON: tuple[MetaKey, ...] = (
    MetaKey("scenario_name", "string", "The scenario's `name`."),
    MetaKey(
        "scenario_hash",
        "string",
        "SHA-256 (hex) of the canonical JSON of the merged scenario: equal hashes, equal inputs.",
    ),
    MetaKey("seed", "integer", "Seed of the run's random generator."),
    MetaKey(
        "steps", "integer", "Number of steps (days) run; `step` columns run from 0 to steps − 1."
    ),
    MetaKey(
        "versions",
        "object",
        "Provenance of the run: "
        "`python`, `dirisk` (the package version) and `dirisk_build` (the version with the "
        "commit as a PEP 440 local label, `0.1.0+g1a2b3c4`, `.dirty` appended when tracked "
        "files differed from it; the version alone without git); `git_commit` (the full "
        "hash) and `git_dirty` (true/false), null unless dirisk ran from a git checkout "
        "(git asked with a short timeout; untracked files do not count); one key per "
        "direct dependency of dirisk (`[project] dependencies` of pyproject.toml as "
        "installed, lower-case names: mesa, numpy, pandas, pyarrow, …) with its installed "
        "version (null if missing); `platform` (`platform.platform()`), `machine` "
        "(`platform.machine()`), `cpu` (the CPU model from /proc/cpuinfo, else "
        "`platform.processor()`, else null) and `cpu_count` (`os.cpu_count()`); "
        "`command`: the process's `sys.argv` as a list, the `dirisk ...` command line when "
        "run from the CLI, the host program's (python, pytest, a notebook kernel) when "
        "dirisk is called as a library. All but `command` is read once per process.",
    ),
    MetaKey("started_at", "string", "When the run started, ISO 8601 in UTC."),
    MetaKey("finished_at", "string", "When the run finished, ISO 8601 in UTC."),
    MetaKey("build_seconds", "number", "Wall-clock seconds spent building the model."),
    MetaKey(
        "run_seconds",
        "number",
        "Wall-clock seconds spent stepping the model and building the tables.",
    ),
    MetaKey(
        "scenario",
        "object",
        "The merged scenario as run, defaults included (the content of scenario.yaml).",
    ),
    MetaKey("format", "string", "File format of the tables: parquet or csv."),
    MetaKey(
        "tables",
        "array",
        "Files of the tables written, `<name>.<format>` (`metrics.parquet`, …), in table "
        "order. run.json files of earlier versions list bare names (`metrics`); "
        "`Results.load` reads both.",
    ),
)

#: What scenario.yaml is.
SCENARIO_YAML = (
    "The merged scenario exactly as run: no `extends:`, every default filled in, and "
    "timeline events after the last step removed when `--steps` shortened the run. "
    "`dirisk run DIR/scenario.yaml --seed SEED` reproduces the run; `dirisk schema` prints "
    "its JSON schema and docs/ODD.md describes every parameter."
)

#: Run folder contents, for the overview.
_FILES = (
    (
        "<folder>/",
        "the run, complete or absent: written as the hidden sibling "
        "`.<folder>.<pid>-<token>.saving`, then renamed into place; a folder that is not "
        "empty is refused, or replaced whole with `--force` (`overwrite=True`)",
    ),
    ("<table>.parquet or <table>.csv", "one file per table below"),
    ("scenario.yaml", "the merged scenario as run"),
    ("run.json", "metadata of the run: scenario, seed, provenance (versions, commit, machine)"),
)

_CONVENTIONS = (
    "`step` is the day of the run, 0-based; run.json `steps` is their number.",
    "Types are pandas dtypes as written to Parquet: int64, float64, bool, category (a pandas "
    "Categorical; a dictionary-encoded string in Parquet; its categories are every name of "
    "the scenario, in scenario order, whether observed or not) and str (text). In CSV "
    "every column is plain text: category and str columns become strings, bool columns "
    "True/False, and NaN an empty field.",
    "Ratios (shares and means) are NaN when their denominator is 0: undefined, not zero.",
    "Money is USD in model units: prices and hosting costs are scaled together "
    "(docs/CALIBRATION.md section 4.4); a scenario's fine floors (`fine_min_usd`) may not "
    "be, so one fine can exceed a node's revenue by orders of magnitude.",
    "Counts of requests count requests, each once, however many attempts it made; `attempts` "
    "columns count attempts.",
    "A requester's jurisdiction in `requests`, `actors` and `flows.origin` is the residence, "
    "not the VPN exit; a node's jurisdiction is its host.",
    "The phase column names the phase(s) of the daily schedule (docs/ODD.md section 3) "
    "whose actions decide the value; a value read at the record phase reflects the state "
    "after that step's adaptation and before its timeline events.",
)


# --------------------------------------------------------------------------- sweep tables


def _point(meaning: str) -> Column:
    return Column("point", "int64", "design point", meaning)


_PART_POINT = _point(
    "Design point of the run, as in design.parquet: the part's first column, repeated by "
    "its folder name `point=P` (in a folder begun by an earlier dirisk, only there)."
)
_REPLICATION = Column(
    "replication",
    "int64",
    "replication index",
    "Replication of the design point, 0-based (0 to manifest.json `replications` − 1): "
    "runs of one point that differ only in their seed.",
)


def _factor(meaning: str) -> Column:
    return Column(
        "<factor>",
        "float64",
        "as the scenario parameter it sets",
        f"{meaning}; float64 for a `range` factor, int64 for an `integer` one, and a factor "
        "given as `values` keeps their type.",
    )


def _outcome(name: str, meaning: str) -> Column:
    return Column(name, "float64", "as the outcome's metric", meaning)


RUNS = Table(
    name="runs",
    description="The outcomes of every finished run of a sweep: its design point, seed, "
    "factor values, outcomes and whether it succeeded.",
    row="one row per finished run (ok or failed)",
    key=("point", "replication"),
    source="sim.experiments.sweep.execute",
    files="Files `outcomes/point=P/rep-R.parquet`, one part per run, read together as the "
    "view `runs` of `dirisk query` (or `sim.experiments.folder.read_parts(DIR)`)",
    columns=(
        _PART_POINT,
        _REPLICATION,
        Column(
            "seed",
            "int64",
            "seed",
            "Seed of the run: a SeedSequence child of the experiment's `seed` with spawn key "
            "(point, replication), or (replication) with `common_random_numbers` "
            "(`sim.experiments.experiment.run_seed`); independent of workers and finishing order.",
        ),
        _factor("The factor's value at this design point, set at each of the factor's paths"),
        _outcome(
            "<outcome>",
            "The outcome's `stat` of the per-step `metric` over every step, or over the last "
            "N with `last`: final is the value at the last step, mean the mean and peak the "
            "maximum over the steps with a value, total their sum; NaN for a failed run and "
            "when no step considered has a value (for final: when the last step has none).",
        ),
        Column(
            "status",
            "str",
            "status",
            "ok, or failed when building or running the scenario raised (for example at a "
            "factor value the scenario rejects).",
        ),
        Column(
            "error",
            "str",
            "text",
            "For a failed run the exception and its message (`ScenarioError: ...`); the "
            "empty string for an ok run.",
        ),
        Column(
            "seconds",
            "float64",
            "seconds",
            "Wall-clock seconds the run took on its worker: building, running and "
            "summarising the scenario (4 decimals).",
        ),
    ),
    notes=(
        "Within a part the columns are in the order above. A folder begun by an earlier "
        "dirisk has parts without `point` (its folder name holds it), and its new parts "
        "are written the same way; `dirisk query` and `read_parts` still give `point` "
        "first (see the reading methods below).",
        "A run lost with its worker has no row until the sweep is rerun (`dirisk sweep "
        "--resume`); a failed run is rerun only with `--retry-failed`.",
        "Runs of one design point are replications: average their outcomes (`summary`) "
        "rather than reading one run.",
    ),
)

RUN_METRICS = Table(
    name="run_metrics",
    description="The per-step headline metrics of every run of a sweep, saved when the "
    "experiment sets `save_metrics: true`.",
    row="one row per finished ok run × step",
    key=("point", "replication", "step"),
    source="sim.experiments.sweep.SweepFolder.save",
    files="Files `metrics/point=P/rep-R.parquet`, one part per run, read together as the "
    'view `metrics` of `dirisk query` (or `sim.experiments.folder.read_parts(DIR, "metrics")`)',
    columns=(
        _PART_POINT,
        _REPLICATION,
        Column("step", "int64", "step index", "Day of the run, 0-based, as in `metrics`."),
        Column(
            "<metric>",
            "float64",
            "as in `metrics`",
            "The metric at this step, exactly as the metrics table of a single run "
            "documents it (int64 for its count columns).",
        ),
    ),
    notes=(
        "A failed run has no metrics part.",
        "Within a part the columns are in the order above; as for `runs`, a folder begun "
        "by an earlier dirisk has parts without `point`.",
    ),
)

DESIGN = Table(
    name="design",
    description="The design points of a sweep: the factor settings at which the "
    "experiment runs, each `replications` times.",
    row="one row per design point",
    key=("point",),
    source="sim.experiments.design.design_points",
    files="File `design.parquet`, written when the sweep folder is created (view `design`)",
    columns=(
        _point("Design point, 0-based, in design order."),
        _factor("The factor's value at this design point"),
    ),
    notes=(
        "The design is decided by the experiment alone (samplers are seeded with "
        "`design.seed`, default the experiment's `seed`): the same experiment gives the "
        "same points.",
        "Saltelli and Morris points are in the order SALib's analysers expect; keep that "
        "order (sort by `point`) when analysing them yourself.",
        "An experiment of `futures` (the sweeps of `dirisk robust` and `dirisk optimize`) "
        "has no factors (manifest.json `factors` is empty, runs hold no factor column): "
        "its design holds `point` and one column per uncertain parameter path, each "
        "future's values, as the `<parameter>` columns of futures.csv.",
    ),
)

SUMMARY = Table(
    name="summary",
    description="Per design point, how many runs succeeded and each outcome's mean over "
    "the successful replications with a 95% confidence interval.",
    row="one row per design point with at least one finished run",
    key=("point",),
    source="sim.analysis.query.summarize",
    files="Files `summary.parquet` and `summary.csv`, written by `dirisk summarize` "
    "(view `summary`)",
    columns=(
        _point("Design point, as in design.parquet."),
        _factor("The factor's value at this design point"),
        Column("runs_ok", "int64", "runs", "Finished runs of the point with status ok."),
        Column("runs_failed", "int64", "runs", "Finished runs of the point with status failed."),
        _outcome(
            "<outcome>",
            "Mean of the outcome over the point's ok runs, NaN outcomes left out; NaN when "
            "no run has a value.",
        ),
        _outcome(
            "<outcome>_ci_low",
            "Lower bound of the 95% confidence interval of the mean (Student's t at the "
            "number of values n): mean − t(0.975, n − 1) × standard deviation / √n; NaN "
            "with fewer than two values.",
        ),
        _outcome(
            "<outcome>_ci_high",
            "Upper bound of the 95% confidence interval of the mean: mean + t(0.975, n − 1) × "
            "standard deviation / √n (Student's t); NaN with fewer than two values.",
        ),
    ),
    notes=(
        "The three columns of each outcome are adjacent: `<outcome>`, `<outcome>_ci_low`, "
        "`<outcome>_ci_high`, outcome after outcome.",
        "Rerun `dirisk summarize` after the sweep gains runs: the file is not updated by itself.",
    ),
)

SENSITIVITY = Table(
    name="sensitivity",
    description="Global sensitivity indices of a Saltelli sweep (Sobol indices) or a "
    "Morris sweep (elementary effects): how much each factor moves each outcome.",
    row="one row per outcome × factor",
    key=("outcome", "factor"),
    source="sim.analysis.sensitivity.analyze",
    files="Files `sensitivity.parquet` and `sensitivity.csv`, written by `dirisk "
    "sensitivity` (figures in `sensitivity/`)",
    columns=(
        Column("outcome", "str", "outcome name", "The outcome analysed, a `<outcome>` name."),
        Column("factor", "str", "factor name", "The factor, a `<factor>` name."),
        Column(
            "S1",
            "float64",
            "share of variance 0–1",
            "Saltelli designs only: first-order Sobol index, the share of the outcome's "
            "variance over the design explained by the factor alone (estimates can fall "
            "slightly outside 0–1).",
        ),
        Column(
            "S1_conf",
            "float64",
            "share of variance",
            "Saltelli designs only: half-width of the 95% bootstrap confidence interval of S1.",
        ),
        Column(
            "ST",
            "float64",
            "share of variance 0–1",
            "Saltelli designs only: total Sobol index, the share of the variance explained "
            "by the factor with all its interactions (ST − S1 is the interaction part).",
        ),
        Column(
            "ST_conf",
            "float64",
            "share of variance",
            "Saltelli designs only: half-width of the 95% bootstrap confidence interval of ST.",
        ),
        Column(
            "mu",
            "float64",
            "outcome units per factor range",
            "Morris designs only: mean elementary effect, sign kept (the outcome's change "
            "over one Morris step divided by the step as a share of the factor's range).",
        ),
        Column(
            "mu_star",
            "float64",
            "outcome units per factor range",
            "Morris designs only: mean absolute elementary effect, the factor's overall "
            "importance.",
        ),
        Column(
            "mu_star_conf",
            "float64",
            "outcome units per factor range",
            "Morris designs only: half-width of the 95% bootstrap confidence interval of mu_star.",
        ),
        Column(
            "sigma",
            "float64",
            "outcome units per factor range",
            "Morris designs only: standard deviation of the elementary effects, large when "
            "the effect is non-linear or depends on other factors.",
        ),
    ),
    notes=(
        "A Saltelli sweep writes outcome, factor, S1, S1_conf, ST and ST_conf; a Morris "
        "sweep outcome, factor, mu, mu_star, mu_star_conf and sigma.",
        "Each outcome is first averaged over the successful replications of each design "
        "point; every design point needs one.",
    ),
)

DISCOVERY = Table(
    name="discovery",
    description="Scenario discovery: boxes (a range per factor) where an outcome is "
    "mostly above, or below, a threshold; found by a shallow decision tree (one box per "
    "leaf where such runs are the majority) or by PRIM (one box).",
    row="one row per box",
    key=("box",),
    source="sim.analysis.discovery.discover",
    files="File `discovery.csv`, written by `dirisk discover` (each call replaces it)",
    columns=(
        Column(
            "box",
            "int64",
            "box number",
            "Box number from 1, by coverage then density (the most coverage first).",
        ),
        Column(
            "rule",
            "str",
            "text",
            "The box as a rule over the factors it restricts, such as `audit_rate <= 0.05 "
            "and 0.4 < malicious_vpn_use <= 0.8` (tree boxes exclude their lower limits, "
            "PRIM boxes include them); `all runs` when it restricts none.",
        ),
        Column(
            "coverage",
            "float64",
            "share 0–1",
            "Cases of interest (successful runs with the outcome beyond the threshold) in "
            "the box / all cases of interest: how much of the problem the box explains.",
        ),
        Column(
            "density",
            "float64",
            "share 0–1",
            "Cases of interest in the box / successful runs in the box: how reliably being "
            "in the box means the problem occurs.",
        ),
        Column(
            "runs",
            "int64",
            "runs",
            "Successful runs in the box (each replication counts).",
        ),
        Column(
            "<factor>_low",
            "float64",
            "as the scenario parameter it sets",
            "Lower limit of the factor in the box; the smallest value among the runs when "
            "the box does not restrict it from below.",
        ),
        Column(
            "<factor>_high",
            "float64",
            "as the scenario parameter it sets",
            "Upper limit of the factor in the box; the largest value among the runs when "
            "the box does not restrict it from above.",
        ),
    ),
    notes=(
        "The file does not record the outcome and threshold: `dirisk discover` prints "
        "them, and `sim.analysis.discovery.discover` returns them in the table's `attrs`.",
    ),
)

#: Every table of a sweep folder, by name.
SWEEP_TABLES: dict[str, Table] = {
    t.name: t for t in (RUNS, RUN_METRICS, DESIGN, SUMMARY, SENSITIVITY, DISCOVERY)
}

#: The keys of a sweep's manifest.json, in file order once a sweep has finished.
MANIFEST_JSON: tuple[MetaKey, ...] = (
    MetaKey("experiment_name", "string", "The experiment's `name`."),
    MetaKey(
        "experiment_hash",
        "string",
        "SHA-256 (hex) of the canonical JSON of the resolved experiment (base scenario "
        "included): the folder accepts only runs of the experiment with this hash.",
    ),
    MetaKey("design", "string", "The design kind: grid, lhs, saltelli or morris."),
    MetaKey("factors", "array", "The factor names, in experiment order: the `<factor>` columns."),
    MetaKey(
        "outcomes",
        "array",
        "The outcome column names, in experiment order: the `<outcome>` columns.",
    ),
    MetaKey("points", "integer", "Number of design points (rows of design.parquet)."),
    MetaKey("replications", "integer", "Runs per design point, each with its own seed."),
    MetaKey("runs", "integer", "Runs of the experiment: points × replications."),
    MetaKey("created_at", "string", "When the folder was created, ISO 8601 in UTC."),
    MetaKey(
        "versions",
        "object",
        "Provenance of the process that created the folder, with the keys of run.json "
        "`versions`: `python`, `dirisk`, `dirisk_build`, `git_commit`, `git_dirty`, one "
        "per direct dependency, `platform`, `machine`, `cpu`, `cpu_count` and `command` "
        "(the `dirisk sweep ...` command line, as a list).",
    ),
    MetaKey(
        "started_at",
        "string",
        "When the latest sweep into the folder started (each rerun updates it), ISO 8601 in UTC.",
    ),
    MetaKey(
        "state",
        "string",
        "running while a sweep runs (or after one was killed); complete when every run has "
        "an outcomes part; incomplete when some runs are missing (rerun to finish); "
        "interrupted when the sweep stopped early, with its reason in `reason`: no Dask "
        "scheduler answered, the cluster had no worker for the grace period "
        "(`sim.experiments.sweep.WORKER_GRACE_SECONDS`), or the command was stopped "
        "(rerun or `dirisk sweep --resume --out DIR` to finish).",
    ),
    MetaKey(
        "reason",
        "string",
        "Why the latest sweep stopped early (state interrupted): the message `dirisk "
        "sweep` printed, or what stopped the command (`stopped by KeyboardInterrupt`); the "
        "empty string otherwise.",
    ),
    MetaKey(
        "finished_at",
        "string",
        "When the latest sweep ended (finished or was interrupted), ISO 8601 in UTC; absent "
        "until one has.",
    ),
    MetaKey("ok", "integer", "Runs with status ok when the latest sweep ended."),
    MetaKey("failed", "integer", "Runs with status failed when the latest sweep ended."),
)

#: Sweep folder contents, for the overview.
_SWEEP_FILES = (
    (
        "experiment.yaml",
        "the resolved experiment, base scenario included: `dirisk sweep DIR/experiment.yaml "
        "--out DIR2` reruns every run",
    ),
    ("manifest.json", "metadata of the sweep: factors, outcomes, run counts, state"),
    ("design.parquet", "the design points (table `design`)"),
    ("outcomes/point=P/rep-R.parquet", "one part per finished run (table `runs`)"),
    (
        "metrics/point=P/rep-R.parquet",
        "one part per ok run with `save_metrics: true` (table `run_metrics`)",
    ),
    ("summary.parquet, summary.csv", "after `dirisk summarize` (table `summary`)"),
    (
        "sensitivity.parquet, sensitivity.csv, sensitivity/",
        "after `dirisk sensitivity` (table `sensitivity`, and its figures)",
    ),
    ("discovery.csv", "after `dirisk discover` (table `discovery`)"),
)


def _placeholders_text(tables: Iterable[Table]) -> str:
    """The convention on the placeholder columns of ``tables``."""
    names = dict.fromkeys(p for t in tables for p in t.placeholders)
    return (
        "A column named with a placeholder in angle brackets stands for one column per name "
        "the experiment gives it: "
        + "; ".join(f"`<{name}>` is {PLACEHOLDERS[name]}" for name in names)
        + "."
    )


_SWEEP_CONVENTIONS = (
    _placeholders_text(SWEEP_TABLES.values()),
    "`point` numbers the design points from 0 and `replication` the runs of a point from "
    "0; together they identify a run, and the part's path names both.",
    "Every part is written atomically as its run finishes, so a part that exists is "
    "complete, and a killed sweep resumes where it stopped.",
    '`dirisk query DIR "SQL"` runs DuckDB SQL over the views `runs`, `metrics` '
    "(table `run_metrics`), `design` and `summary`.",
    "Each outcomes and metrics part holds `point` as an int64 column, and its folder name "
    "`point=P` repeats it (hive partitioning). Every reading method below gives one "
    "int64 `point` column, and sorting by it gives design order (0, 1, 2, …, 10, not 0, "
    "1, 10, 2): `dirisk query` and `sim.experiments.folder.read_parts(DIR, KIND)` "
    "(`point` first; `read_parts` sorted by point and replication, and step); DuckDB's "
    "`read_parquet('DIR/KIND/*/*.parquet')`, or with `hive_partitioning = true, "
    "hive_types = {'point': BIGINT}, union_by_name = true` as dirisk reads it (the "
    "folder's value and the part's are one column); `pandas.read_parquet(DIR/KIND, "
    "partitioning=P)` and `pyarrow.dataset.dataset(DIR/KIND, partitioning=P)` with "
    "`P = pyarrow.dataset.partitioning(pyarrow.schema([('point', pyarrow.int64())]), "
    "flavor='hive')`; and for folders whose parts hold `point`, `pandas.read_parquet("
    "DIR/KIND, partitioning=None)` and `pyarrow.dataset.dataset(DIR/KIND)`, which read "
    "it from the parts. Plain `pandas.read_parquet(DIR/KIND)` (and `partitioning='hive'` "
    "in pyarrow) fails with ArrowTypeError (Unable to merge): pyarrow types the folder "
    "name int32 and will not merge it with the part's int64 column.",
)


# --------------------------------------------------------------------------- rendering


def table(name: str) -> Table:
    """The dictionary entry of table ``name`` (of a run, a sweep folder or the folder of an
    experiment command).

    Raises:
        UnknownTable: no table of that name.
    """
    found = TABLES_DICTIONARY.get(name) or SWEEP_TABLES.get(name) or EXPERIMENT_TABLES.get(name)
    if found is None:
        groups = [
            f"{command} tables: {', '.join([*f.by_name, *filter(None, [f.json_name])])}"
            for command, f in EXPERIMENT_FOLDERS.items()
        ]
        raise UnknownTable(
            f"unknown table {name!r}; tables: {', '.join(TABLES_DICTIONARY)}, run.json; "
            f"sweep tables: {', '.join(SWEEP_TABLES)}, manifest.json; " + "; ".join(groups)
        )
    return found


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _row(cells: list[str]) -> str:
    """One row of a Markdown table."""
    return "|" + "|".join(f" {_cell(c)} " if c != "---" else c for c in cells) + "|"


def _table_markdown(t: Table) -> list[str]:
    """The section of one table."""
    phased = any(c.phase for c in t.columns)
    out = [
        f"## {t.name}",
        "",
        f"{t.description} {t.location}; {t.row}.",
        "",
        (
            f"Key: {', '.join(f'`{k}`' for k in t.key)}."
            if t.key
            else "No key: rows are records in the order they were logged."
        )
        + (f" Built by `{t.source}`." if t.source else ""),
        "",
        _row(["column", "type", "unit", *(["phase"] if phased else []), "meaning"]),
        _row(["---"] * (5 if phased else 4)),
        *(
            _row([f"`{c.name}`", c.type, c.unit, *([c.phase] if phased else []), c.meaning])
            for c in t.columns
        ),
        "",
    ]
    if t.notes:
        out += ["Notes:", "", *(f"* {_cell(n)}" for n in t.notes), ""]
    return out


def _keys_markdown(title: str, intro: str, keys: tuple[MetaKey, ...]) -> list[str]:
    """The section of a JSON file's keys."""
    return [
        f"## {title}",
        "",
        intro,
        "",
        "| key | JSON type | meaning |",
        "|---|---|---|",
        *(f"| `{k.name}` | {k.type} | {_cell(k.meaning)} |" for k in keys),
        "",
    ]


def _overview_markdown(files: tuple[tuple[str, str], ...], tables: dict[str, Table]) -> list[str]:
    """The files of a folder and the tables it holds."""
    return [
        "| file | what it holds |",
        "|---|---|",
        *(f"| `{name}` | {_cell(what)} |" for name, what in files),
        "",
        "| table | one row per |",
        "|---|---|",
        *(
            f"| [`{t.name}`](#{t.name}) | {_cell(t.row.removeprefix('one row per '))} |"
            for t in tables.values()
        ),
        "",
    ]


def render_markdown() -> str:
    """docs/DATA.md: the whole dictionary as Markdown."""
    out = [
        "# dirisk output data dictionary",
        "",
        "<!-- Generated by `python -m sim.output.dictionary` from sim/output/dictionary.py. "
        "Do not edit by hand; tests/test_dictionary.py fails when this file and the code "
        "disagree. -->",
        "",
        "**This file is generated** from `sim/output/dictionary.py` "
        "(`python -m sim.output.dictionary`); edit the dictionary there, never here. "
        "`dirisk describe [TABLE]` prints the same in the terminal.",
        "",
        "**Column names are a stable public interface**: the names, types and units below "
        "are what analysis code may rely on. A column is renamed, retyped or removed only "
        "with a note here.",
        "",
        "A run (`dirisk run`, or `sim.run(...).save(DIR)`) writes one folder:",
        "",
        *_overview_markdown(_FILES, TABLES_DICTIONARY),
        "A sweep (`dirisk sweep EXPERIMENT --out DIR`) writes a [sweep folder](#sweep-folders); "
        "the experiment commands write folders of their own: "
        + ", ".join(
            f"`{f.command}` [{f.title.lower()}](#{f.title.lower().replace(' ', '-')})"
            for f in EXPERIMENT_FOLDERS.values()
        )
        + ".",
        "",
        "## Conventions",
        "",
        *(f"* {c}" for c in _CONVENTIONS),
        "",
        "Phases of a step, in order:",
        "",
        "| phase | what happens |",
        "|---|---|",
        *(f"| {p} | {_cell(PHASE_MEANINGS[p])} |" for p in PHASES),
        "",
    ]
    for t in TABLES_DICTIONARY.values():
        out += _table_markdown(t)
    out += _outcomes_markdown()
    out += _keys_markdown("run.json", "Metadata of the run, a JSON object:", RUN_JSON)
    out += ["## scenario.yaml", "", SCENARIO_YAML, ""]
    out += [
        "## Sweep folders",
        "",
        "A sweep (`dirisk sweep EXPERIMENT --out DIR`, or `sim.experiments.sweep.sweep`) runs an "
        "experiment's runs into one folder; `dirisk summarize`, `dirisk sensitivity` and "
        "`dirisk discover` add their tables to it:",
        "",
        *_overview_markdown(_SWEEP_FILES, SWEEP_TABLES),
        *(f"* {c}" for c in _SWEEP_CONVENTIONS),
        "",
    ]
    for t in SWEEP_TABLES.values():
        out += _table_markdown(t)
    out += _keys_markdown("manifest.json", "Metadata of the sweep, a JSON object:", MANIFEST_JSON)
    for folder in EXPERIMENT_FOLDERS.values():
        out += _folder_markdown(folder)
    return _join(out)


def _folder_markdown(folder: FolderKind) -> list[str]:
    """The section of the folder an experiment command writes, then one per table and
    its JSON file."""
    placeholders = [_placeholders_text(folder.tables)] if folder.placeholders else []
    out = [
        f"## {folder.title}",
        "",
        folder.intro,
        "",
        *_overview_markdown(folder.files, folder.by_name),
        *(f"* {c}" for c in [*placeholders, *folder.conventions]),
        "",
    ]
    for t in folder.tables:
        out += _table_markdown(t)
    if folder.json_name:
        out += _keys_markdown(folder.json_name, folder.json_intro, folder.json_keys)
    return out


def _outcomes_markdown() -> list[str]:
    """The section on run-level outcomes, from the outcome registry."""
    out = [
        "## Run-level outcomes",
        "",
        "One number per run, computed from its `metrics` table and defined once "
        "(`sim.results.outcomes`): the run summary, the frontier, sweeps (as outcome "
        "columns), reports, the explorer and the adapters all use these definitions. "
        "Σ sums over the run's steps.",
        "",
        _row(["outcome", "unit", "aggregation", "formula", "meaning"]),
        _row(["---"] * 5),
    ]
    for o in OUTCOMES.values():
        out.append(_row([f"`{o.name}`", o.unit, o.aggregation, o.formula, o.meaning]))
    return [*out, ""]


def _describe_outcomes() -> list[str]:
    lines = ["Run-level outcomes (one number per run, from its metrics table):", ""]
    for o in OUTCOMES.values():
        lines.append(f"  {o.name}  {o.unit}, {o.aggregation}: {o.formula}")
        lines += _wrap(o.meaning, "      ")
    return lines


def _join(lines: list[str]) -> str:
    """Lines to text ending in one newline."""
    return "\n".join(lines).rstrip("\n") + "\n"


def _wrap(text: str, indent: str, width: int = 88) -> list[str]:
    return textwrap.wrap(text, width=width, initial_indent=indent, subsequent_indent=indent)


def _list_tables(tables: dict[str, Table], extra: tuple[str, str] | None, width: int) -> list[str]:
    """One line (wrapped) per table, then the metadata file (if any)."""
    lines = []
    for t in tables.values():
        lines += textwrap.wrap(
            f"{t.name.ljust(width)}{t.row}",
            width=88,
            initial_indent="  ",
            subsequent_indent=" " * (width + 2),
        )
    return lines + (["", f"  {extra[0].ljust(width)}{extra[1]}"] if extra else [])


def _describe_keys(title: str, keys: tuple[MetaKey, ...]) -> list[str]:
    lines = [title, ""]
    for k in keys:
        lines.append(f"  {k.name}  ({k.type})")
        lines += _wrap(k.meaning, "      ")
    return lines


def _json_summary(folder: FolderKind) -> str:
    """What the folder's JSON file holds, as its overview says."""
    return dict(folder.files)[folder.json_name]


def _describe_folders(width: int) -> list[str]:
    """The overview of the experiment commands' folders, one group per command."""
    lines: list[str] = []
    for folder in EXPERIMENT_FOLDERS.values():
        varying = [f"<{p}>" for p in folder.placeholders]
        extra = (folder.json_name, _json_summary(folder)) if folder.json_name else None
        lines += [
            "",
            f"Tables of {folder.label} ({folder.command}"
            + (f"; {_and(varying)} columns depend on the experiment" if varying else "")
            + "):",
            "",
            *_list_tables(folder.by_name, extra, width),
        ]
        if folder.sweeps:
            lines += _wrap(f"{folder.sweeps}, with the tables of a sweep folder above", "  ")
    return lines


def _and(items: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return " and ".join([", ".join(items[:-1]), items[-1]] if len(items) > 1 else items)


def describe(name: str | None = None) -> str:
    """Plain-text description for the terminal.

    Args:
        name: A table name (of a run, a sweep folder or an experiment command's folder),
            ``"run.json"``, ``"manifest.json"``, the JSON file of an experiment command's
            folder (``"robust.json"``, ...) or ``"outcomes"``; None for an overview of
            every table.

    Raises:
        UnknownTable: ``name`` is none of these.
    """
    folders = {f.json_name: f for f in EXPERIMENT_FOLDERS.values() if f.json_name}
    if name is None:
        names = (*TABLES_DICTIONARY, *SWEEP_TABLES, *EXPERIMENT_TABLES, "manifest.json", *folders)
        width = max(len(t) for t in names) + 2
        lines = [
            "Tables of a run (each written as <table>.parquet or <table>.csv, with "
            "scenario.yaml and run.json):",
            "",
            *_list_tables(TABLES_DICTIONARY, ("run.json", "metadata of the run"), width),
            "",
            "Tables of a sweep folder (dirisk sweep; <factor> and <outcome> columns depend "
            "on the experiment):",
            "",
            *_list_tables(SWEEP_TABLES, ("manifest.json", "metadata of the sweep"), width),
            *_describe_folders(width),
            "",
            "`dirisk describe TABLE` lists a table's columns, `dirisk describe outcomes` the "
            "run-level outcomes; docs/DATA.md has all of them.",
        ]
        return "\n".join(lines) + "\n"
    if name in ("run.json", "run"):
        lines = _describe_keys("run.json: metadata of the run (a JSON object)", RUN_JSON)
        lines += [""] + _wrap(f"scenario.yaml: {SCENARIO_YAML}", "")
        return "\n".join(lines) + "\n"
    if name == "outcomes":
        return "\n".join(_describe_outcomes()) + "\n"
    if name in ("manifest.json", "manifest"):
        title = "manifest.json: metadata of a sweep folder (a JSON object)"
        return "\n".join(_describe_keys(title, MANIFEST_JSON)) + "\n"
    if name in folders:
        folder = folders[name]
        title = f"{name} of {folder.label} ({folder.command}): {_json_summary(folder)}"
        return "\n".join(_describe_keys(f"{title} (a JSON object)", folder.json_keys)) + "\n"
    t = table(name)
    lines = _wrap(f"{t.name}: {t.description}", "")
    lines += _wrap(f"{t.location}; {t.row}.", "")
    if t.key:
        lines.append(f"Key: {', '.join(t.key)}.")
    lines.append("")
    for c in t.columns:
        lines.append(f"  {c.name}  {c.type}, {c.unit}" + (f"  [{c.phase}]" if c.phase else ""))
        lines += _wrap(c.meaning, "      ")
    if t.placeholders:
        lines += [""]
        for p in t.placeholders:
            lines += _wrap(f"<{p}> is {PLACEHOLDERS[p]}.", "")
    if t.notes:
        lines += ["", "Notes:"]
        for n in t.notes:
            lines += textwrap.wrap(n, width=88, initial_indent="  - ", subsequent_indent="    ")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- main

#: Where the generated Markdown lives in a source checkout.
DATA_MD = Path(__file__).resolve().parents[2] / "docs" / "DATA.md"


def main(argv: list[str] | None = None) -> int:
    """Write docs/DATA.md atomically (or print it with ``--stdout``)."""
    parser = argparse.ArgumentParser(
        prog="python -m sim.output.dictionary",
        description="Generate docs/DATA.md from the data dictionary.",
    )
    parser.add_argument("--stdout", action="store_true", help="print instead of writing")
    parser.add_argument(
        "--output", type=Path, default=DATA_MD, help=f"file to write (default: {DATA_MD})"
    )
    args = parser.parse_args(argv)
    text = render_markdown()
    if args.stdout:
        sys.stdout.write(text)
        return 0
    from sim.common.files import atomic_write_text

    atomic_write_text(args.output, text)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
