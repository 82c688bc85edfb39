"""Commands on sweeps: sweep (an experiment's runs on Dask into a sweep folder) and
the analyses of a sweep folder: summarize, query, sensitivity and discover."""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Annotated

import typer

from sim.cli.base import (
    SchedulerOption,
    WorkersOption,
    app,
    fail,
    out_console,
    progress_bar,
    say,
)
from sim.scenario import ScenarioError

__all__ = ["discover", "query", "sensitivity", "summarize", "sweep"]


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
    with progress_bar(spec.name, None, quiet=quiet, failed=True) as update:

        def progress(done: int, failed: int, total: int) -> None:
            update(completed=done, total=total, failed=failed)

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
    say(
        f"{spec.name}: {counts['ok']} runs ok, {counts['failed_total']} failed, "
        f"{counts['missing']} missing of {counts['total']} "
        f"({counts['ran']} run now, {counts['skipped']} already finished) in {target}/"
    )
    if counts["failed_total"]:
        say(
            f"failed runs keep their error: dirisk query {target} "
            "\"SELECT point, replication, error FROM runs WHERE status = 'failed'\""
        )
    if counts["missing"]:
        out_console.print(
            "some runs were lost with their workers: rerun the command to finish them"
        )
    say(f"next: dirisk summarize {target}")


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
    say(f"summary written to {sweep_dir / 'summary.parquet'} and summary.csv")


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
    say(f"{len(table)} rows written to {out}")


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
    say(f"{manifest['experiment_name']}: {kind}")
    sys.stdout.write(table.to_string(index=False, float_format="{:.4g}".format) + "\n")
    for warning in index_warnings(table):
        out_console.print(f"warning: {warning}", highlight=False, soft_wrap=True, markup=False)
    say(
        f"table written to {sweep_dir / 'sensitivity.csv'} and sensitivity.parquet; figures "
        f"{', '.join(f.name for f in files)} in {target}/"
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
    say(
        f"{info['cases']} of {info['runs']} runs have {info['condition']} (cases of interest); "
        f"method {method}"
    )
    if table.empty:
        out_console.print(
            "no box: no region of the factors where cases of interest are the majority"
        )
    for row in table.itertuples(index=False):
        out_console.print(
            f"box {row.box}: {row.rule}\n    coverage {row.coverage:.0%} of the cases of "
            f"interest, density {row.density:.0%} of its {row.runs} runs",
            highlight=False,
            soft_wrap=True,
            markup=False,
        )
    say(f"boxes written to {sweep_dir / 'discovery.csv'}")
