"""Commands on one scenario: run it, validate scenario files, list the presets and
print the schema of scenario files."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from sim.cli.base import OutputFormat, app, fail, fmt, out_console, progress_bar, say
from sim.results.runner import run as run_scenario
from sim.results.tables import Results
from sim.scenario import ScenarioError, json_schema, list_presets, load_scenario

__all__ = ["list_", "print_summary", "run", "schema", "validate"]


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
    with progress_bar(spec.name, steps or spec.steps, quiet=quiet) as update:
        results = run_scenario(
            spec, seed=seed, steps=steps, progress=lambda done, _: update(completed=done)
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
        table.add_row(row.metric, fmt(row.value, row.unit), row.basis)
    out_console.print(table)
    nodes = results.nodes_by_jurisdiction()
    say(
        "active nodes by jurisdiction: "
        + ", ".join(f"{name} {count}" for name, count in nodes.items())
    )
    say(
        f"tables and run.json written to {target}/ "
        f"({meta['run_seconds']:.2f} s simulated, {meta['build_seconds']:.2f} s set-up)"
    )


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
        say(
            f"ok: {ref} ({spec.name}, {spec.steps} steps, "
            f"{len(spec.jurisdictions)} jurisdictions, {spec.nodes.count} nodes, "
            f"{spec.requesters.count} requesters)"
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
