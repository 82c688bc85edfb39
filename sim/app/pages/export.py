"""Export: download the Run page's run: its tables, its exact scenario and run.json, one
by one or as a zip that ``sim.Results.load`` reads back once unzipped."""

from __future__ import annotations

import io
import json
import tempfile
import zipfile
from pathlib import Path

import streamlit as st

from sim.app.session import last_run
from sim.results.tables import Results
from sim.scenario import scenario_to_yaml

__all__: list[str] = []


def run_zip(results: Results) -> bytes:
    """The run folder :meth:`Results.save` writes in CSV (every table, scenario.yaml and
    run.json with its ``format`` and ``tables``), zipped without a top folder."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = results.save(Path(tmp) / "run", format="csv")
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
            for path in sorted(folder.iterdir()):
                zf.write(path, arcname=path.name)
    return archive.getvalue()


st.title("Export the last run")
# The run the Run page shows (st.session_state["shown_run"] names it in "runs"); the
# Watch page's daily-snapshot copies are kept apart ("player_runs") and never offered.
shown = st.session_state.get("shown_run")
runs: dict[str, Results] = st.session_state.get("runs", {})
key = shown["key"] if shown and shown.get("key") in runs else st.session_state.get("last_run")
results = runs.get(key) if key else last_run()
if results is None:
    st.info(
        "The Run page's run is no longer kept in this browser tab (older runs make way for "
        "new ones): press **Run** on the **Run** page again."
        if shown
        else "Nothing to export yet: run a scenario on the **Run** page first."
    )
    st.stop()

meta = results.meta
stem = f"{meta['scenario_name']}_seed{meta['seed']}"
st.markdown(
    f"This is the run the **Run** page shows: **{meta['scenario_name']}**, seed "
    f"{meta['seed']}, {meta['steps']} days. Reproduce it with "
    f"`dirisk run {stem}.yaml --seed {meta['seed']}`."
)
if st.session_state.get("player_runs"):
    st.caption(
        "The **Watch** page plays a separate copy of this run, simulated once more with "
        "every node's state recorded each day for its network view; that copy is not "
        "offered here (node_states below is the Run page's run's)."
    )
scenario_yaml = scenario_to_yaml(meta["scenario"])
st.download_button("Scenario (YAML)", scenario_yaml, file_name=f"{stem}.yaml", key="yaml")
st.download_button(
    "run.json",
    json.dumps(meta, indent=2, default=str),
    file_name=f"{stem}_run.json",
    key="json",
)
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
cached = st.session_state.get("export_zip")
if cached is None or cached[0] != key:
    cached = (key, run_zip(results))
    st.session_state["export_zip"] = cached
st.download_button(
    "Everything (zip of CSV tables, scenario.yaml and run.json; "
    "sim.Results.load reads the unzipped folder)",
    cached[1],
    file_name=f"{stem}.zip",
    key="zip",
    type="primary",
)
