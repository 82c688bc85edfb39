"""Export: download the last run's tables, its exact scenario and run.json."""

from __future__ import annotations

import io
import json
import zipfile

import streamlit as st

from sim.app.session import last_run
from sim.scenario import scenario_to_yaml

__all__: list[str] = []

st.title("Export the last run")
results = last_run()
if results is None:
    st.info("Nothing to export yet: run a scenario on the **Run** page first.")
    st.stop()

meta = results.meta
stem = f"{meta['scenario_name']}_seed{meta['seed']}"
st.markdown(
    f"Run of **{meta['scenario_name']}**, seed {meta['seed']}, {meta['steps']} days. "
    f"Reproduce it with `dirisk run {stem}.yaml --seed {meta['seed']}`."
)
scenario_yaml = scenario_to_yaml(meta["scenario"])
run_json = json.dumps(meta, indent=2, default=str)
st.download_button("Scenario (YAML)", scenario_yaml, file_name=f"{stem}.yaml", key="yaml")
st.download_button("run.json", run_json, file_name=f"{stem}_run.json", key="json")
st.subheader("Tables")
for name, frame in results.tables().items():
    left, right = st.columns(2)
    left.download_button(
        f"{name}.csv", frame.to_csv(index=False), file_name=f"{stem}_{name}.csv", key=f"csv_{name}"
    )
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    right.download_button(
        f"{name}.parquet",
        buffer.getvalue(),
        file_name=f"{stem}_{name}.parquet",
        key=f"parquet_{name}",
    )
archive = io.BytesIO()
with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
    for name, frame in results.tables().items():
        zf.writestr(f"{name}.csv", frame.to_csv(index=False))
    zf.writestr("scenario.yaml", scenario_yaml)
    zf.writestr("run.json", run_json)
st.download_button(
    "Everything (zip of CSV tables, scenario and run.json)",
    archive.getvalue(),
    file_name=f"{stem}.zip",
    key="zip",
    type="primary",
)
