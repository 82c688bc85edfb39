"""Commands over plausible futures: robust (policies tested across futures drawn from
the uncertainty catalogue) and optimize (the search for the policies that do best in
them)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from sim.cli.base import (
    SchedulerOption,
    WorkersOption,
    app,
    err_console,
    fail,
    fmt,
    fmt_diff,
    message_of,
    out_console,
    say,
)
from sim.results.outcomes import outcome as outcome_of
from sim.scenario import ScenarioError, load_scenario

__all__ = ["optimize", "robust"]


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
    except (ScenarioError, SweepError, RobustnessError, KeyError, ValueError) as exc:
        raise fail(message_of(exc)) from None
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
    say(
        f"effects: mean over futures [5%, 95% of futures]; holds: harm falls by at least "
        f"{harm_threshold:.0%}; costly: over-refusal rises by more than "
        f"{100 * cost_threshold:g} points"
    )
    for row in result.regret.itertuples(index=False):
        say(
            f"regret of {row.policy}: mean {row.mean_regret:,.1f}, worst {row.worst_regret:,.0f} "
            f"harmful requests; best in {row.best_in_share:.0%} of futures"
        )
    for row in result.boxes[result.boxes["box"] == 1].itertuples(index=False):
        out_console.print(
            f"{row.policy} fails ({row.method}): {row.rule} (coverage {row.coverage:.0%}, "
            f"density {row.density:.0%})",
            highlight=False,
            soft_wrap=True,
            markup=False,
        )


def _spread(row: object, unit: str) -> str:
    """A mean effect over futures and the 5% and 95% quantiles of its futures."""
    mean, low, high = (fmt_diff(row[k], unit) for k in ("mean_effect", "q05", "q95"))  # type: ignore[index]
    return f"{mean} [{low}, {high}]"


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
        cells += [fmt(row[o.outcome], outcome_of(o.outcome).unit) for o in result.objectives]
        if verdict is not None:
            cells.append("non-dominated" if verdict.get(row["policy"]) else "dominated")
        view.add_row(*cells)
    out_console.print(view)
    if len(pareto) > shown:
        out_console.print(f"... {len(pareto) - shown} more policies in pareto.csv", highlight=False)
    evaluated = len(result.history)
    say(f"{len(pareto)} Pareto-optimal policies among {evaluated} candidates evaluated")
    if verdict is not None:
        say(
            f"{int(verdict.sum())} of {len(pareto)} stay non-dominated over "
            f"{settings['reevaluate']} fresh futures (reevaluation.csv)"
        )
    say(
        f"pareto.csv, policies/policy_<k>.yaml, {', '.join(f.name for f in figures)} and "
        f"history.csv written to {target}/"
    )


def _lever_cell(value: object) -> str:
    """A lever value in a table: switches as true/false, numbers to 4 digits."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
