"""Commands that set policies side by side over common seeds: frontier (a policy lever
turned step by step), compare (scenario B against A) and attribute (the channels harm
leaks through)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from sim.cli.base import (
    SchedulerOption,
    WorkersOption,
    app,
    fail,
    fmt,
    fmt_diff,
    message_of,
    out_console,
    say,
)
from sim.common.stats import INTERVAL_METHOD
from sim.results.outcomes import outcome as outcome_of
from sim.scenario import ScenarioError, load_scenario

__all__ = ["attribute", "compare", "frontier"]


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
            fmt(row.harm_prevented, "count"),
            fmt(row.spend_per_harm_prevented_usd, "USD"),
        )
    out_console.print(view)
    if out is not None:
        from sim.common.files import atomic_write_text

        atomic_write_text(out, table.to_csv(index=False))
        say(f"frontier written to {out}")


def _ci(row: object, name: str) -> str:
    """A share with its 95% confidence interval."""
    mean, low, high = (
        getattr(row, name),
        getattr(row, f"{name}_ci_low"),
        getattr(row, f"{name}_ci_high"),
    )
    return f"{fmt(mean, 'share')} [{fmt(low, 'share')}, {fmt(high, 'share')}]"


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
    except (ScenarioError, KeyError, ValueError) as exc:
        raise fail(message_of(exc)) from None
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
            fmt(row.mean_a, unit),
            fmt(row.mean_b, unit),
            f"{fmt_diff(row.diff, unit)} [{fmt_diff(row.diff_low, unit)}, "
            f"{fmt_diff(row.diff_high, unit)}]",
            row.verdict,
        )
    out_console.print(view)
    say(
        f"paired over common random numbers; intervals: {INTERVAL_METHOD} at n = {n}; "
        "differences of shares in percentage points"
    )
    if result.precision is not None:
        say(result.precision.describe())
    if out is not None:
        result.save(out)
        say(f"summary.csv, paired.csv, compare.json, a.yaml and b.yaml written to {out}/")


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
    except (ScenarioError, SweepError, AttributionError, KeyError, ValueError) as exc:
        raise fail(message_of(exc)) from None
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
    say(describe_attribution(result))
    if result.precision is not None:
        say(result.precision.describe())
    say(
        f"{plan.get('runs', '?')} runs ({plan.get('channels', '?')} channels x "
        f"{len(result.totals)} seeds); "
        f"tables written to {target}/ (dirisk report {target} draws the waterfall)"
    )
