"""The ``dirisk`` command line.

Exit codes: 0 success; 2 bad input (one line on stderr, no traceback); 1 internal error.
"""

from __future__ import annotations

import json
import math
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from sim.common.stats import INTERVAL_METHOD
from sim.results.outcomes import outcome as outcome_of
from sim.results.runner import build_info
from sim.results.runner import run as run_scenario
from sim.results.tables import TABLES, Results
from sim.scenario import ScenarioError, json_schema, list_presets, load_scenario

__all__ = [
    "OutputFormat",
    "app",
    "describe",
    "discover",
    "err_console",
    "fail",
    "frontier",
    "list_",
    "main",
    "out_console",
    "print_summary",
    "query",
    "report",
    "run",
    "schema",
    "sensitivity",
    "summarize",
    "sweep",
    "validate",
]

app = typer.Typer(
    help="dirisk: simulate decentralised AI inference and the content policies that govern it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out_console = Console()
err_console = Console(stderr=True)

#: The options of every command that runs on Dask.
WorkersOption = Annotated[
    int | None, typer.Option(min=1, help="Local worker processes (default: one per core).")
]
SchedulerOption = Annotated[
    str | None,
    typer.Option(help="Address of a Dask scheduler (tcp://host:8786) instead of local workers."),
]


def _version(value: bool) -> None:
    if value:
        out_console.print(f"dirisk {build_info()['dirisk_build']}", highlight=False)
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """dirisk: simulate decentralised AI inference and the content policies that govern it."""


class OutputFormat(StrEnum):
    """Table file format."""

    parquet = "parquet"
    csv = "csv"


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print one line to stderr and return the Exit to raise."""
    err_console.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)
    return typer.Exit(code)


def _fmt(value: float, unit: str) -> str:
    """A summary value for people: shares as percentages, counts and money with commas."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if unit == "share":
        return f"{value:.1%}"
    if unit == "USD":
        return f"${value:,.0f}"
    return f"{value:,.0f}"


@app.command()
def run(
    scenario: Annotated[str, typer.Argument(help="Scenario file or preset name.")],
    seed: Annotated[int | None, typer.Option(help="Random seed (default: the scenario's).")] = None,
    steps: Annotated[int | None, typer.Option(min=1, help="Days to simulate.")] = None,
    out: Annotated[
        Path | None, typer.Option(help="Output folder (default: runs/<scenario>_seed<seed>).")
    ] = None,
    format: Annotated[OutputFormat, typer.Option(help="Table file format.")] = OutputFormat.parquet,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress bar or summary.")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Replace the run already in the output folder.")
    ] = False,
) -> None:
    """Run a scenario, print a summary and write its tables and run.json.

    The output folder must not exist or be empty (--force replaces a previous run whole);
    it appears complete or not at all. Without --out, a taken default folder is kept and
    the run goes to the next free one (runs/<scenario>_seed<seed>-2/, ...).
    """
    from sim.results.tables import DirectoryNotEmpty, check_target

    try:
        spec = load_scenario(scenario)
    except ScenarioError as exc:
        raise fail(str(exc)) from None
    target = out or _default_folder(
        Path("runs") / f"{spec.name}_seed{spec.seed if seed is None else seed}", force
    )

    def refuse(exc: DirectoryNotEmpty) -> typer.Exit:
        if force:
            return fail(str(exc))
        return fail(
            f"{target} is not empty (it holds a run or other files); pass --force to "
            "replace it, or choose another --out"
        )

    try:
        check_target(target, overwrite=force)  # before running, not after
    except DirectoryNotEmpty as exc:
        raise refuse(exc) from None
    total = steps or spec.steps
    show_bar = not quiet and err_console.is_terminal
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        disable=not show_bar,
    ) as bar:
        task = bar.add_task(spec.name, total=total)
        results = run_scenario(
            spec, seed=seed, steps=steps, progress=lambda done, _: bar.update(task, completed=done)
        )
    try:
        results.save(target, format=format.value, overwrite=force)
    except DirectoryNotEmpty as exc:
        raise refuse(exc) from None
    except OSError as exc:
        raise fail(f"{target}: cannot write results ({exc.strerror or exc})") from None
    if not quiet:
        print_summary(results, target)


def _default_folder(base: Path, force: bool) -> Path:
    """``base``, or with --force off and ``base`` taken, the first free ``base-N``."""
    if force:
        return base
    candidate, number = base, 1
    while candidate.exists() and (not candidate.is_dir() or any(candidate.iterdir())):
        number += 1
        candidate = base.with_name(f"{base.name}-{number}")
    return candidate


def print_summary(results: Results, target: Path) -> None:
    """The headline numbers of a run and where its files went."""
    meta = results.meta
    table = Table(title=f"{meta['scenario_name']} · seed {meta['seed']} · {meta['steps']} days")
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_column("basis", style="dim")
    for row in results.summary().itertuples(index=False):
        table.add_row(row.metric, _fmt(row.value, row.unit), row.basis)
    out_console.print(table)
    nodes = results.nodes_by_jurisdiction()
    out_console.print(
        "active nodes by jurisdiction: "
        + ", ".join(f"{name} {count}" for name, count in nodes.items()),
        highlight=False,
        soft_wrap=True,
    )
    out_console.print(
        f"tables and run.json written to {target}/ "
        f"({meta['run_seconds']:.2f} s simulated, {meta['build_seconds']:.2f} s set-up)",
        highlight=False,
        soft_wrap=True,
    )


@app.command()
def frontier(
    scenario: Annotated[str, typer.Argument(help="Scenario file or preset name.")],
    param: Annotated[
        list[str],
        typer.Option(
            help="Dotted path of the policy lever ('*' for every key at a level); repeat to "
            "set several together."
        ),
    ],
    values: Annotated[str, typer.Option(help="Comma-separated settings, least strict first.")],
    seeds: Annotated[int, typer.Option(min=1, help="Replications per setting.")] = 5,
    steps: Annotated[int | None, typer.Option(min=1, help="Days per run.")] = None,
    out: Annotated[Path | None, typer.Option(help="Write the table as CSV here.")] = None,
) -> None:
    """Harm completed against over-refusal as a policy lever is turned (policy-cost frontier)."""
    from sim.experiments.frontier import frontier as policy_frontier

    try:
        settings = [float(v) for v in values.split(",") if v.strip()]
    except ValueError:
        raise fail(f"--values: expected comma-separated numbers, got {values!r}") from None
    try:
        table = policy_frontier(scenario, param, settings, seeds=seeds, steps=steps)
    except ScenarioError as exc:
        raise fail(str(exc)) from None
    view = Table(title=f"policy-cost frontier: {', '.join(param)} ({seeds} seeds each)")
    for col in (
        "value",
        "harm completion",
        "malicious success",
        "benign over-refusal",
        "dual-use over-refusal",
        "harm prevented",
        "spend / harm prevented",
    ):
        view.add_column(col, justify="right")
    for row in table.itertuples(index=False):
        view.add_row(
            f"{row.value:g}",
            _ci(row, "harm_completion_rate"),
            _ci(row, "malicious_success_share"),
            _ci(row, "benign_over_refusal"),
            _ci(row, "dual_use_over_refusal"),
            _fmt(row.harm_prevented, "count"),
            _fmt(row.spend_per_harm_prevented_usd, "USD"),
        )
    out_console.print(view)
    if out is not None:
        from sim.common.files import atomic_write_text

        atomic_write_text(out, table.to_csv(index=False))
        out_console.print(f"frontier written to {out}", highlight=False, soft_wrap=True)


def _ci(row: object, name: str) -> str:
    """A share with its 95% confidence interval."""
    mean, low, high = (
        getattr(row, name),
        getattr(row, f"{name}_ci_low"),
        getattr(row, f"{name}_ci_high"),
    )
    return f"{_fmt(mean, 'share')} [{_fmt(low, 'share')}, {_fmt(high, 'share')}]"


@app.command()
def compare(
    a: Annotated[str, typer.Argument(help="Scenario A: a file or a preset name.")],
    b: Annotated[
        str | None,
        typer.Argument(help="Scenario B: a file or a preset name (default: A, with --param)."),
    ] = None,
    param: Annotated[
        list[str] | None,
        typer.Option(help="PATH=VALUE set in B ('*' for every key at a level); repeatable."),
    ] = None,
    seeds: Annotated[
        int | None, typer.Option(min=2, help="Common seeds (default 5). Not with --precision.")
    ] = None,
    precision: Annotated[
        float | None,
        typer.Option(
            min=0.0,
            help="Add seeds until the 95% interval of B − A for --outcome has this "
            "half-width (in the outcome's unit: 0.01 is one percentage point of a share).",
        ),
    ] = None,
    outcome: Annotated[
        str, typer.Option(help="The outcome --precision applies to.")
    ] = "harm_completion_rate",
    max_seeds: Annotated[int, typer.Option(min=3, help="Most seeds --precision may run.")] = 100,
    steps: Annotated[int | None, typer.Option(min=1, help="Days per run.")] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Write summary.csv, paired.csv, compare.json and the scenarios a.yaml and "
            "b.yaml into this folder."
        ),
    ] = None,
) -> None:
    """B against A over common seeds: each headline outcome with paired 95% intervals."""
    from sim.experiments.compare import compare as paired_compare
    from sim.experiments.compare import parse_param

    if seeds is not None and precision is not None:
        raise fail("give --seeds or --precision, not both")
    if b is None and not param:
        raise fail("give scenario B, or --param PATH=VALUE to change A")
    try:
        result = paired_compare(
            a,
            b,
            params=[parse_param(p) for p in param or []],
            seeds=seeds,
            precision=precision,
            precision_outcome=outcome,
            max_seeds=max_seeds,
            steps=steps,
        )
    except ScenarioError as exc:
        raise fail(str(exc)) from None
    except (KeyError, ValueError) as exc:
        raise fail(str(exc).strip("\"'")) from None
    n = len(result.seeds)
    view = Table(title=f"A: {result.name_a}  ·  B: {result.name_b}  ·  {n} common seeds")
    for col, justify in (
        ("outcome", "left"),
        ("A", "right"),
        ("B", "right"),
        ("B − A [95% interval]", "right"),
        ("verdict", "left"),
    ):
        view.add_column(col, justify=justify)
    for row in result.summary.itertuples(index=False):
        unit = outcome_of(row.metric).unit
        view.add_row(
            outcome_of(row.metric).label,
            _fmt(row.mean_a, unit),
            _fmt(row.mean_b, unit),
            f"{_fmt_diff(row.diff, unit)} [{_fmt_diff(row.diff_low, unit)}, "
            f"{_fmt_diff(row.diff_high, unit)}]",
            row.verdict,
        )
    out_console.print(view)
    out_console.print(
        f"paired over common random numbers; intervals: {INTERVAL_METHOD} at n = {n}; "
        "differences of shares in percentage points",
        highlight=False,
        soft_wrap=True,
    )
    if result.precision is not None:
        out_console.print(result.precision.describe(), highlight=False, soft_wrap=True)
    if out is not None:
        result.save(out)
        out_console.print(
            f"summary.csv, paired.csv, compare.json, a.yaml and b.yaml written to {out}/",
            highlight=False,
            soft_wrap=True,
        )


def _spread(row: object, unit: str) -> str:
    """A mean effect over futures and the 5% and 95% quantiles of its futures."""
    mean, low, high = (_fmt_diff(row[k], unit) for k in ("mean_effect", "q05", "q95"))  # type: ignore[index]
    return f"{mean} [{low}, {high}]"


def _fmt_diff(value: float, unit: str) -> str:
    """A difference for people: shares in signed percentage points."""
    if value is None or math.isnan(value):
        return "n/a"
    if unit == "share":
        return f"{100 * value:+.1f} pp"
    if unit == "USD":
        return f"{'-' if value < 0 else '+'}${abs(value):,.0f}"
    return f"{value:+,.0f}"


@app.command()
def attribute(
    scenario: Annotated[str, typer.Argument(help="Scenario file or preset name.")],
    channels: Annotated[
        str | None,
        typer.Option(help="Comma-separated channels (default: all; `dirisk attribute --help`)."),
    ] = None,
    outcome: Annotated[
        str, typer.Option(help="The run-level outcome to attribute (dirisk describe outcomes).")
    ] = "harmful_completed",
    seeds: Annotated[
        int,
        typer.Option(
            min=2, help="Common seeds per coalition (the first round's with --precision)."
        ),
    ] = 5,
    precision: Annotated[
        float | None,
        typer.Option(
            min=0.0,
            help="Add seeds until every channel's 95% interval has this half-width (in the "
            "outcome's unit).",
        ),
    ] = None,
    max_seeds: Annotated[int, typer.Option(min=3, help="Most seeds --precision may run.")] = 20,
    steps: Annotated[int | None, typer.Option(min=1, help="Days per run.")] = None,
    by: Annotated[
        str | None,
        typer.Option(
            help="'jurisdiction': also per requester jurisdiction (which channels let each "
            "regime's residents' prohibited demand out)."
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Attribution folder (default: attributions/<scenario>); rerun to resume."
        ),
    ] = None,
    workers: WorkersOption = None,
    scheduler: SchedulerOption = None,
) -> None:
    """Why harm leaks: Shapley contributions of each channel (vpn, retries, jailbreaks,
    permissive_models, havens, cross_border, kyc_forgery, requester_learning, protocol,
    node_adaptation) to an outcome, over common seeds, with 95% intervals."""
    from sim.analysis.attribution import AttributionError
    from sim.analysis.attribution import attribute as run_attribution
    from sim.experiments.channels import CHANNELS
    from sim.experiments.folder import SweepError
    from sim.output.attribution_report import describe_attribution

    try:
        spec = load_scenario(scenario)
    except ScenarioError as exc:
        raise fail(str(exc)) from None
    if by not in (None, "jurisdiction"):
        raise fail(f"--by: expected 'jurisdiction', got {by!r}")
    target = out or Path("attributions") / spec.name
    names = [c.strip() for c in channels.split(",") if c.strip()] if channels else None
    plan = {}
    try:
        result = run_attribution(
            spec,
            target,
            channels=names,
            outcome_name=outcome,
            seeds=seeds,
            precision=precision,
            max_seeds=max_seeds,
            steps=steps,
            by_residence=by == "jurisdiction",
            workers=workers,
            scheduler=scheduler,
            on_plan=lambda n, runs: plan.update(channels=n, runs=runs),
        )
    except (ScenarioError, SweepError, AttributionError) as exc:
        raise fail(str(exc)) from None
    except (KeyError, ValueError) as exc:
        raise fail(str(exc).strip("\"'")) from None
    label = outcome_of(outcome).label
    view = Table(title=f"{spec.name}: why {label} leaks ({len(result.totals)} common seeds)")
    for col, justify in (
        ("channel", "left"),
        ("contribution [95% interval]", "right"),
        ("share", "right"),
        ("when switched off / why it does not apply", "left"),
    ):
        view.add_column(col, justify=justify)
    for row in result.table.itertuples(index=False):
        if not row.applies:
            view.add_row(CHANNELS[row.channel].label, "does not apply", "", row.reason)
            continue
        view.add_row(
            CHANNELS[row.channel].label,
            f"{row.contribution:+,.4g} [{row.low:+,.4g}, {row.high:+,.4g}]",
            f"{row.share:.0%}",
            CHANNELS[row.channel].off,
        )
    out_console.print(view)
    if result.by_jurisdiction is not None:
        applying = result.by_jurisdiction[result.by_jurisdiction["applies"]]
        grid = applying.pivot(index="jurisdiction", columns="channel", values="contribution")
        grid = grid.reindex(index=list(dict.fromkeys(applying["jurisdiction"])))
        places = Table(title=f"contributions among each jurisdiction's residents ({label})")
        places.add_column("residents of")
        for channel_name in grid.columns:
            places.add_column(CHANNELS[channel_name].label, justify="right")
        for place, row in grid.iterrows():
            places.add_row(str(place), *(f"{v:+,.4g}" for v in row))
        out_console.print(places)
    out_console.print(describe_attribution(result), highlight=False, soft_wrap=True)
    if result.precision is not None:
        out_console.print(result.precision.describe(), highlight=False, soft_wrap=True)
    out_console.print(
        f"{plan.get('runs', '?')} runs ({plan.get('channels', '?')} channels x "
        f"{len(result.totals)} seeds); "
        f"tables written to {target}/ (dirisk report {target} draws the waterfall)",
        highlight=False,
        soft_wrap=True,
    )


@app.command()
def robust(
    policies: Annotated[
        list[str] | None,
        typer.Argument(help="Policies: presets or scenario files (and/or --param changes)."),
    ] = None,
    against: Annotated[str, typer.Option(help="The base scenario (a preset or a file).")] = "",
    param: Annotated[
        list[str] | None,
        typer.Option(help="PATH=VALUE: one more policy, the base with these changes."),
    ] = None,
    futures: Annotated[int, typer.Option(min=2, help="Futures drawn (Latin hypercube).")] = 100,
    seeds: Annotated[int, typer.Option(min=1, help="Common seeds per future.")] = 3,
    steps: Annotated[int | None, typer.Option(min=1, help="Days per run.")] = None,
    seed: Annotated[int, typer.Option(min=0, help="Seed of the futures and the runs.")] = 0,
    harm_threshold: Annotated[
        float, typer.Option(help="Share of the base's harm a policy must prevent to hold.")
    ] = 0.10,
    cost_threshold: Annotated[
        float, typer.Option(help="Rise in over-refusal (share points) that is a cost.")
    ] = 0.01,
    out: Annotated[
        Path | None, typer.Option(help="Robustness folder (default: robust/<base>); rerun resumes.")
    ] = None,
    workers: WorkersOption = None,
    scheduler: SchedulerOption = None,
) -> None:
    """Policies across plausible futures: effects, how often each holds, its cost to
    legitimate users, its regret, and where it fails."""
    from sim.analysis.robustness import RobustnessError
    from sim.analysis.robustness import robust as run_robust
    from sim.experiments.compare import parse_param, with_params
    from sim.experiments.folder import SweepError

    if not against:
        raise fail("give the base scenario with --against BASE")
    if not policies and not param:
        raise fail("name at least one policy, or --param PATH=VALUE changes of the base")
    try:
        base = load_scenario(against)
        chosen = [(load_scenario(p).name, p) for p in policies or []]
        if param:
            changes = [parse_param(p) for p in param]
            chosen.append((f"{base.name}_changed", with_params(base, changes)))
        result = run_robust(
            base,
            chosen,
            out or Path("robust") / base.name,
            futures=futures,
            seeds=seeds,
            steps=steps,
            seed=seed,
            harm_threshold=harm_threshold,
            cost_threshold=cost_threshold,
            workers=workers,
            scheduler=scheduler,
        )
    except (ScenarioError, SweepError, RobustnessError) as exc:
        raise fail(str(exc)) from None
    except (KeyError, ValueError) as exc:
        raise fail(str(exc).strip("\"'")) from None
    rows = result.summary.set_index(["policy", "outcome"])
    view = Table(title=f"{len(result.futures)} futures of {base.name} × {seeds} common seeds")
    for col in (
        "policy",
        "holds in",
        "costly in",
        "harm completed (effect)",
        "leakage",
        "dual-use over-refusal",
        "spend",
    ):
        view.add_column(col, justify="left" if col == "policy" else "right")
    for policy in dict.fromkeys(result.summary["policy"]):
        first = rows.loc[(policy, "harmful_completed")]
        view.add_row(
            policy,
            f"{first['holds_share']:.0%}",
            f"{first['costly_share']:.0%}",
            *(
                _spread(rows.loc[(policy, name)], unit)
                for name, unit in (
                    ("harmful_completed", "count"),
                    ("policy_leakage", "share"),
                    ("dual_use_over_refusal", "share"),
                    ("enforcement_spend_usd", "USD"),
                )
            ),
        )
    out_console.print(view)
    out_console.print(
        f"effects: mean over futures [5%, 95% of futures]; holds: harm falls by at least "
        f"{harm_threshold:.0%}; costly: over-refusal rises by more than "
        f"{100 * cost_threshold:g} points",
        highlight=False,
        soft_wrap=True,
    )
    for row in result.regret.itertuples(index=False):
        out_console.print(
            f"regret of {row.policy}: mean {row.mean_regret:,.1f}, worst {row.worst_regret:,.0f} "
            f"harmful requests; best in {row.best_in_share:.0%} of futures",
            highlight=False,
            soft_wrap=True,
        )
    for row in result.boxes[result.boxes["box"] == 1].itertuples(index=False):
        out_console.print(
            f"{row.policy} fails ({row.method}): {row.rule} (coverage {row.coverage:.0%}, "
            f"density {row.density:.0%})",
            highlight=False,
            soft_wrap=True,
            markup=False,
        )


@app.command(name="app")
def app_command(
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to serve on.")] = 8501,
    address: Annotated[
        str, typer.Option(help="Address to listen on (127.0.0.1: this machine only).")
    ] = "127.0.0.1",
) -> None:
    """Start the explorer in the browser (the packaged Streamlit app)."""
    import subprocess

    from sim.app import explorer_path

    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(explorer_path()),
        "--server.port",
        str(port),
        "--server.address",
        address,
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
    ]
    out_console.print(f"dirisk explorer at http://{address}:{port}", highlight=False)
    raise typer.Exit(subprocess.call(command))


@app.command()
def optimize(
    base: Annotated[str, typer.Argument(help="The base scenario: a preset or a file.")],
    levers: Annotated[
        Path,
        typer.Option(
            help="Levers file (YAML): each lever's path(s), bounds [low, high] or type: bool."
        ),
    ],
    objectives: Annotated[
        list[str] | None,
        typer.Option(
            help="OUTCOME:min or OUTCOME:max, comma-separated or repeated (default: "
            "harmful_completed, benign_over_refusal, dual_use_over_refusal and "
            "enforcement_spend_usd, all min); enforcement_spend_usd:min is always one."
        ),
    ] = None,
    futures: Annotated[
        int, typer.Option(min=1, help="Futures every candidate runs in (drawn once).")
    ] = 10,
    generations: Annotated[int, typer.Option(min=1, help="Generations of the search.")] = 10,
    population: Annotated[int, typer.Option(min=2, help="Candidates per generation.")] = 20,
    statistic: Annotated[
        str,
        typer.Option(help="Over the futures: mean, or q90 (the 90th percentile, worse side)."),
    ] = "mean",
    reevaluate: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="Fresh futures the Pareto policies are re-run in (default: --futures; 0: none).",
        ),
    ] = None,
    seed: Annotated[
        int, typer.Option(min=0, help="Seed of the futures, the runs and the search.")
    ] = 0,
    steps: Annotated[int | None, typer.Option(min=1, help="Days per run.")] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Optimisation folder (default: optimizations/<base>_<levers file>); rerun resumes."
        ),
    ] = None,
    workers: WorkersOption = None,
    scheduler: SchedulerOption = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No line per generation.")] = False,
) -> None:
    """Search for robust policies: the lever settings that are Pareto-optimal over
    plausible futures (NSGA-II, NSGA-III above three objectives), re-evaluated over fresh
    futures; pareto.csv, policies/, pareto.png and reevaluation.csv."""
    from sim.experiments.folder import SweepError
    from sim.experiments.optimize import OptimizeError
    from sim.experiments.optimize import optimize as run_optimize
    from sim.output.optimize_report import pareto_figure

    if workers is not None and scheduler is not None:
        raise fail("give --workers or --scheduler, not both")
    try:
        spec = load_scenario(base)
        target = out or Path("optimizations") / f"{spec.name}_{levers.stem}"
        result = run_optimize(
            base,
            levers,
            target,
            objectives=objectives,
            futures=futures,
            generations=generations,
            population=population,
            seed=seed,
            steps=steps,
            statistic=statistic,
            reevaluate=reevaluate,
            workers=workers,
            scheduler=scheduler,
            progress=None
            if quiet
            else lambda line: err_console.print(line, highlight=False, markup=False),
        )
        figures = pareto_figure(result)
    except (ScenarioError, SweepError, OptimizeError) as exc:
        raise fail(str(exc)) from None
    except OSError as exc:
        raise fail(f"cannot write the results ({exc.strerror or exc}: {exc.filename})") from None
    pareto, settings = result.pareto, result.settings
    verdict = None
    if result.reevaluation is not None:
        verdict = result.reevaluation.set_index("policy")["non_dominated"]
    view = Table(
        title=f"{spec.name}: Pareto-optimal policies, {settings['statistic']} over "
        f"{settings['futures']} futures ({settings['algorithm']})"
    )
    view.add_column("policy", justify="right")
    for column in result.levers.columns:
        view.add_column(column.replace("_", " "), justify="right")
    for objective in result.objectives:
        view.add_column(outcome_of(objective.outcome).label, justify="right")
    if verdict is not None:
        view.add_column(f"over {settings['reevaluate']} fresh futures")
    shown = 20
    for row in pareto.head(shown).to_dict("records"):
        cells = [str(row["policy"])]
        cells += [_lever_cell(row[c]) for c in result.levers.columns]
        cells += [_fmt(row[o.outcome], outcome_of(o.outcome).unit) for o in result.objectives]
        if verdict is not None:
            cells.append("non-dominated" if verdict.get(row["policy"]) else "dominated")
        view.add_row(*cells)
    out_console.print(view)
    say = out_console.print
    if len(pareto) > shown:
        say(f"... {len(pareto) - shown} more policies in pareto.csv", highlight=False)
    evaluated = len(result.history)
    say(
        f"{len(pareto)} Pareto-optimal policies among {evaluated} candidates evaluated",
        highlight=False,
        soft_wrap=True,
    )
    if verdict is not None:
        say(
            f"{int(verdict.sum())} of {len(pareto)} stay non-dominated over "
            f"{settings['reevaluate']} fresh futures (reevaluation.csv)",
            highlight=False,
            soft_wrap=True,
        )
    say(
        f"pareto.csv, policies/policy_<k>.yaml, {', '.join(f.name for f in figures)} and "
        f"history.csv written to {target}/",
        highlight=False,
        soft_wrap=True,
    )


def _lever_cell(value: object) -> str:
    """A lever value in a table: switches as true/false, numbers to 4 digits."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


@app.command()
def report(
    runs: Annotated[
        list[Path],
        typer.Argument(
            help="Run folders of one scenario (one per seed), or one sweep or attribution folder."
        ),
    ],
    out: Annotated[
        Path | None,
        typer.Option(help="Output folder (default: report/ inside the first folder)."),
    ] = None,
) -> None:
    """Write an HTML report with figures (PNG and SVG) for runs of one scenario or a sweep."""
    from sim.analysis.attribution import AttributionError
    from sim.analysis.robustness import RobustnessError
    from sim.experiments.folder import SweepFolder
    from sim.output.attribution_report import make_attribution_report
    from sim.output.report import ReportError, make_report
    from sim.output.robust_report import make_robust_report
    from sim.output.sweep_report import make_sweep_report

    target = out or runs[0] / "report"
    try:
        if len(runs) == 1 and (runs[0] / "attribution.json").is_file():
            path = make_attribution_report(runs[0], target)
        elif len(runs) == 1 and (runs[0] / "robust.json").is_file():
            path = make_robust_report(runs[0], target)
        elif len(runs) == 1 and SweepFolder(runs[0]).manifest_path.is_file():
            path = make_sweep_report(runs[0], target)
        else:
            path = make_report(runs, target)
    except (ReportError, AttributionError, RobustnessError) as exc:
        raise fail(str(exc)) from None
    out_console.print(f"report written to {path}", highlight=False, soft_wrap=True)


@app.command()
def validate(
    scenarios: Annotated[list[str], typer.Argument(help="Scenario files or preset names.")],
) -> None:
    """Validate scenario files; exit 2 at the first invalid one."""
    for ref in scenarios:
        try:
            spec = load_scenario(ref)
        except ScenarioError as exc:
            raise fail(str(exc)) from None
        out_console.print(
            f"ok: {ref} ({spec.name}, {spec.steps} steps, "
            f"{len(spec.jurisdictions)} jurisdictions, {spec.nodes.count} nodes, "
            f"{spec.requesters.count} requesters)",
            highlight=False,
            soft_wrap=True,
        )


@app.command("list")
def list_() -> None:
    """List the preset scenarios."""
    table = Table(show_header=True)
    table.add_column("preset")
    table.add_column("description")
    for name, description in list_presets().items():
        table.add_row(name, description)
    out_console.print(table)


@app.command()
def schema(
    experiment: Annotated[
        bool, typer.Option("--experiment", help="The schema of experiment files instead.")
    ] = False,
) -> None:
    """Print the JSON schema of scenario files (or of experiment files)."""
    if experiment:
        from sim.experiments.experiment import json_schema as experiment_schema

        sys.stdout.write(json.dumps(experiment_schema(), indent=2) + "\n")
        return
    sys.stdout.write(json.dumps(json_schema(), indent=2) + "\n")


@app.command()
def describe(
    table: Annotated[
        str | None,
        typer.Argument(
            help=f"A run table ({', '.join(TABLES)}) or run.json; a sweep table (runs, "
            "run_metrics, design, summary, sensitivity, discovery) or manifest.json; a table "
            "or JSON file of a compare, attribute, robust or optimize folder (such as "
            "compare_summary, effects, pareto, robust.json); omit to list the tables."
        ),
    ] = None,
) -> None:
    """Describe the output tables and their columns (the data dictionary, docs/DATA.md):
    of a run, a sweep folder and the folders of compare, attribute, robust and optimize."""
    from sim.output.dictionary import UnknownTable
    from sim.output.dictionary import describe as describe_table

    try:
        text = describe_table(table)
    except UnknownTable as exc:
        raise fail(str(exc)) from None
    sys.stdout.write(text)


@app.command()
def sweep(
    experiment: Annotated[
        str | None,
        typer.Argument(help="Experiment file (optional with --resume: the folder's own)."),
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Sweep folder (default: sweeps/<experiment name>).")
    ] = None,
    workers: WorkersOption = None,
    scheduler: SchedulerOption = None,
    resume: Annotated[
        bool, typer.Option(help="Continue the sweep in --out (rerunning into it does too).")
    ] = False,
    retry_failed: Annotated[bool, typer.Option(help="Also rerun runs that failed.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Run an experiment's runs on Dask into a sweep folder, crash-safe and resumable."""
    from sim.experiments.experiment import load_experiment
    from sim.experiments.folder import SweepError, SweepFolder
    from sim.experiments.sweep import sweep as run_sweep

    if experiment is None and not (resume and out is not None):
        raise fail("give an EXPERIMENT file, or --resume --out DIR to continue a sweep")
    try:
        spec = load_experiment(
            experiment if experiment is not None else SweepFolder(out).root / "experiment.yaml"
        )
    except ScenarioError as exc:
        raise fail(str(exc)) from None
    target = out or Path("sweeps") / spec.name
    show_bar = not quiet and err_console.is_terminal
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[failed]} failed"),
        TimeElapsedColumn(),
        console=err_console,
        disable=not show_bar,
    ) as bar:
        task = bar.add_task(spec.name, total=None, failed=0)

        def progress(done: int, failed: int, total: int) -> None:
            bar.update(task, completed=done, total=total, failed=failed)

        try:
            counts = run_sweep(
                spec,
                target,
                workers=workers,
                scheduler=scheduler,
                retry_failed=retry_failed,
                progress=progress,
            )
        except (ScenarioError, SweepError) as exc:
            raise fail(str(exc)) from None
        except OSError as exc:
            raise fail(f"{target}: cannot write the sweep ({exc.strerror or exc})") from None
    say = out_console.print
    say(
        f"{spec.name}: {counts['ok']} runs ok, {counts['failed_total']} failed, "
        f"{counts['missing']} missing of {counts['total']} "
        f"({counts['ran']} run now, {counts['skipped']} already finished) in {target}/",
        highlight=False,
        soft_wrap=True,
    )
    if counts["failed_total"]:
        say(
            f"failed runs keep their error: dirisk query {target} "
            "\"SELECT point, replication, error FROM runs WHERE status = 'failed'\"",
            highlight=False,
            soft_wrap=True,
        )
    if counts["missing"]:
        say("some runs were lost with their workers: rerun the command to finish them")
    say(f"next: dirisk summarize {target}", highlight=False, soft_wrap=True)


@app.command()
def summarize(
    sweep_dir: Annotated[Path, typer.Argument(help="A sweep folder.")],
    rows: Annotated[int, typer.Option(min=1, help="Most design points to print.")] = 20,
) -> None:
    """Mean and 95% CI of each outcome per design point; saves summary.parquet/.csv."""
    from sim.analysis.query import summarize as summarize_sweep
    from sim.experiments.folder import SweepError, SweepFolder

    try:
        table = summarize_sweep(sweep_dir)
        manifest = SweepFolder(sweep_dir).manifest()
    except SweepError as exc:
        raise fail(str(exc)) from None
    shown = table.head(rows)
    view = shown[["point", *manifest["factors"]]].map(_cell)
    for name in manifest["outcomes"]:
        half = (shown[f"{name}_ci_high"] - shown[f"{name}_ci_low"]) / 2
        view[name] = [f"{_cell(m)} ±{_cell(h)}" for m, h in zip(shown[name], half, strict=True)]
    out_console.print(
        f"{manifest['experiment_name']}: {len(table)} design points, mean ±95% CI half-width",
        highlight=False,
    )
    sys.stdout.write(view.to_string(index=False) + "\n")
    if len(table) > rows:
        out_console.print(f"... {len(table) - rows} more design points", highlight=False)
    out_console.print(
        f"summary written to {sweep_dir / 'summary.parquet'} and summary.csv",
        highlight=False,
        soft_wrap=True,
    )


def _cell(value: object) -> str:
    """A table cell: numbers to 4 significant digits."""
    if isinstance(value, float):
        return "n/a" if math.isnan(value) else f"{value:.4g}"
    return str(value)


@app.command()
def query(
    sweep_dir: Annotated[Path, typer.Argument(help="A sweep folder.")],
    sql: Annotated[
        str, typer.Argument(help="SQL over the views runs, metrics, design and summary.")
    ],
    out: Annotated[
        Path | None, typer.Option(help="Write the result here (.csv or .parquet).")
    ] = None,
) -> None:
    """Run DuckDB SQL over a sweep folder's Parquet parts and print (or save) the result."""
    from sim.analysis.query import QueryError
    from sim.analysis.query import query as run_query
    from sim.experiments.folder import SweepError, SweepFolder

    try:
        SweepFolder(sweep_dir).manifest()
        table = run_query(sweep_dir, sql)
    except (SweepError, QueryError) as exc:
        raise fail(str(exc)) from None
    if out is None:
        sys.stdout.write(table.to_string(index=False) + "\n")
        return
    from sim.results.tables import write_table

    if out.suffix not in (".csv", ".parquet"):
        raise fail(f"--out: expected a .csv or .parquet file name, got {out.name!r}")
    write_table(table, out, "parquet" if out.suffix == ".parquet" else "csv")
    out_console.print(f"{len(table)} rows written to {out}", highlight=False, soft_wrap=True)


@app.command()
def sensitivity(
    sweep_dir: Annotated[
        Path, typer.Argument(help="A sweep folder of a saltelli or morris design.")
    ],
    outcome: Annotated[
        list[str] | None,
        typer.Option(help="An outcome column to analyse; repeat for several (default: all)."),
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Folder for the figures (default: SWEEP_DIR/sensitivity).")
    ] = None,
) -> None:
    """Sobol indices (saltelli) or Morris effects of each outcome, with figures."""
    from sim.analysis.sensitivity import SensitivityError, analyze, index_warnings
    from sim.experiments.folder import SweepFolder
    from sim.output.sweep_report import sensitivity_figure

    target = out or sweep_dir / "sensitivity"
    try:
        table = analyze(sweep_dir, outcome)
        manifest = SweepFolder(sweep_dir).manifest()
        files = sensitivity_figure(table, target, manifest["experiment_name"])
    except SensitivityError as exc:
        raise fail(str(exc)) from None
    except OSError as exc:
        raise fail(f"cannot write the results ({exc.strerror or exc}: {exc.filename})") from None
    kind = "Sobol indices (95% CI half-widths: _conf)"
    if manifest["design"] == "morris":
        kind = "Morris elementary effects (outcome units per factor range)"
    out_console.print(f"{manifest['experiment_name']}: {kind}", highlight=False, soft_wrap=True)
    sys.stdout.write(table.to_string(index=False, float_format="{:.4g}".format) + "\n")
    for warning in index_warnings(table):
        out_console.print(f"warning: {warning}", highlight=False, soft_wrap=True, markup=False)
    out_console.print(
        f"table written to {sweep_dir / 'sensitivity.csv'} and sensitivity.parquet; figures "
        f"{', '.join(f.name for f in files)} in {target}/",
        highlight=False,
        soft_wrap=True,
    )


@app.command()
def discover(
    sweep_dir: Annotated[Path, typer.Argument(help="A sweep folder.")],
    outcome: Annotated[str, typer.Option(help="The outcome column to threshold.")],
    above: Annotated[
        float | None, typer.Option(help="Cases of interest: runs with the outcome above this.")
    ] = None,
    below: Annotated[
        float | None, typer.Option(help="Cases of interest: runs with the outcome below this.")
    ] = None,
    method: Annotated[str, typer.Option(help="tree or prim (needs dirisk\\[ema]).")] = "tree",
    max_depth: Annotated[int, typer.Option(min=1, help="Depth of the tree (tree).")] = 3,
    min_share: Annotated[
        float, typer.Option(min=0.0, max=0.5, help="Smallest box, as a share of the runs.")
    ] = 0.05,
) -> None:
    """Scenario discovery: the factor ranges (boxes) where an outcome crosses a threshold."""
    from sim.analysis.discovery import DiscoveryError
    from sim.analysis.discovery import discover as find_boxes

    try:
        table = find_boxes(
            sweep_dir,
            outcome,
            above=above,
            below=below,
            method=method,
            max_depth=max_depth,
            min_share=min_share,
        )
    except DiscoveryError as exc:
        raise fail(str(exc)) from None
    except OSError as exc:
        raise fail(f"cannot write the results ({exc.strerror or exc}: {exc.filename})") from None
    info = table.attrs
    say = out_console.print
    say(
        f"{info['cases']} of {info['runs']} runs have {info['condition']} (cases of interest); "
        f"method {method}",
        highlight=False,
        soft_wrap=True,
    )
    if table.empty:
        say("no box: no region of the factors where cases of interest are the majority")
    for row in table.itertuples(index=False):
        say(
            f"box {row.box}: {row.rule}\n    coverage {row.coverage:.0%} of the cases of "
            f"interest, density {row.density:.0%} of its {row.runs} runs",
            highlight=False,
            soft_wrap=True,
            markup=False,
        )
    say(f"boxes written to {sweep_dir / 'discovery.csv'}", highlight=False, soft_wrap=True)


def main(argv: list[str] | None = None) -> None:
    """Entry point: usage errors are one line on stderr and exit 2; unexpected errors
    exit 1 with their traceback."""
    try:
        code = app(args=argv, prog_name="dirisk", standalone_mode=False)
    except typer.Abort:
        err_console.print("aborted", highlight=False)
        raise SystemExit(130) from None
    except typer.TyperException as exc:  # usage errors (exit 2) and other click errors
        code = int(getattr(exc, "exit_code", 1))
        context = getattr(exc, "ctx", None)
        hint = f" (see {context.command_path} --help)" if code == 2 and context else ""
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        fail(message + hint, code)
        raise SystemExit(code) from None
    except SystemExit:
        raise
    except Exception as exc:  # an internal error: report it, exit 1
        err_console.print_exception()
        err_console.print(f"internal error: {exc}", markup=False)
        raise SystemExit(1) from None
    raise SystemExit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
