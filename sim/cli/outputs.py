"""Commands that show what runs and experiments write: app (the explorer in the
browser), report (HTML with figures) and describe (the data dictionary)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from sim.cli.base import app, fail, out_console, say
from sim.results.tables import TABLES

__all__ = ["app_command", "describe", "report"]


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
def report(
    runs: Annotated[
        list[Path],
        typer.Argument(
            help="Run folders of one scenario (one per seed), or one folder of dirisk sweep, "
            "attribute, robust or optimize."
        ),
    ],
    out: Annotated[
        Path | None,
        typer.Option(help="Output folder (default: report/ inside the first folder)."),
    ] = None,
) -> None:
    """Write an HTML report with figures (PNG and SVG) for runs of one scenario, or for a
    sweep, attribution, robustness or optimisation folder."""
    from sim.analysis.attribution import AttributionError
    from sim.analysis.robustness import RobustnessError
    from sim.experiments.folder import SweepFolder
    from sim.experiments.optimize import OptimizeError
    from sim.output.attribution_report import make_attribution_report
    from sim.output.optimize_report import make_optimize_report
    from sim.output.report import ReportError, make_report
    from sim.output.robust_report import make_robust_report
    from sim.output.sweep_report import make_sweep_report

    target = out or runs[0] / "report"
    try:
        if len(runs) == 1 and (runs[0] / "attribution.json").is_file():
            path = make_attribution_report(runs[0], target)
        elif len(runs) == 1 and (runs[0] / "robust.json").is_file():
            path = make_robust_report(runs[0], target)
        elif len(runs) == 1 and (runs[0] / "optimization.json").is_file():
            path = make_optimize_report(runs[0], target)
        elif len(runs) == 1 and SweepFolder(runs[0]).manifest_path.is_file():
            path = make_sweep_report(runs[0], target)
        else:
            path = make_report(runs, target)
    except (ReportError, AttributionError, RobustnessError, OptimizeError) as exc:
        raise fail(str(exc)) from None
    say(f"report written to {path}")


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
