"""Run: pick a preset or upload a scenario, turn the main levers, run, read the charts."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from sim.app.controls import Controls, apply, read_upload
from sim.app.session import run_cached
from sim.scenario import ScenarioError, list_presets, load_scenario, validate

__all__: list[str] = []

st.title("Run a scenario")
presets = list_presets()
source = st.radio("Scenario", ["Preset", "Upload a YAML file"], horizontal=True)
base = None
if source == "Preset":
    name = st.selectbox("Preset", list(presets), index=list(presets).index("classroom_demo"))
    base = load_scenario(name).to_dict()
else:
    upload = st.file_uploader("Scenario file (YAML, may extend a preset)", type=["yaml", "yml"])
    if upload is not None:
        try:
            base = load_scenario(
                read_upload(upload.name, upload.getvalue()), source=upload.name
            ).to_dict()
        except ScenarioError as exc:
            st.error(str(exc))
if base is None:
    st.info("Choose a preset, or upload a valid scenario file.")
    st.stop()

st.caption(base.get("description", ""))
if base.get("question"):
    st.markdown(f"**Question.** {base['question']}")

with st.sidebar:
    st.header("Levers")
    steps = st.slider("Days to simulate", 5, 365, min(int(base["steps"]), 365), key="steps")
    seed = int(st.number_input("Seed", value=int(base["seed"]), step=1, key="seed"))
    kinds = base["requesters"]["kinds"]
    malicious = st.slider(
        "Malicious share of requesters",
        0.0,
        0.10,
        float(kinds["malicious"]["share"]),
        0.005,
        format="%.3f",
        key="malicious",
    )
    vpn = st.slider(
        "VPN use by malicious actors",
        0.0,
        1.0,
        float(kinds["malicious"].get("vpn_use", 0.0)),
        0.05,
        key="vpn",
    )
    persistence = st.slider(
        "Retries after a refusal (malicious)",
        0,
        10,
        int(kinds["malicious"]["persistence"]),
        key="persistence",
    )
    permissive = st.slider(
        "Share of permissive nodes (uncensored, abliterated, base)",
        0.0,
        1.0,
        0.0,
        0.05,
        key="permissive",
        help="0 keeps the scenario's own model mix.",
    )
    st.subheader("Enforcement strength")
    multipliers = {
        j: st.slider(f"{j}: audit-rate multiplier", 0.0, 10.0, 1.0, 0.5, key=f"audit_{j}")
        for j in base["jurisdictions"]
    }
    treaty = st.checkbox("Everyone signs an enforcement treaty", key="treaty")
    kyc = st.checkbox("KYC mandate in every jurisdiction", key="kyc")
    protocols = ["open", "gateway", "p2p", "validators"]
    protocol = st.selectbox(
        "Market protocol",
        protocols,
        index=protocols.index(base.get("market", {}).get("protocol", "open")),
        key="protocol",
    )
    probe = st.slider(
        "Validator probe rate",
        0.0,
        1.0,
        float(base.get("market", {}).get("validators", {}).get("probe_rate", 0.0)),
        0.05,
        key="probe",
        disabled=protocol != "validators",
    )

controls = Controls(
    steps=steps,
    audit_multiplier={j: f for j, f in multipliers.items() if f != 1.0},
    treaty_all=treaty,
    kyc_everywhere=kyc,
    protocol=protocol,
    probe_rate=probe if protocol == "validators" else None,
    permissive_share=permissive or None,
    malicious_share=malicious,
    malicious_vpn_use=vpn,
    malicious_persistence=persistence,
)
try:
    spec = validate(apply(base, controls), source=base["name"])
except ScenarioError as exc:
    st.error(str(exc))
    st.stop()

if not st.button("Run", type="primary", key="run") and "last_run" not in st.session_state:
    st.info("Set the levers, then press **Run**.")
    st.stop()
results = run_cached(spec, seed)
m = results.metrics.set_index("step")

summary = results.summary().set_index("metric")["value"]


def share(value: float) -> str:
    """A share for people; n/a where it is undefined (nothing to divide by)."""
    return "n/a" if pd.isna(value) else f"{value:.1%}"


cols = st.columns(4)
cols[0].metric("Harmful requests completed", f"{int(summary['harmful requests completed']):,}")
cols[1].metric("Harm completion rate", share(summary["harm completion rate"]))
cols[2].metric("Dual-use over-refusal", share(summary["dual-use over-refusal"]))
cols[3].metric("Policy leakage", share(summary["policy leakage"]))

st.subheader("Harm")
st.line_chart(m[["harm_completion_rate", "malicious_success_share"]])
st.caption(
    "Harm completion rate: the share of malicious actors' harmful requests that some "
    "node served. Malicious success: the share of malicious actors who got at least one "
    "harmful request served that day."
)
st.subheader("The cost to legitimate users")
st.line_chart(m[["benign_over_refusal", "dual_use_over_refusal"]])
st.caption(
    "Over-refusal: the share of benign (or legitimate dual-use: security researchers, "
    "chemists) requests that ended refused after every retry."
)
st.subheader("Where requests are served")
st.line_chart(m[["cross_border_share", "policy_leakage"]])
st.caption(
    "Cross-border share: requests served by a node outside the requester's home "
    "jurisdiction. Policy leakage: requests prohibited where the requester lives that "
    "were served anyway."
)
st.subheader("The market")
nodes = results.nodes
by_jur = nodes.pivot_table(
    index="step", columns="jurisdiction", values="nodes_active", aggfunc="sum", observed=True
)
by_model = nodes.pivot_table(
    index="step", columns="model", values="nodes_active", aggfunc="sum", observed=True
)
left, right = st.columns(2)
left.area_chart(by_jur)
left.caption("Active nodes by host jurisdiction.")
right.area_chart(by_model)
right.caption("Active nodes by the model kind they serve.")
st.line_chart(m[["compliance_rate", "permissive_node_share"]])
st.caption(
    "Compliance rate: active nodes running their host's filter and KYC. Permissive "
    "nodes: those serving a model that refuses harmful requests less than half the time."
)
st.session_state["last_scenario_name"] = spec.name
with st.expander("Numbers per day"):
    st.dataframe(pd.DataFrame(m), width="stretch")
