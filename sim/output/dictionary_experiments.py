"""The data dictionary of the folders the experiment commands write: a paired comparison
(``dirisk compare``, :data:`COMPARISON`), an attribution (``dirisk attribute``,
:data:`ATTRIBUTION`), a robustness analysis (``dirisk robust``, :data:`ROBUSTNESS`) and a
policy search (``dirisk optimize``, :data:`OPTIMISATION`).

Each is a :class:`~sim.output.dictionary_entries.FolderKind`: the folder's files, every
table it holds (CSV files), the keys of its JSON file and what holds for all of them.
Columns named after the experiment (levers, objectives, uncertain parameters) are
placeholders (:data:`~sim.output.dictionary_entries.PLACEHOLDERS`).
:mod:`sim.output.dictionary` renders them into docs/DATA.md and ``dirisk describe``.
"""

from __future__ import annotations

from sim.common.stats import INTERVAL_METHOD
from sim.experiments.channels import CHANNELS
from sim.experiments.compare import COMPARE_OUTCOMES
from sim.experiments.robust import ROBUST_OUTCOMES
from sim.output.dictionary_entries import Column, FolderKind, MetaKey, Table

__all__ = [
    "ATTRIBUTION",
    "ATTRIBUTION_JSON",
    "ATTRIBUTION_TABLE",
    "BY_JURISDICTION",
    "COMPARE_SUMMARY",
    "COMPARE_JSON",
    "COMPARISON",
    "EFFECTS",
    "EXPERIMENT_FOLDERS",
    "EXPERIMENT_TABLES",
    "FAILURE_BOXES",
    "HISTORY",
    "INTERACTIONS",
    "OPTIMISATION",
    "OPTIMIZATION_JSON",
    "OPTIMIZE_FUTURES",
    "PAIRED",
    "PARETO",
    "PER_SEED",
    "REEVALUATION",
    "REEVALUATION_FUTURES",
    "REGRET",
    "ROBUSTNESS",
    "ROBUST_FUTURES",
    "ROBUST_JSON",
    "ROBUST_SUMMARY",
    "TOTALS",
]

_OUTCOME_UNIT = "as the outcome"
_SWEEP_FOLDER = "[sweep folder](#sweep-folders)"


def _names(names: tuple[str, ...] | list[str]) -> str:
    """Names as a list of code spans: `a`, `b`, `c`."""
    return ", ".join(f"`{n}`" for n in names)


def _outcome_name(meaning: str) -> Column:
    return Column("outcome", "str", "outcome name", meaning)


def _bounds(low: str, high: str, of: str, over: str, nan: str) -> tuple[Column, Column]:
    """The lower and upper bound of the 95% confidence interval of a mean."""
    return tuple(  # type: ignore[return-value]
        Column(
            name,
            "float64",
            _OUTCOME_UNIT,
            f"{side} bound of the 95% confidence interval of {of} over {over} (Student's t "
            f"at their number n): mean {sign} t(0.975, n − 1) × standard deviation / √n; "
            f"NaN {nan}.",
        )
        for name, side, sign in ((low, "Lower", "−"), (high, "Upper", "+"))
    )


# --------------------------------------------------------------------------- dirisk compare

_METRIC = Column(
    "metric",
    "str",
    "outcome name",
    "The run-level outcome compared (`dirisk describe outcomes`), in the order "
    f"{_names(COMPARE_OUTCOMES)}.",
)

COMPARE_SUMMARY = Table(
    name="compare_summary",
    description="Per outcome, the means of scenarios A and B over their common seeds, "
    "the mean paired difference B − A with its 95% confidence interval, and the verdict.",
    row="one row per outcome",
    key=("metric",),
    source="sim.experiments.compare.summarize_pairs",
    files="File `summary.csv` of a comparison folder",
    columns=(
        _METRIC,
        *(
            Column(
                f"mean_{side}",
                "float64",
                _OUTCOME_UNIT,
                f"Mean of the outcome in {side.upper()} over the seeds where both A and B "
                "have a value; NaN when no seed has both.",
            )
            for side in ("a", "b")
        ),
        Column(
            "diff",
            "float64",
            _OUTCOME_UNIT,
            "Mean of the per-seed differences b − a (B − A) over the seeds where both have "
            "a value (for a share, 0.01 is one percentage point); NaN when no seed has both.",
        ),
        *_bounds(
            "diff_low", "diff_high", "`diff`", "the per-seed differences", "with fewer than two"
        ),
        Column(
            "n",
            "int64",
            "pairs",
            "Seeds where both A and B have a value (a NaN outcome of either is left out): "
            "the pairs behind the interval.",
        ),
        Column(
            "method",
            "str",
            "text",
            f"How the interval is computed: always `{INTERVAL_METHOD}`.",
        ),
        Column(
            "verdict",
            "str",
            "text",
            "`B higher` or `B lower` when the interval excludes 0 (two pairs or more); "
            "`identical at n = N` when every difference is 0; otherwise `not "
            "distinguishable at n = N`, which is not evidence of no effect.",
        ),
    ),
    notes=("Recomputed exactly from paired.csv by `sim.experiments.compare.summarize_pairs`.",),
)

PAIRED = Table(
    name="paired",
    description="The outcome of A and of B in each common seed: the pairs the summary compares.",
    row="one row per seed × outcome",
    key=("seed", "metric"),
    source="sim.experiments.compare.compare",
    files="File `paired.csv` of a comparison folder",
    columns=(
        Column(
            "seed",
            "int64",
            "seed",
            "Seed of both runs of the pair, in run order: `--seeds N` derives N seeds from "
            "A's `seed` (`sim.common.seeds.replication_seeds`); with `--precision` seeds "
            "of that sequence are added one at a time.",
        ),
        _METRIC,
        *(
            Column(
                side,
                "float64",
                _OUTCOME_UNIT,
                f"The outcome of {side.upper()}'s run with this seed; NaN when it is "
                "undefined (a ratio with nothing to divide).",
            )
            for side in ("a", "b")
        ),
    ),
    notes=("Seed by seed in run order, the outcomes of each seed in `metric` order.",),
)

COMPARE_JSON: tuple[MetaKey, ...] = (
    MetaKey("a", "string", "Scenario A's name."),
    MetaKey(
        "b",
        "string",
        "Scenario B's name, with its `--param` changes (`NAME with PATH=VALUE, ...`).",
    ),
    MetaKey("seeds", "array", "The common seeds, in run order (integers)."),
    MetaKey("outcomes", "array", "The run-level outcomes compared, in table order."),
    MetaKey("interval", "string", "The interval method of summary.csv."),
    MetaKey(
        "precision",
        "object or null",
        "With `--precision`: `outcome`, `target` (half-width asked for), `half_width` "
        "(reached), `seeds` (run) and `reached`; null without.",
    ),
    MetaKey(
        "scenario_hashes",
        "array or null",
        "Content hashes of a.yaml and b.yaml (`Scenario.content_hash`); null when "
        "the comparison was saved without its scenarios.",
    ),
    MetaKey("created_at", "string", "When the folder was written, ISO 8601 UTC."),
    MetaKey(
        "versions",
        "object",
        "Provenance, as in run.json `versions`: Python, dirisk and its build, the git "
        "commit, every direct dependency, the machine and the command line.",
    ),
)

COMPARISON = FolderKind(
    command="dirisk compare",
    title="Comparison folders",
    label="a comparison folder",
    intro="A paired comparison (`dirisk compare A [B] [--param PATH=VALUE] --out DIR`, or "
    "`sim.experiments.compare.compare(...).save(DIR)`) runs scenarios A and B with the "
    "same seeds (common random numbers) and compares each outcome by the interval of its "
    "per-seed differences. With `--out` it writes two tables into DIR, which is created "
    "when missing; files of the same names are replaced:",
    files=(
        (
            "summary.csv",
            "per outcome: both means, B − A with its interval, the verdict "
            "(table `compare_summary`)",
        ),
        ("paired.csv", "per seed and outcome: the value in A and in B (table `paired`)"),
        ("compare.json", "the names, seeds, outcomes and provenance of the comparison"),
        (
            "a.yaml, b.yaml",
            "the merged scenarios A and B as run (`--param` changes and `--steps` "
            "applied): `dirisk compare a.yaml b.yaml --seeds N`, N the number of seeds "
            "recorded, reruns the same seeds (derived from A's seed) and reproduces the "
            "tables",
        ),
    ),
    tables=(COMPARE_SUMMARY, PAIRED),
    conventions=(
        "Units are the outcome's (`dirisk describe outcomes`): a share, a count or USD; a "
        "difference of shares is in share points.",
    ),
    json_name="compare.json",
    json_keys=COMPARE_JSON,
    json_intro="The comparison's settings, a JSON object written with the tables:",
)


# --------------------------------------------------------------------------- dirisk attribute

_CHANNEL = Column(
    "channel",
    "str",
    "channel name",
    "The channel, in the order asked for (`--channels`, default every channel: "
    f"{_names(tuple(CHANNELS))}).",
)
_SEED = Column(
    "seed",
    "int64",
    "seed",
    "Seed of the runs: replication r of the attribution sweep runs every coalition with "
    "one seed (common random numbers).",
)

ATTRIBUTION_TABLE = Table(
    name="attribution",
    description="Each channel's contribution to the outcome: its Shapley value averaged "
    "over the seeds, with a 95% confidence interval and its share of the total effect; a "
    "channel that does not apply is listed with its reason, never as zero.",
    row="one row per channel asked for (applicable or not)",
    key=("channel",),
    source="sim.analysis.attribution.attribution_of",
    files="File `attribution.csv` of an attribution folder",
    columns=(
        _CHANNEL,
        Column(
            "contribution",
            "float64",
            _OUTCOME_UNIT,
            "Mean over the seeds of the channel's Shapley value (per_seed.csv): how much of "
            "the outcome it lets out, averaged over the orders in which the channels could "
            "be switched on; NaN when the channel does not apply.",
        ),
        *_bounds("low", "high", "`contribution`", "the seeds", "when the channel does not apply"),
        Column(
            "share",
            "float64",
            "share of the total effect",
            "`contribution` / the mean over the seeds of `all_on` − `all_off` (totals.csv): "
            "the shares of the applicable channels add up to 1, and one can be negative or "
            "above 1 when contributions differ in sign; NaN when the channel does not apply "
            "or the mean total effect is 0.",
        ),
        Column(
            "n",
            "int64",
            "seeds",
            "Seeds the contribution is averaged over; 0 when the channel does not apply.",
        ),
        Column(
            "applies",
            "bool",
            "true/false",
            "Whether the channel applies to the scenario (it has something to switch off).",
        ),
        Column(
            "reason",
            "str",
            "text",
            "Why the channel does not apply (such as `nobody retries`); the empty string (an "
            "empty field) when it applies.",
        ),
    ),
    notes=(
        "When every channel applies, `reason` is empty in every row and pandas reads it "
        "as float64 NaN (`fillna('')` gives the empty strings back).",
    ),
)

PER_SEED = Table(
    name="per_seed",
    description="Each applicable channel's exact Shapley value in each seed's game.",
    row="one row per seed × applicable channel",
    key=("seed", "channel"),
    source="sim.analysis.attribution.attribution_of",
    files="File `per_seed.csv` of an attribution folder",
    columns=(
        _SEED,
        Column("channel", "str", "channel name", "An applicable channel, in the order asked for."),
        Column(
            "contribution",
            "float64",
            _OUTCOME_UNIT,
            "The channel's Shapley value in this seed: its marginal effect on the outcome, "
            "averaged over the orders in which the channels could be switched on; the "
            "values of a seed add up to its `all_on` − `all_off` (totals.csv).",
        ),
    ),
    notes=("Seed by seed in replication order, the channels of each seed in order.",),
)

TOTALS = Table(
    name="totals",
    description="The outcome of each seed with every applicable channel on and with "
    "every one switched off: the total effect the contributions split.",
    row="one row per seed",
    key=("seed",),
    source="sim.analysis.attribution.attribution_of",
    files="File `totals.csv` of an attribution folder",
    columns=(
        _SEED,
        Column(
            "all_on",
            "float64",
            _OUTCOME_UNIT,
            "The outcome of the run with every channel on (the scenario as written).",
        ),
        Column(
            "all_off",
            "float64",
            _OUTCOME_UNIT,
            "The outcome of the run with every applicable channel switched off.",
        ),
    ),
)

INTERACTIONS = Table(
    name="interactions",
    description="Pairwise Shapley interaction indices of the applicable channels, "
    "averaged over the seeds: which channels leak more (or less) together than apart.",
    row="one row per pair of applicable channels",
    key=("channel_a", "channel_b"),
    source="sim.analysis.attribution.attribution_of",
    files="File `interactions.csv` of an attribution folder",
    columns=(
        Column("channel_a", "str", "channel name", "The first channel of the pair."),
        Column(
            "channel_b",
            "str",
            "channel name",
            "The second channel of the pair (after `channel_a` in the order asked for).",
        ),
        Column(
            "interaction",
            "float64",
            _OUTCOME_UNIT,
            "Mean over the seeds of the pair's Shapley interaction index (Grabisch and "
            "Roubens): v(S ∪ {a, b}) − v(S ∪ {a}) − v(S ∪ {b}) + v(S) averaged over the "
            "coalitions S of the other channels (`sim.analysis.shapley.interaction_indices`); "
            "positive when the two leak more together than apart.",
        ),
        *_bounds("low", "high", "`interaction`", "the seeds", "with fewer than two seeds"),
        Column("n", "int64", "seeds", "Seeds the interaction is averaged over."),
    ),
    notes=(
        "Strongest first: sorted by the absolute value of `interaction`, descending.",
        "With one applicable channel the file holds the header only (pandas then reads "
        "every column as text).",
    ),
)

BY_JURISDICTION = Table(
    name="attribution_by_jurisdiction",
    description="The attribution of the outcome among each jurisdiction's residents: "
    "which channels let each regime's requesters' harm out.",
    row="one row per jurisdiction × channel asked for",
    key=("jurisdiction", "channel"),
    source="sim.analysis.attribution.attribution_of",
    files="File `attribution_by_jurisdiction.csv` of an attribution folder, written with "
    "`--by jurisdiction` (`by_residence=True`)",
    columns=(
        Column(
            "jurisdiction",
            "str",
            "jurisdiction name",
            "Residence jurisdiction of the requesters, in scenario order.",
        ),
        *ATTRIBUTION_TABLE.columns,
    ),
    notes=(
        "Every column but `jurisdiction` means what it does in `attribution`, for the "
        "outcome among the jurisdiction's residents (the sweep's `<outcome>__<jurisdiction>` "
        "column): `share` is of that jurisdiction's own total effect.",
        "Outcomes of the market and of enforcement (spend, fines) are the whole run's in "
        "every jurisdiction (`by_residence` in docs/SWEEPS.md).",
    ),
)

ATTRIBUTION_JSON: tuple[MetaKey, ...] = (
    MetaKey(
        "channels",
        "array",
        "The channels asked for, applicable or not, in order: the rows of attribution.csv.",
    ),
    MetaKey(
        "outcome",
        "string",
        "The run-level outcome attributed (`--outcome`, default `harmful_completed`).",
    ),
    MetaKey("method", "string", f"How the intervals are computed: `{INTERVAL_METHOD}`."),
)

ATTRIBUTION = FolderKind(
    command="dirisk attribute",
    title="Attribution folders",
    label="an attribution folder",
    intro="An attribution (`dirisk attribute SCENARIO --out DIR`, default "
    "`attributions/<scenario>`; or `sim.analysis.attribution.attribute`) runs every "
    "coalition of the applicable channels of leakage on and off (2^n runs per seed, over "
    f"common seeds) and splits one run-level outcome among the channels by their Shapley "
    f"values. The folder is a {_SWEEP_FOLDER} (rerun the command to resume; with "
    "`--precision` each round adds seeds to it) with the tables of the attribution, "
    "rewritten after each round:",
    files=(
        (
            "experiment.yaml, manifest.json, design.parquet, outcomes/point=P/rep-R.parquet",
            "the attribution sweep: one factor per applicable channel, named after it, 1 "
            "(on) or 0 (switched off); a grid of every coalition; one replication per seed, "
            "with common random numbers; the one outcome attributed as `<outcome>` (with "
            "`--by jurisdiction` also `<outcome>__<jurisdiction>`)",
        ),
        ("attribution.json", "the channels asked for, the outcome and the interval method"),
        (
            "attribution.csv",
            "per channel: the contribution with its interval and share (table `attribution`)",
        ),
        ("per_seed.csv", "per seed and channel: its Shapley value (table `per_seed`)"),
        ("totals.csv", "per seed: every channel on, every channel off (table `totals`)"),
        ("interactions.csv", "per pair of channels: the interaction index (table `interactions`)"),
        (
            "attribution_by_jurisdiction.csv",
            "with `--by jurisdiction`: the attribution "
            "among each jurisdiction's residents (table `attribution_by_jurisdiction`)",
        ),
        (
            "report/",
            "after `dirisk report DIR`: report.html with the waterfall "
            "(waterfall.png, waterfall.svg)",
        ),
    ),
    tables=(ATTRIBUTION_TABLE, PER_SEED, TOTALS, INTERACTIONS, BY_JURISDICTION),
    conventions=(
        "The game of a seed gives each coalition of applicable channels the outcome of "
        "the run with those channels on and the other applicable channels switched off "
        "(channels that do not apply are as the scenario has them). Its Shapley values "
        "are exact and add up, seed by seed, to `all_on` − `all_off`.",
        "Contributions and interactions are in the unit of the outcome attributed "
        "(attribution.json `outcome`): for a share, 0.01 is one percentage point.",
        "Intervals are 95% Student's t intervals over the seeds (attribution.json `method`).",
    ),
    json_name="attribution.json",
    json_keys=ATTRIBUTION_JSON,
    json_intro="The attribution's settings, a JSON object written after each round of runs:",
    sweeps="the folder is itself a sweep folder",
)


# --------------------------------------------------------------------------- dirisk robust

_FUTURE = Column(
    "future",
    "int64",
    "future index",
    "The future, 0-based: its row of futures.csv and its design point in every "
    "scenario's sweep folder.",
)
_POLICY_LABEL = "policy label"
_ROBUST_FILES = "of a robustness folder"


def _futures_table(name: str, description: str, files: str, drawn: str) -> Table:
    """A table of futures: ``future`` and the value of every uncertain parameter."""
    return Table(
        name=name,
        description=description,
        row="one row per future",
        key=("future",),
        source="sim.experiments.uncertainty.draw_futures",
        files=files,
        columns=(
            Column(
                "future",
                "int64",
                "future index",
                "The future, 0-based: design point `future` of the sweeps run in it.",
            ),
            Column(
                "<parameter>",
                "float64",
                "as the scenario parameter",
                f"The parameter's value in this future, {drawn}; float64, int64 for a "
                "whole-number parameter.",
            ),
        ),
        notes=(
            "A run applies a future with the catalogue's absorbing shares: where a share of "
            "a vector summing to 1 is set, the other shares of the vector give way "
            "(`sim.experiments.uncertainty.apply_future`).",
        ),
    )


_LHS = "drawn by Latin hypercube over its range (uniform or triangular)"

ROBUST_FUTURES = _futures_table(
    "robust_futures",
    "The futures every scenario of a robustness analysis runs in: the value of each "
    "uncertain parameter no policy sets.",
    f"File `futures.csv` {_ROBUST_FILES}",
    f"{_LHS}, seeded by robust.json `seed`",
)

EFFECTS = Table(
    name="effects",
    description="Each policy's paired effect on each outcome in each future and seed: "
    "the policy's run minus the base's, both with the same seed in the same future.",
    row="one row per policy × future × seed × outcome",
    key=("policy", "future", "seed", "outcome"),
    source="sim.analysis.robustness.robustness_of",
    files=f"File `effects.csv` {_ROBUST_FILES}",
    columns=(
        _FUTURE,
        Column(
            "seed",
            "int64",
            "seed",
            "Seed of both runs (the policy's and the base's): replication r has the same "
            "seed in every future and scenario.",
        ),
        Column(
            "policy",
            "str",
            _POLICY_LABEL,
            "The policy (robust.json `names` but the first, which is the base).",
        ),
        _outcome_name("The run-level outcome, one of robust.json `outcomes`."),
        Column(
            "base",
            "float64",
            _OUTCOME_UNIT,
            "The outcome of the base scenario's run in this future with this seed; NaN when "
            "it is undefined.",
        ),
        Column(
            "value",
            "float64",
            _OUTCOME_UNIT,
            "The outcome of the policy's run in this future with this seed; NaN when it is "
            "undefined.",
        ),
        Column(
            "effect",
            "float64",
            _OUTCOME_UNIT,
            "`value` − `base`: the policy's paired effect; NaN when either is NaN.",
        ),
    ),
    notes=("Sorted by policy, future, seed and outcome, policies and outcomes by name.",),
)

ROBUST_SUMMARY = Table(
    name="robust_summary",
    description="Per policy and outcome, the effect across futures: its mean with a 95% "
    "confidence interval, its 5%, 50% and 95% quantiles, and the share of futures where "
    "the policy holds and where it is costly.",
    row="one row per policy × outcome",
    key=("policy", "outcome"),
    source="sim.analysis.robustness.robustness_of",
    files=f"File `summary.csv` {_ROBUST_FILES}",
    columns=(
        Column("policy", "str", _POLICY_LABEL, "The policy, in robust.json `names` order."),
        _outcome_name("The run-level outcome, in robust.json `outcomes` order."),
        Column(
            "mean_effect",
            "float64",
            _OUTCOME_UNIT,
            "Mean over the futures of the per-future effect (the effect averaged over the "
            "future's seeds), futures where it is NaN left out.",
        ),
        *_bounds(
            "low",
            "high",
            "`mean_effect`",
            "the futures with a value",
            "with fewer than two",
        ),
        *(
            Column(
                name,
                "float64",
                _OUTCOME_UNIT,
                f"The {label} of the per-future effect over the futures (`numpy.quantile`, "
                "linear interpolation); NaN when a future's effect is NaN.",
            )
            for name, label in (
                ("q05", "5% quantile"),
                ("median", "median"),
                ("q95", "95% quantile"),
            )
        ),
        Column(
            "futures",
            "int64",
            "futures",
            "Futures the policy was compared in (robust.json `futures`), NaN effects included.",
        ),
        Column(
            "holds_share",
            "float64",
            "share 0–1",
            "Futures where the policy holds / futures; the same in every row of the policy.",
        ),
        Column(
            "costly_share",
            "float64",
            "share 0–1",
            "Futures where the policy is costly / futures; the same in every row of the policy.",
        ),
    ),
)

REGRET = Table(
    name="regret",
    description="Each scenario's regret of harmful requests completed: how many more "
    "it lets through than the best scenario of each future.",
    row="one row per scenario (the base and each policy)",
    key=("policy",),
    source="sim.analysis.robustness.robustness_of",
    files=f"File `regret.csv` {_ROBUST_FILES}",
    columns=(
        Column(
            "policy",
            "str",
            _POLICY_LABEL,
            "The scenario, the base first (robust.json `names` order).",
        ),
        Column(
            "mean_regret",
            "float64",
            "harmful requests",
            "Mean over the futures of the regret: the scenario's harmful requests completed "
            "(averaged over the future's seeds) minus the fewest of any scenario, base "
            "included, in that future; 0 where it is the best.",
        ),
        Column(
            "worst_regret",
            "float64",
            "harmful requests",
            "Largest regret over the futures.",
        ),
        Column(
            "best_in_share",
            "float64",
            "share 0–1",
            "Futures where the scenario completes the fewest harmful requests / futures; a "
            "tie counts for the label first by name, so the shares add up to 1.",
        ),
    ),
)

FAILURE_BOXES = Table(
    name="failure_boxes",
    description="Scenario discovery over the futures where each policy does not hold: "
    "boxes (a range per uncertain parameter) where failing futures concentrate, by a "
    "shallow decision tree and by PRIM.",
    row="one row per policy × method × box",
    key=("policy", "method", "box"),
    source="sim.analysis.robustness.failure_boxes",
    files=f"File `boxes.csv` {_ROBUST_FILES}",
    columns=(
        Column(
            "policy",
            "str",
            _POLICY_LABEL,
            "A policy that fails (does not hold) in some futures but not in all.",
        ),
        Column(
            "method",
            "str",
            "text",
            "`tree` (a shallow decision tree: one box per leaf where failing futures are "
            "the majority) or `prim` (one PRIM box; only where the EMA Workbench is "
            "installed, `dirisk[ema]`).",
        ),
        Column(
            "box",
            "int64",
            "box number",
            "Box number from 1 within the policy and method, by coverage then density.",
        ),
        Column(
            "rule",
            "str",
            "text",
            "The box as a rule over the parameter paths it restricts, such as "
            "`requesters.kinds.malicious.persistence > 5.5` (tree boxes exclude their lower "
            "limits, PRIM boxes include them); `all runs` when it restricts none.",
        ),
        Column(
            "coverage",
            "float64",
            "share 0–1",
            "Failing futures in the box / failing futures of the policy.",
        ),
        Column(
            "density",
            "float64",
            "share 0–1",
            "Failing futures in the box / futures in the box.",
        ),
        Column(
            "runs",
            "int64",
            "futures",
            "Futures in the box (named as in discovery.csv, where it counts runs).",
        ),
    ),
    notes=(
        "Boxes range over the uncertain parameters that vary across the futures.",
        "When no policy fails in some futures but not in all, the file holds the header "
        "only (pandas then reads every column as text).",
    ),
)

ROBUST_JSON: tuple[MetaKey, ...] = (
    MetaKey(
        "names",
        "array",
        "The scenario labels, the base first, then each policy in command order: a "
        "scenario's `name`, or `<base>_changed` for the base with the `--param` changes; "
        "the sweep folders `<label>/` and the `policy` values of the tables.",
    ),
    MetaKey(
        "outcomes",
        "array",
        f"The run-level outcomes recorded in every run, in order: {_names(ROBUST_OUTCOMES)}.",
    ),
    MetaKey("futures", "integer", "Futures drawn (`--futures`): the rows of futures.csv."),
    MetaKey("seeds", "integer", "Common seeds per future (`--seeds`): each sweep's replications."),
    MetaKey(
        "seed",
        "integer",
        "Seed of the futures' Latin hypercube and of the runs (`--seed`).",
    ),
    MetaKey(
        "levers",
        "array",
        "The dotted paths some policy sets differently from the base, sorted (a whole "
        "mapping where one side has a key the other lacks): left out of the futures.",
    ),
    MetaKey(
        "harm_threshold",
        "number",
        "Share of the base's harmful requests completed a policy must prevent in a future "
        "to hold there (`--harm-threshold`).",
    ),
    MetaKey(
        "cost_threshold",
        "number",
        "Rise in benign or dual-use over-refusal, in share points, that makes a policy "
        "costly in a future (`--cost-threshold`).",
    ),
)

ROBUSTNESS = FolderKind(
    command="dirisk robust",
    title="Robustness folders",
    label="a robustness folder",
    intro="A robustness analysis (`dirisk robust POLICY... --against BASE --out DIR`, "
    "default `robust/<base>`; or `sim.analysis.robustness.robust`) draws futures once by "
    "Latin hypercube over the base scenario's uncertainty catalogue, leaving out every "
    "parameter a policy sets, and runs the base and each policy in every future with "
    "common seeds. Rerun the same command to resume; the tables are rewritten:",
    files=(
        ("futures.csv", "the futures (table `robust_futures`)"),
        ("robust.json", "the scenarios, outcomes, counts, seed and thresholds of the analysis"),
        (
            "<label>/",
            f"one {_SWEEP_FOLDER} per scenario (robust.json `names`): an experiment of "
            "`futures`, whose design.parquet holds `point` and one column per uncertain "
            "parameter path (runs hold no factor column), robust.json `seeds` replications "
            "with common random numbers and the outcomes of robust.json `outcomes`",
        ),
        (
            "effects.csv",
            "per policy, future, seed and outcome: the paired effect (table `effects`)",
        ),
        (
            "summary.csv",
            "per policy and outcome: the effect across futures, how often the "
            "policy holds and is costly (table `robust_summary`)",
        ),
        (
            "regret.csv",
            "per scenario: regret of harm against the best of each future (table `regret`)",
        ),
        (
            "boxes.csv",
            "per failing policy: the boxes of futures where it does not hold "
            "(table `failure_boxes`)",
        ),
        (
            "report/",
            "after `dirisk report DIR`: report.html with the effects figure "
            "(effects.png, effects.svg)",
        ),
    ),
    tables=(ROBUST_FUTURES, EFFECTS, ROBUST_SUMMARY, REGRET, FAILURE_BOXES),
    conventions=(
        "A policy *holds* in a future when its harmful requests completed, averaged over "
        "the future's seeds, fall below the base's by at least the harm threshold × the "
        "base's (`--harm-threshold`, default 0.10); it is *costly* there when benign or "
        "dual-use over-refusal, averaged over the seeds, rises by more than the cost "
        "threshold (`--cost-threshold`, default 0.01 share points).",
        "robust.json records the thresholds of the command that wrote the folder; "
        "`dirisk report DIR` and the explorer's Robustness page start from them (a folder "
        "written before they were recorded: the defaults).",
        "Effects are in the outcome's unit (`dirisk describe outcomes`); an effect on a "
        "share is in share points.",
    ),
    json_name="robust.json",
    json_keys=ROBUST_JSON,
    json_intro="The analysis's settings, a JSON object written before the runs:",
    sweeps="one sweep folder per scenario, <label>/",
)


# --------------------------------------------------------------------------- dirisk optimize

_OPTIMIZE_FILES = "of an optimisation folder"
_LEVER = Column(
    "<lever>",
    "float64",
    "as the scenario parameter it sets",
    "The lever's value, set at every place of its paths; float64 for a number lever, "
    "int64 for an `integer: true` lever and bool for a `type: bool` lever.",
)
_OBJECTIVE = Column(
    "<objective>",
    "float64",
    _OUTCOME_UNIT,
    "The objective's statistic over the futures of the search (optimization.json "
    "`statistic`): the mean over the futures where the outcome has a value, or the NN-th "
    "percentile on the worse side for `qNN` (the NN-th of a minimised objective, the "
    "(100 − NN)-th of a maximised one).",
)
_GENERATION = Column("generation", "int64", "generation", "Generation of the search, 0-based.")
_CANDIDATE = Column(
    "candidate",
    "int64",
    "candidate index",
    "Candidate within its generation, 0-based: its runs are in "
    "generations/g<generation>/c<candidate>/.",
)
_POLICY = Column(
    "policy",
    "int64",
    "policy number",
    "Pareto policy number, 0-based: its scenario file is policies/policy_<policy>.yaml.",
)

OPTIMIZE_FUTURES = _futures_table(
    "optimize_futures",
    "The futures every candidate of a policy search runs in: the value of each uncertain "
    "parameter no lever sets.",
    f"File `futures.csv` {_OPTIMIZE_FILES}",
    f"{_LHS}, seeded by optimization.json `seed`; parameters a lever sets, or whose "
    "difference a lever's place would absorb, are left out",
)

REEVALUATION_FUTURES = _futures_table(
    "reevaluation_futures",
    "The fresh futures the Pareto policies are re-evaluated in.",
    f"File `reevaluation_futures.csv` {_OPTIMIZE_FILES}, written with re-evaluation",
    f"{_LHS}, seeded by optimization.json `reevaluation_seed`; the same parameters as futures.csv",
)

HISTORY = Table(
    name="history",
    description="Every candidate the search evaluated, generation by generation: its "
    "lever values and its objectives over the futures.",
    row="one row per candidate evaluated",
    key=("generation", "candidate"),
    source="sim.experiments.optimize.optimize",
    files=f"File `history.csv` {_OPTIMIZE_FILES}",
    columns=(_GENERATION, _CANDIDATE, _LEVER, _OBJECTIVE),
    notes=(
        "Integer and bool levers are rounded before they run, so candidates of different "
        "generations can share a setting.",
    ),
)

PARETO = Table(
    name="pareto",
    description="The Pareto-optimal policies: the candidates of the search's final "
    "population that no candidate evaluated in the whole search dominates, one per "
    "distinct setting of the levers.",
    row="one row per Pareto policy",
    key=("policy",),
    source="sim.experiments.optimize.optimize",
    files=f"File `pareto.csv` {_OPTIMIZE_FILES}",
    columns=(
        _POLICY,
        Column(
            "generation",
            "int64",
            "generation",
            "Generation of the policy's first evaluation (its row of history.csv).",
        ),
        Column(
            "candidate",
            "int64",
            "candidate index",
            "Candidate index of the policy's first evaluation, within that generation.",
        ),
        _LEVER,
        _OBJECTIVE,
        Column(
            "scenario",
            "str",
            "file path",
            "The policy's scenario file, relative to the folder: `policies/policy_<policy>.yaml`.",
        ),
    ),
    notes=(
        "Best first: sorted by the objective columns in order, each from its best value "
        "(ascending where minimised, descending where maximised), then by generation and "
        "candidate.",
    ),
)

REEVALUATION = Table(
    name="reevaluation",
    description="The Pareto policies over fresh futures with fresh run seeds: their "
    "objectives there, and which stay non-dominated among themselves.",
    row="one row per Pareto policy",
    key=("policy",),
    source="sim.experiments.optimize.optimize",
    files=f"File `reevaluation.csv` {_OPTIMIZE_FILES}, written with re-evaluation",
    blocks=("<objective>_reevaluated",),
    columns=(
        Column("policy", "int64", "policy number", "The Pareto policy, as in pareto.csv."),
        _LEVER,
        Column(
            "<objective>",
            "float64",
            _OUTCOME_UNIT,
            "The objective over the search's futures, as in pareto.csv.",
        ),
        Column(
            "<objective>_reevaluated",
            "float64",
            _OUTCOME_UNIT,
            "The objective's statistic (optimization.json `statistic`) over the fresh "
            "futures of reevaluation_futures.csv.",
        ),
        Column(
            "rank_reevaluated",
            "int64",
            "front",
            "The policy's front among the Pareto policies over the fresh futures, by "
            "pymoo's non-dominated sorting: 0 when no other policy dominates it, 1 when "
            "only policies of front 0 do, and so on.",
        ),
        Column(
            "non_dominated",
            "bool",
            "true/false",
            "Whether `rank_reevaluated` is 0: the policy stays non-dominated over fresh futures.",
        ),
    ),
    notes=(
        "The `<objective>` columns come first, one per objective, then the "
        "`<objective>_reevaluated` columns in the same order.",
    ),
)

OPTIMIZATION_JSON: tuple[MetaKey, ...] = (
    MetaKey(
        "base",
        "string or null",
        "The base scenario as given: a preset name or a file path; null when it was given "
        "as a mapping or a Scenario.",
    ),
    MetaKey("base_name", "string", "The base scenario's `name`."),
    MetaKey(
        "base_hash",
        "string",
        "SHA-256 (hex) of the canonical JSON of the base scenario as loaded (before `--steps`).",
    ),
    MetaKey(
        "levers",
        "object",
        "The levers as validated, defaults included: `description` and `levers`, each with "
        "`name` (null: the last part of its first path), `path`, `type`, `bounds` and "
        "`integer`.",
    ),
    MetaKey(
        "levers_file",
        "string",
        "The levers file as given; `<levers>` for levers given as a mapping or LeverSet.",
    ),
    MetaKey(
        "objectives",
        "array",
        "The objectives as `OUTCOME:min` or `OUTCOME:max`, in column order; "
        "`enforcement_spend_usd:min` is added when missing.",
    ),
    MetaKey("futures", "integer", "Futures every candidate runs in (`--futures`)."),
    MetaKey(
        "generations",
        "integer",
        "Generations asked for (`--generations`); the search stops earlier when no new "
        "candidate is left.",
    ),
    MetaKey("population", "integer", "Candidates per generation (`--population`)."),
    MetaKey("seed", "integer", "Seed of the futures, the runs and the search (`--seed`)."),
    MetaKey("steps", "integer or null", "Days per run (`--steps`); null: the base scenario's."),
    MetaKey("statistic", "string", "The statistic over the futures: `mean` or `qNN`."),
    MetaKey(
        "reevaluate",
        "integer",
        "Fresh futures of the re-evaluation (`--reevaluate`, default `futures`; 0: none).",
    ),
    MetaKey(
        "reevaluation_seed",
        "integer",
        "Seed of the fresh futures and of their runs, derived from `seed` "
        "(`sim.experiments.optimize.reevaluation_seed`).",
    ),
    MetaKey(
        "algorithm",
        "string",
        "`NSGA-II` (up to three objectives) or `NSGA-III` (more).",
    ),
    MetaKey(
        "uncertain_parameters",
        "integer",
        "Uncertain parameters the futures vary: the `<parameter>` columns of futures.csv.",
    ),
    MetaKey(
        "created_at",
        "string",
        "When the folder was created, ISO 8601 in UTC (kept when the search resumes).",
    ),
    MetaKey(
        "state",
        "string",
        "`running` from the start of each run of the command until it ends (and after one "
        "was stopped or failed); `complete` when the search and its re-evaluation have "
        "finished.",
    ),
    MetaKey(
        "versions",
        "object",
        "Provenance of the process that last ran the search, with the keys of run.json "
        "`versions` (`command` included).",
    ),
    MetaKey(
        "identity",
        "string",
        "SHA-256 (hex) of the settings that decide the search (`base_hash`, `levers`, "
        "`objectives`, `futures`, `population`, `seed`, `steps`, `statistic`, "
        "`reevaluate`): a rerun into the folder must have the same.",
    ),
    MetaKey(
        "finished_at",
        "string",
        "When the latest run of the command finished, ISO 8601 in UTC; absent while one runs.",
    ),
    MetaKey(
        "pareto_policies",
        "integer",
        "Pareto policies found (rows of pareto.csv); absent while the command runs.",
    ),
)

OPTIMISATION = FolderKind(
    command="dirisk optimize",
    title="Optimisation folders",
    label="an optimisation folder",
    intro="A policy search (`dirisk optimize BASE --levers LEVERS --out DIR`, default "
    "`optimizations/<base>_<levers file>`; or `sim.experiments.optimize.optimize`) "
    "evaluates candidate settings of policy levers in futures drawn once from the base "
    "scenario's uncertainty catalogue, keeps the Pareto-optimal ones (NSGA-II, NSGA-III "
    "above three objectives) and re-evaluates them in fresh futures. Rerun the same "
    "command to resume; more `--generations` continue the search:",
    files=(
        ("optimization.json", "the settings and state of the search"),
        ("futures.csv", "the futures of the search (table `optimize_futures`)"),
        (
            "generations/g<k>/c<i>/",
            f"one {_SWEEP_FOLDER} per candidate i of generation k (both 0-based): the base "
            "with the candidate's lever values, an experiment of `futures` (design.parquet "
            "holds `point` and the future's parameter values), one replication, the same "
            "run seed for future j in every candidate, the objectives as outcomes; not "
            "written when `optimize` is given `evaluate=`",
        ),
        ("history.csv", "every candidate evaluated (table `history`)"),
        ("pareto.csv", "the Pareto policies (table `pareto`)"),
        (
            "policies/policy_<k>.yaml",
            "Pareto policy k as a scenario file, rewritten on each run: a comment line "
            "(with `--steps N`: run it with `--steps N`), `extends:` the base (a preset's "
            "name, or the base file's path relative to policies/; the whole scenario when "
            "the base was a mapping), `name` `<base>_policy_<k>`, a `description` with its "
            "objective and lever values, and every place its levers set; `dirisk run "
            "DIR/policies/policy_<k>.yaml` runs it",
        ),
        (
            "reevaluation_futures.csv",
            "with re-evaluation: the fresh futures (table `reevaluation_futures`)",
        ),
        (
            "reevaluation/g<k>-c<i>/",
            "with re-evaluation: one sweep folder per Pareto "
            "policy, named by the candidate it was first evaluated as, over the fresh futures "
            "with fresh run seeds",
        ),
        (
            "reevaluation.csv",
            "with re-evaluation: the Pareto policies over the fresh futures (table `reevaluation`)",
        ),
        (
            "pareto.png, pareto.svg",
            "drawn by `dirisk optimize` "
            "(`sim.output.optimize_report.pareto_figure`): the Pareto policies in parallel "
            "coordinates, levers on their bounds, objectives on their range, best at the "
            "bottom; policies that stay non-dominated over fresh futures solid, others dashed",
        ),
        (
            "report/",
            "after `dirisk report DIR`: report.html with the search's settings, the same "
            "figure (pareto.png, pareto.svg) and the tables of the policies and their "
            "re-evaluation",
        ),
    ),
    tables=(OPTIMIZE_FUTURES, HISTORY, PARETO, REEVALUATION_FUTURES, REEVALUATION),
    conventions=(
        "A candidate is one setting of the levers; (`generation`, `candidate`) names it "
        "and its runs, generations/g<generation>/c<candidate>/.",
        "Re-evaluation runs when optimization.json `reevaluate` is above 0 and the search "
        "found a Pareto policy; without it there is no reevaluation_futures.csv, "
        "reevaluation/ or reevaluation.csv.",
        "Objectives are in the outcome's unit (`dirisk describe outcomes`).",
    ),
    json_name="optimization.json",
    json_keys=OPTIMIZATION_JSON,
    json_intro="The search's settings and state, a JSON object written when the command "
    "starts and again when it finishes (keys in file order once finished):",
    sweeps="one sweep folder per candidate, generations/g<k>/c<i>/ and reevaluation/g<k>-c<i>/",
)


# --------------------------------------------------------------------------- index

#: Every folder kind an experiment command writes, by command.
EXPERIMENT_FOLDERS: dict[str, FolderKind] = {
    f.command.removeprefix("dirisk "): f
    for f in (COMPARISON, ATTRIBUTION, ROBUSTNESS, OPTIMISATION)
}

#: Every table of those folders, by name.
EXPERIMENT_TABLES: dict[str, Table] = {
    t.name: t for f in EXPERIMENT_FOLDERS.values() for t in f.tables
}
