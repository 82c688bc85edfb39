"""Explore sweeps: open a sweep's folder and query its Parquet parts with DuckDB: a heatmap
of one outcome over two factors, the harm vs over-refusal frontier, sensitivity indices
and free SQL. Nothing in the folder is run: only its Parquet, JSON and YAML are read."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from sim.analysis.query import (
    HEATMAP_BINS,
    QUERY_SECONDS,
    QueryError,
    heatmap_sql,
    is_binned,
    query,
    summarize,
)
from sim.analysis.sensitivity import analyze, index_warnings
from sim.app.controls import experiment_description, pick, sweep_manifest
from sim.app.figures import frontier_figure, heatmap_figure, sensitivity_figure
from sim.app.folders import choose_folder
from sim.experiments.folder import SweepError, SweepFolder

__all__: list[str] = []

#: Where ``dirisk sweep`` saves sweeps by default.
SWEEPS = "sweeps/"
#: Rows of a query's result shown on the page (the CSV download has them all).
MAX_ROWS_SHOWN = 1_000
#: Needles of the default harm outcome, best first (see ``pick``).
HARM = ("malicious_success", "harm")


def run_sql(root: str, sql: str) -> pd.DataFrame | None:
    """The result of ``sql`` over the sweep, or None after showing why it failed."""
    try:
        return query(root, sql)
    except QueryError as exc:
        st.error(f"The query failed: {exc}")
        return None


st.title("Explore sweeps")
st.caption(
    "A sweep runs an experiment: the same world under many settings of a few uncertain "
    "factors (the design points), each several times with different random seeds (the "
    "replications). Make one with `dirisk sweep experiments/classroom_grid.yaml`; it is "
    "saved in sweeps/classroom_grid."
)
root = choose_folder(
    "Folder of sweeps, or one sweep's folder",
    SWEEPS,
    marker="manifest.json",
    what="sweep folder",
    command="`dirisk sweep`",
    choice="Sweep",
    key="sweeps_dir",
    choice_key="sweep",
)
try:
    manifest = sweep_manifest(root)
    folder = SweepFolder(root)
    design = folder.design()
    finished, failed = len(folder.finished()), len(folder.failed())
    summary = summarize(root, write=False)
except (SweepError, QueryError, OSError, ValueError) as exc:
    st.error(str(exc).splitlines()[0])
    st.stop()
factors, outcomes = list(manifest["factors"]), list(manifest["outcomes"])

st.header(f"Experiment {manifest['experiment_name']}")
description = experiment_description(root)
if description:
    st.markdown(description)
st.markdown(
    f"Design **{manifest['design']}**: {manifest['points']:,} design points × "
    f"{manifest['replications']:,} replication(s) = {manifest['runs']:,} runs, "
    f"state **{manifest.get('state', 'unknown')}**."
    f"\n\n**Factors** (the settings varied): {', '.join(f'`{f}`' for f in factors)}."
    f"\n\n**Outcomes** (one number per run): {', '.join(f'`{o}`' for o in outcomes)}."
)
for column, label, count in zip(
    st.columns(3),
    ("Runs ok", "Runs failed", "Runs missing"),
    (finished - failed, failed, manifest["runs"] - finished),
    strict=True,
):
    column.metric(label, f"{count:,}")
st.caption(
    "A failed run stopped with an error (its `error` column in the SQL box below says "
    "why); a missing run has not finished: the sweep is still running or was stopped, "
    "and `dirisk sweep --resume --out FOLDER` finishes it."
)
if not finished:
    st.info("No run of this sweep has finished yet: there is nothing to show.")
    st.stop()

st.header("Heatmap: one outcome over two factors")
if len(factors) < 2:
    st.info("A heatmap needs two factors and this sweep varies one: see the frontier below.")
else:
    left, middle, right = st.columns(3)
    outcome = left.selectbox("Outcome", outcomes, index=pick(outcomes, *HARM), key="heat_outcome")
    x = middle.selectbox("Across (x axis)", factors, key="heat_x")
    y = right.selectbox("Down (y axis)", [f for f in factors if f != x], key="heat_y")
    cells = run_sql(root, heatmap_sql(outcome, x, y, design))
    if cells is not None:
        figure = heatmap_figure(cells, x_title=x, y_title=y, value_title=outcome)
        st.plotly_chart(figure, key="heatmap")
        others = [f for f in factors if f not in (x, y)]
        binned = [f for f in (x, y) if is_binned(design[f])]
        st.caption(
            f"Each cell is the mean of {outcome} over the successful runs whose {x} and {y} "
            "fall in it: across their replications"
            + (f" and across every setting of {', '.join(others)}" if others else "")
            + ". Hover over a cell for its number of runs; a blank cell has none."
            + (
                f" {' and '.join(binned)} take many values, so they are cut into "
                f"{HEATMAP_BINS} bins holding about equally many design points "
                "(labelled lowest–highest)."
                if binned
                else ""
            )
        )

st.header("Harm vs over-refusal")
left, middle, right = st.columns(3)
harm = left.selectbox("Harm outcome (up)", outcomes, index=pick(outcomes, *HARM), key="harm")
refusal = middle.selectbox(
    "Over-refusal outcome (right)",
    outcomes,
    index=pick(outcomes, "dual_use_over_refusal", "over_refusal"),
    key="refusal",
)
colour = right.selectbox("Colour by factor", factors, key="colour")
st.plotly_chart(frontier_figure(summary, harm, refusal, colour), key="frontier")
st.caption(
    "Each dot is one design point: its mean over the successful replications, with bars "
    "for the 95% confidence interval. Lower is less harm, further left is fewer "
    "legitimate requests refused: the dots nearest the lower-left corner are the best "
    f"trade-offs this sweep found, and their colour shows the {colour} that got there."
)

st.header("Which factors matter most")
if manifest["design"] not in ("saltelli", "morris"):
    st.info(
        "Sensitivity indices need a sweep with a saltelli or morris design; this one's is "
        f"{manifest['design']}. The heatmap and frontier above show how its factors act."
    )
else:
    outcome = st.selectbox(
        "Outcome", outcomes, index=pick(outcomes, *HARM), key="sensitivity_outcome"
    )
    try:
        indices = analyze(root, [outcome], write=False)
    except (ValueError, OSError) as exc:
        st.warning(str(exc).splitlines()[0])
    else:
        st.plotly_chart(sensitivity_figure(indices), key="sensitivity")
        st.caption(
            "S1: the share of the outcome's variation that the factor causes alone; ST: "
            "including its interactions with the other factors. Bars: 95% intervals."
            if manifest["design"] == "saltelli"
            else "mu*: how much the outcome moves, on average, when the factor goes across "
            "its whole range (in the outcome's units). Bars: 95% intervals."
        )
        cautions = index_warnings(indices)
        if cautions:
            st.warning(
                "Do not read these indices as findings yet:\n\n"
                + "\n".join(f"- {c}" for c in cautions)
            )

st.header("Query with SQL")
st.caption(
    "Ask your own question in SQL (DuckDB). Tables: `runs` (one row per run: point, "
    "replication, seed, the factors, the outcomes, status, error, seconds), `design` (one "
    "row per design point), `metrics` (per day, if the experiment saved them) and "
    "`summary` (after `dirisk summarize`)."
)
sql = st.text_area("SQL", "SELECT * FROM runs LIMIT 20", key="sql")
st.caption(
    f"Only SELECT queries run (the folder is read-only here), for at most {QUERY_SECONDS:g} s."
)
answers: dict = st.session_state.setdefault("sql_answers", {})
if st.button("Run the query", key="run_sql") and sql.strip():
    answers.clear()
    answers[(root, sql)] = run_sql(root, sql)
result = answers.get((root, sql))
if result is not None:
    st.dataframe(result.head(MAX_ROWS_SHOWN), hide_index=True, width="stretch")
    if len(result) > MAX_ROWS_SHOWN:
        st.caption(f"The first {MAX_ROWS_SHOWN:,} of {len(result):,} rows; the CSV has all.")
    st.download_button(
        "Download the result (CSV)",
        result.to_csv(index=False),
        file_name=f"{manifest['experiment_name']}_query.csv",
        key="sql_csv",
    )
