"""Why it leaks: which channels let harm out of the current scenario (Shapley attribution
over every combination of channels switched on and off, on common seeds)."""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile

import numpy as np
import pandas as pd
import streamlit as st

from sim.analysis.attribution import Attribution, AttributionError, attribute
from sim.app.figures import waterfall_figure
from sim.app.session import last_run
from sim.common.stats import INTERVAL_METHOD
from sim.experiments.channels import CHANNELS, applicability
from sim.experiments.folder import SweepError
from sim.results.outcomes import outcome
from sim.scenario import ScenarioError, list_presets, load_scenario

__all__: list[str] = []

#: Outcomes the page attributes, and how a sentence states each one's value.
OUTCOMES = {
    "harmful_completed": "{value} harmful requests were completed",
    "policy_leakage": "{value} of the requests prohibited where their requester lives "
    "were served anyway",
    "harm_completion_rate": "{value} of harmful requests were completed",
}
#: Attributions kept per visitor of the explorer (the oldest folder is deleted first).
MAX_KEPT = 4


def amount(value: float, share: bool, *, signed: bool = False, noun: str = "") -> str:
    """A value for people: shares as percentages (differences in percentage points),
    counts with thousands separators and at most one decimal (followed by ``noun`` if
    given), never e-notation."""
    if np.isnan(value):
        return "n/a"
    sign = "+" if signed else ""
    if share:
        return f"{100 * value:{sign}.1f} percentage points" if signed else f"{value:.1%}"
    number = f"{value:{sign},.0f}" if abs(value) >= 100 else f"{value:{sign},.1f}"
    return f"{number} {noun}" if noun else number


def listing(items: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def caption(result: Attribution, labels: dict[str, str], days: int) -> str:
    """What the waterfall says, in sentences generated from its numbers."""
    share = outcome(result.outcome).unit == "share"
    noun = outcome(result.outcome).label
    phrase = OUTCOMES.get(result.outcome, outcome(result.outcome).label + " was {value}")
    on, off = result.totals["all_on"].mean(), result.totals["all_off"].mean()
    seeds = len(result.totals)
    drawn = result.table[result.table["applies"].astype(bool)]
    text = (
        f"With every channel on, {phrase.format(value=amount(on, share))} "
        f"(mean of {seeds} seeds, {days} day{'s' if days != 1 else ''}); with all of them "
        "switched off, "
        f"{amount(off, share)}. "
    )
    raising = drawn[drawn["contribution"] > 0]
    candidates = raising if not raising.empty else drawn
    top = candidates.loc[candidates["contribution"].abs().idxmax()]
    of_total = "" if np.isnan(top["share"]) else f"{top['share']:.0%} of the difference, "
    text += (
        f"The biggest share comes from {labels[top['channel']]} ({of_total}"
        f"{amount(top['contribution'], share, signed=True, noun=noun)}): switched off, "
        f"{CHANNELS[top['channel']].off}. "
    )
    lowering = [labels[c] for c in drawn.loc[drawn["contribution"] < 0, "channel"]]
    if lowering:
        text += (
            f"Bars pointing left ({listing(lowering)}) hold the outcome down: with them on, "
            "less gets out. "
        )
    text += (
        f"The whiskers are intervals ({INTERVAL_METHOD}) over {seeds} seeds; bars "
        "whose interval crosses zero are not distinguishable from no effect at this number "
        "of seeds"
    )
    unclear = [labels[r.channel] for r in drawn.itertuples() if r.low <= 0 <= r.high]
    text += f" ({listing(unclear)})." if unclear else " (none here)."
    return text


def interaction_lines(result: Attribution, labels: dict[str, str], top: int = 3) -> list[str]:
    """One sentence per strongest pair of channels: more or less together than apart."""
    share = outcome(result.outcome).unit == "share"
    noun = outcome(result.outcome).label
    lines = []
    for row in result.interactions.head(top).itertuples(index=False):
        if row.interaction == 0:
            continue
        how = "more together than apart" if row.interaction > 0 else "less together than apart"
        unsure = (
            ", not distinguishable from no interaction at this number of seeds"
            if row.low <= 0 <= row.high
            else ""
        )
        lines.append(
            f"**{labels[row.channel_a]}** and **{labels[row.channel_b]}** leak {how} "
            f"({amount(row.interaction, share, signed=True, noun=noun)}; 95% interval "
            f"{amount(row.low, share, signed=True)} to {amount(row.high, share, signed=True)}"
            f"{unsure})."
        )
    return lines


@st.cache_resource(show_spinner=False)
def scratch() -> tempfile.TemporaryDirectory[str]:
    """The folder this server keeps its attribution folders in (deleted when it stops)."""
    return tempfile.TemporaryDirectory(prefix="dirisk-why-")


def keep(key: str, result: Attribution) -> None:
    """Remember ``result`` for this visitor; drop the oldest beyond :data:`MAX_KEPT`."""
    results: dict[str, Attribution] = st.session_state.setdefault("attributions", {})
    results[key] = result
    folders: dict[str, str] = st.session_state.setdefault("attribution_folders", {})
    while len(results) > MAX_KEPT:
        old = next(iter(results))
        results.pop(old)
        shutil.rmtree(folders.pop(old, ""), ignore_errors=True)


st.title("Why it leaks")
st.caption(
    "Harm gets out through several channels at once: VPNs, retries, jailbreaks, "
    "permissive models, havens and more. This page switches the scenario's channels off "
    "in every combination, on the same seeds, and splits the outcome fairly among them "
    "(Shapley values): each channel's bar is its effect averaged over every order in which "
    "the channels could be switched on, and the bars add up exactly to the difference "
    "between everything on and everything off."
)

latest = last_run()
source = "A preset"
if latest is not None:
    mine = f"The last run: {latest.meta['scenario_name']} ({latest.meta['steps']} days)"
    source = st.radio("Scenario", [mine, "A preset"], horizontal=True, key="why_source")
if source == "A preset":
    presets = list(list_presets())
    name = st.selectbox("Preset", presets, index=presets.index("classroom_demo"), key="why_preset")
    try:
        spec = load_scenario(name)
    except ScenarioError as exc:
        st.error(str(exc).splitlines()[0])
        st.stop()
else:
    spec = load_scenario(latest.meta["scenario"])
if spec.description:
    st.caption(spec.description)

left, right = st.columns(2)
outcome_name = left.selectbox(
    "Outcome to explain",
    list(OUTCOMES),
    format_func=lambda n: f"{outcome(n).label} ({outcome(n).unit})",
    key="why_outcome",
)
seeds = right.slider("Seeds", 2, 5, 3, key="why_seeds")
if spec.steps > 1:
    days = left.slider(
        "Days per run", 1, spec.steps, min(30, spec.steps), key=f"why_days_{spec.steps}"
    )
else:
    days = spec.steps
data = spec.to_dict()
reasons = applicability(data)
labels = {name: c.label for name, c in CHANNELS.items()}
applying = [n for n, why in reasons.items() if not why]
if not applying:
    st.warning(f"No channel of leakage applies to {spec.name}: there is nothing to switch off.")
    st.stop()
chosen = st.multiselect(
    "Channels to switch off and on",
    applying,
    default=applying,
    format_func=labels.get,
    key=f"why_channels_{spec.content_hash()[:12]}",
    help="Every channel that applies to this scenario; fewer channels run far fewer simulations.",
)
if not chosen:
    st.info("Choose at least one channel.")
    st.stop()

runs = 2 ** len(chosen) * seeds
st.markdown(
    f"Explaining runs every combination of the {len(chosen)} channels on and off "
    f"(2^{len(chosen)} = {2 ** len(chosen):,} combinations) on each of {seeds} seeds: "
    f"**{runs:,} simulations** of {days} day{'s' if days != 1 else ''}."
)
key = hashlib.sha256(
    json.dumps([spec.content_hash(), outcome_name, seeds, days, sorted(chosen)]).encode()
).hexdigest()[:16]
results: dict[str, Attribution] = st.session_state.setdefault("attributions", {})
if st.button("Explain", type="primary", key="explain") and key not in results:
    folders: dict[str, str] = st.session_state.setdefault("attribution_folders", {})
    if key not in folders:  # a folder per question: pressing again resumes it
        folders[key] = tempfile.mkdtemp(prefix="attribution-", dir=scratch().name)
    folder = folders[key]
    bar = st.progress(0.0, text=f"Starting {runs:,} simulations…")

    def progress(done: int, failed: int, total: int) -> None:
        """Move the bar as runs finish."""
        note = f" ({failed} failed)" if failed else ""
        bar.progress(done / max(total, 1), text=f"Simulated {done:,} of {total:,}{note}")

    try:
        with st.spinner(f"Running {runs:,} simulations of {spec.name}…"):
            asked = chosen + [n for n, why in reasons.items() if why]
            keep(
                key,
                attribute(
                    spec,
                    folder,
                    channels=asked,
                    outcome_name=outcome_name,
                    seeds=seeds,
                    steps=days,
                    progress=progress,
                ),
            )
    except (AttributionError, SweepError, ValueError) as exc:
        st.error(f"The attribution could not finish: {str(exc).splitlines()[0]}")
        st.stop()
    finally:
        bar.empty()
result = st.session_state["attributions"].get(key)
if result is None:
    st.info("Press **Explain** to run them (once: the result is kept for this session).")
    st.stop()

share = outcome(outcome_name).unit == "share"
label = outcome(outcome_name).label
figure = waterfall_figure(
    result.table,
    result.totals,
    labels=labels,
    value_title=f"{label} ({'share, %' if share else outcome(outcome_name).unit}), "
    f"mean of {len(result.totals)} seeds",
    share=share,
    start_label="every channel off" if len(chosen) == len(applying) else "chosen channels off",
)
st.plotly_chart(figure, key="waterfall")
st.caption(caption(result, labels, days))

st.subheader("Channels that act together")
lines = interaction_lines(result, labels)
if lines:
    st.markdown(
        "An interaction is how much more two channels let out together than the sum of "
        "what each lets out alone (negative: they overlap, so switching off either one "
        "already stops much of what the other lets out). The strongest:\n\n"
        + "\n".join(f"- {line}" for line in lines)
    )
else:
    st.markdown("With one channel there is nothing to interact.")

skipped = result.table[~result.table["applies"].astype(bool)]
if not skipped.empty:
    st.subheader("Channels that do not apply here")
    st.markdown(
        "Not drawn (they are not zero: there is nothing to switch off):\n\n"
        + "\n".join(f"- **{labels[r.channel]}**: {r.reason}" for r in skipped.itertuples())
    )

with st.expander("What switching each channel off means, and the numbers"):
    drawn = result.table[result.table["applies"].astype(bool)]
    st.dataframe(
        pd.DataFrame(
            {
                "channel": [labels[c] for c in drawn["channel"]],
                "switched off": [CHANNELS[c].off for c in drawn["channel"]],
                "contribution": [amount(v, share, signed=True) for v in drawn["contribution"]],
                "95% interval": [
                    f"{amount(lo, share, signed=True)} to {amount(hi, share, signed=True)}"
                    for lo, hi in zip(drawn["low"], drawn["high"], strict=True)
                ],
                "share of the difference": [
                    "n/a" if np.isnan(s) else f"{s:.0%}" for s in drawn["share"]
                ],
            }
        ),
        hide_index=True,
        width="stretch",
    )
    st.caption(
        f"`dirisk attribute` gives the same numbers on the command line (outcome "
        f"`{outcome_name}`, {len(result.totals)} seeds, {days} day{'s' if days != 1 else ''})."
    )
