"""Compare: two scenarios side by side over the same seeds, with uncertainty."""

from __future__ import annotations

import copy

import pandas as pd
import streamlit as st
import yaml

from sim.app.controls import Controls, apply
from sim.app.session import run_cached
from sim.common.seeds import replication_seeds
from sim.common.stats import mean_ci
from sim.results.outcomes import FRONTIER_OUTCOMES, outcome, outcome_values
from sim.scenario import ScenarioError, list_presets, load_scenario, set_path, validate

__all__: list[str] = []

st.title("Compare two scenarios")
st.caption(
    "Both scenarios run on the same seeds (common random numbers), so the difference "
    "between them is measured more precisely than either alone."
)
presets = list(list_presets())
left, right = st.columns(2)
name_a = left.selectbox("Scenario A", presets, index=presets.index("baseline"), key="a")
mode = right.radio("Scenario B is", ["another preset", "A with one parameter changed"], key="mode")
if mode == "another preset":
    name_b = right.selectbox(
        "Scenario B", presets, index=presets.index("defence_in_depth"), key="b"
    )
else:
    path = right.text_input(
        "Parameter (dotted path, * for every key)",
        "jurisdictions.*.enforcement.audit_rate",
        key="path",
    )
    value = right.text_input("New value (YAML)", "0.05", key="value")
    name_b = f"{name_a} with {path} = {value}"
replications = st.slider("Replications (seeds)", 2, 10, 3, key="replications")
steps = st.slider("Days per run", 10, 365, 60, key="compare_steps")
if not st.button("Compare", type="primary", key="compare"):
    st.stop()

data_a = load_scenario(name_a).to_dict()
try:
    if mode == "another preset":
        data_b = load_scenario(name_b).to_dict()
    else:
        data_b = copy.deepcopy(data_a)
        set_path(data_b, path, yaml.safe_load(value))
    specs = [
        validate(apply(data, Controls(steps=steps)), source=name)
        for data, name in ((data_a, name_a), (data_b, name_b))
    ]
except (ScenarioError, yaml.YAMLError) as exc:
    st.error(str(exc).splitlines()[0])
    st.stop()
seeds = replication_seeds(specs[0].seed, replications)
outcomes = [
    pd.DataFrame([outcome_values(run_cached(spec, s).metrics, FRONTIER_OUTCOMES) for s in seeds])
    for spec in specs
]


rows = []
for name in FRONTIER_OUTCOMES:
    a, b = outcomes[0][name], outcomes[1][name]
    mean_a, half_a = mean_ci(a)
    mean_b, half_b = mean_ci(b)
    mean_d, half_d = mean_ci(b - a)  # paired: same seeds
    rows.append(
        {
            "measure": outcome(name).label,
            f"A: {name_a}": f"{mean_a:.4g} ± {half_a:.2g}",
            f"B: {name_b}": f"{mean_b:.4g} ± {half_b:.2g}",
            "B − A": f"{mean_d:+.4g} ± {half_d:.2g}",
            "clearly different": "yes" if abs(mean_d) > half_d else "no",
        }
    )
st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
st.caption(
    "± is the half-width of a 95% confidence interval over seeds; 'clearly different' "
    "means the interval of B − A excludes zero. Rates are shares (0–1); "
    "harmful_completed counts requests; enforcement spend is in USD."
)
