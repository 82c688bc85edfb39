"""Run: pick a preset or upload a scenario, turn the main levers, run, read the charts.

The levers always show what will run: choosing a preset or uploading a file sets every
lever to that scenario's values (so does "Reset levers to the scenario"), and they keep
their values when you visit another page. A simulation runs when **Run** is pressed; the
charts show that run until the next press, and say so when the levers have changed since.
"""

from __future__ import annotations

import hashlib

import pandas as pd
import streamlit as st

from sim.app.charts import area_chart, share_chart, timeline_marks
from sim.app.controls import Controls, apply, read_upload, run_key, work_limit_problem
from sim.app.session import run_cached
from sim.scenario import ScenarioError, list_presets, load_scenario, validate

__all__: list[str] = []

PROTOCOLS = ["open", "gateway", "p2p", "validators"]

st.title("Run a scenario")
presets = list_presets()
source = st.radio("Scenario", ["Preset", "Upload a YAML file"], horizontal=True, key="source")
base = None
own_description = None
parent = None
if source == "Preset":
    name = st.selectbox(
        "Preset", list(presets), index=list(presets).index("classroom_demo"), key="preset"
    )
    base = load_scenario(name).to_dict()
    scenario_id = f"preset:{name}"
else:
    upload = st.file_uploader("Scenario file (YAML, may extend a preset)", type=["yaml", "yml"])
    if upload is not None:
        content = upload.getvalue()
        try:
            raw = read_upload(upload.name, content)
            base = load_scenario(raw, source=upload.name).to_dict()
            own_description = str(raw.get("description") or "")
            parent = raw.get("extends")
            scenario_id = f"upload:{hashlib.sha256(content).hexdigest()[:16]}"
        except ScenarioError as exc:
            st.error(str(exc))
if base is None:
    st.info("Choose a preset, or upload a valid scenario file.")
    st.stop()

if own_description is not None and not own_description:
    inherits = f"; it extends {parent}" if parent else ""
    st.caption(f"(The uploaded file has no description{inherits}.)")
else:
    st.caption(own_description or base.get("description", ""))
if base.get("question"):
    st.markdown(f"**Question.** {base['question']}")

kinds = base["requesters"]["kinds"]
market = base.get("market", {})
defaults = {
    "steps": min(int(base["steps"]), 365),
    "seed": int(base["seed"]),
    "malicious": float(kinds["malicious"]["share"]),
    "vpn": float(kinds["malicious"].get("vpn_use", 0.0)),
    "persistence": int(kinds["malicious"]["persistence"]),
    "permissive": 0.0,
    **{f"audit_{j}": 1.0 for j in base["jurisdictions"]},
    "treaty": False,
    "kyc": False,
    "protocol": market.get("protocol", "open"),
    "probe": float(market.get("validators", {}).get("probe_rate", 0.0)),
}
#: Lever values that outlive the page: widget state is dropped when another page shows.
levers: dict = st.session_state.setdefault("levers", {})


def reset_levers() -> None:
    """Every lever to the chosen scenario's value."""
    for key, value in defaults.items():
        st.session_state[key] = value
        levers[key] = value
    levers["scenario"] = scenario_id


if levers.get("scenario") != scenario_id:
    reset_levers()
for key, value in defaults.items():
    if key not in st.session_state:
        st.session_state[key] = levers.get(key, value)

with st.sidebar:
    st.header("Levers")
    st.button("Reset levers to the scenario", on_click=reset_levers, key="reset")
    st.slider("Days to simulate", 5, 365, key="steps")
    st.number_input("Seed", step=1, key="seed")
    st.slider(
        "Malicious share of requesters", 0.0, 0.10, step=0.005, format="%.3f", key="malicious"
    )
    st.slider("VPN use by malicious actors", 0.0, 1.0, step=0.05, key="vpn")
    st.slider("Retries after a refusal (malicious)", 0, 10, key="persistence")
    st.slider(
        "Share of permissive nodes (uncensored, abliterated, base)",
        0.0,
        1.0,
        step=0.05,
        key="permissive",
        help="0 keeps the scenario's own model mix.",
    )
    st.subheader("Enforcement strength")
    for j in base["jurisdictions"]:
        st.slider(f"{j}: audit-rate multiplier", 0.0, 10.0, step=0.5, key=f"audit_{j}")
    st.checkbox("Everyone signs an enforcement treaty", key="treaty")
    st.checkbox("KYC mandate in every jurisdiction", key="kyc")
    st.selectbox("Market protocol", PROTOCOLS, key="protocol")
    st.slider(
        "Validator probe rate",
        0.0,
        1.0,
        step=0.05,
        key="probe",
        disabled=st.session_state["protocol"] != "validators",
    )
for key in defaults:
    levers[key] = st.session_state[key]

state = st.session_state
controls = Controls(
    steps=state["steps"],
    audit_multiplier={
        j: state[f"audit_{j}"] for j in base["jurisdictions"] if state[f"audit_{j}"] != 1.0
    },
    treaty_all=state["treaty"],
    kyc_everywhere=state["kyc"],
    protocol=state["protocol"],
    probe_rate=state["probe"] if state["protocol"] == "validators" else None,
    permissive_share=state["permissive"] or None,
    malicious_share=state["malicious"],
    malicious_vpn_use=state["vpn"],
    malicious_persistence=state["persistence"],
)
try:
    spec = validate(apply(base, controls), source=base["name"])
except ScenarioError as exc:
    st.error(str(exc))
    st.stop()
seed = int(state["seed"])
st.session_state["run_page_scenario"] = spec.to_dict()  # for the Compare page
too_big = work_limit_problem(spec)
if too_big:
    st.error(too_big)
    st.stop()

shown = st.session_state.get("shown_run")
if st.button("Run", type="primary", key="run"):
    previous = shown
    cancel = st.empty()
    # Any click starts the page again, which stops a run between two days.
    cancel.button("Cancel this run", key="cancel")
    run_cached(spec, seed)
    cancel.empty()
    shown = {"key": run_key(spec, seed), "previous": previous["key"] if previous else None}
    st.session_state["shown_run"] = shown
runs = st.session_state.get("runs", {})
if not shown or shown["key"] not in runs:
    st.info("Set the levers, then press **Run**.")
    st.stop()
results = runs[shown["key"]]
st.session_state["last_run"] = shown["key"]
if shown["key"] != run_key(spec, seed):
    st.warning(
        "The levers (or the scenario) have changed since this run: the charts show the "
        "last run; press **Run** to simulate the new settings."
    )
ran = load_scenario(results.meta["scenario"])
m = results.metrics
summary = results.summary().set_index("outcome")["value"]
before = runs.get(shown.get("previous") or "")
earlier = before.summary().set_index("outcome")["value"] if before is not None else None


def share(value: float) -> str:
    """A share for people; n/a where it is undefined (nothing to divide by)."""
    return "n/a" if pd.isna(value) else f"{value:.1%}"


def change(name: str, *, percent: bool) -> str | None:
    """The change against the previous run (None without one)."""
    if earlier is None or pd.isna(summary[name]) or pd.isna(earlier[name]):
        return None
    delta = summary[name] - earlier[name]
    return f"{100 * delta:+.1f} pp" if percent else f"{delta:+,.0f}"


tiles = st.columns(4)
tiles[0].metric(
    "Harmful requests completed",
    f"{int(summary['harmful_completed']):,}",
    change("harmful_completed", percent=False),
    delta_color="inverse",
)
for tile, name, label in (
    (tiles[1], "harm_completion_rate", "Harm completion rate"),
    (tiles[2], "dual_use_over_refusal", "Dual-use over-refusal"),
    (tiles[3], "policy_leakage", "Policy leakage"),
):
    tile.metric(label, share(summary[name]), change(name, percent=True), delta_color="inverse")
if earlier is not None:
    st.caption("Small numbers under the tiles: the change against the previous run.")
st.caption(
    f"{ran.name}, seed {results.meta['seed']}, {results.meta['steps']} days. Lines are "
    "7-day means; dotted lines mark the timeline's events where they take effect."
)

marks = timeline_marks(ran)
raw = st.toggle("Show the raw daily values too", key="raw")
#: The share charts: (heading, columns and their names, y axis, key, caption).
SHARE_CHARTS = (
    (
        "Harm",
        {"harm_completion_rate": "harm completion", "malicious_success_share": "malicious success"},
        "share of malicious attempts / actors",
        "harm_chart",
        "Harm completion: the share of malicious actors' harmful requests that some node "
        "served. Malicious success: the share of malicious actors who got at least one "
        "harmful request served that day.",
    ),
    (
        "The cost to legitimate users",
        {
            "benign_over_refusal": "benign over-refusal",
            "dual_use_over_refusal": "dual-use over-refusal",
        },
        "share of legitimate requests refused",
        "refusal_chart",
        "Over-refusal: the share of benign (or legitimate dual-use: security researchers, "
        "chemists) requests that ended refused after every retry.",
    ),
    (
        "Where requests are served",
        {"cross_border_share": "served across a border", "policy_leakage": "policy leakage"},
        "share of requests",
        "border_chart",
        "Served across a border: requests served by a node outside the requester's home "
        "jurisdiction. Policy leakage: requests prohibited where the requester lives that "
        "were served anyway.",
    ),
)
for heading, columns, title, key, caption in SHARE_CHARTS:
    st.subheader(heading)
    st.plotly_chart(share_chart(m, columns, title=title, marks=marks, raw=raw), key=key)
    st.caption(caption)
st.subheader("The market")
nodes = results.nodes
by_jur = nodes.pivot_table(
    index="step", columns="jurisdiction", values="nodes_active", aggfunc="sum", observed=True
)
by_model = nodes.pivot_table(
    index="step", columns="model", values="nodes_active", aggfunc="sum", observed=True
)
left, right = st.columns(2)
left.plotly_chart(
    area_chart(by_jur, title="active nodes (stacked)", marks=marks), key="nodes_by_jurisdiction"
)
left.caption("Active nodes by host jurisdiction; the top of the stack is all active nodes.")
right.plotly_chart(
    area_chart(by_model, title="active nodes (stacked)", marks=marks), key="nodes_by_model"
)
right.caption("Active nodes by the model kind they serve.")
st.plotly_chart(
    share_chart(
        m,
        {"compliance_rate": "compliant nodes", "permissive_node_share": "permissive nodes"},
        title="share of active nodes",
        marks=marks,
        raw=raw,
    ),
    key="node_share_chart",
)
st.caption(
    "Compliant nodes: active nodes running their host's filter and KYC. Permissive "
    "nodes: those serving a model that refuses harmful requests less than half the time."
)
st.session_state["last_scenario_name"] = spec.name
with st.expander("Numbers per day"):
    st.dataframe(m.set_index("step"), width="stretch")
