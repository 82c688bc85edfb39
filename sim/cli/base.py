"""What every command shares: the one typer app, whose help lists the commands in the
order of :data:`COMMANDS`, the two consoles and the printing of a line of text, the
progress bar, the options of the commands that run on Dask, the one-line error exit and
the formatting of numbers for people."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from functools import partial
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from typer.core import TyperGroup

from sim.results.runner import build_info

__all__ = [
    "COMMANDS",
    "OrderedCommands",
    "OutputFormat",
    "SchedulerOption",
    "WorkersOption",
    "app",
    "err_console",
    "fail",
    "fmt",
    "fmt_diff",
    "message_of",
    "out_console",
    "progress_bar",
    "say",
]

#: The commands in the order ``dirisk --help`` lists them, whichever module registers them.
COMMANDS: tuple[str, ...] = (
    "run",
    "frontier",
    "compare",
    "attribute",
    "robust",
    "app",
    "optimize",
    "report",
    "validate",
    "list",
    "schema",
    "describe",
    "sweep",
    "summarize",
    "query",
    "sensitivity",
    "discover",
)


class OrderedCommands(TyperGroup):
    """A typer group that lists its commands in the order of :data:`COMMANDS` (one it
    does not name comes last, in the order it was registered)."""

    def list_commands(self, ctx: typer.Context) -> list[str]:
        """The names of the commands, in the order of the help."""
        names = super().list_commands(ctx)
        return sorted(names, key=lambda n: COMMANDS.index(n) if n in COMMANDS else len(COMMANDS))


app = typer.Typer(
    cls=OrderedCommands,
    help="dirisk: simulate decentralised AI inference and the content policies that govern it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out_console = Console()
err_console = Console(stderr=True)


def say(text: str) -> None:
    """Print one line of text to stdout: no highlighting of numbers or paths and no
    wrapping at the terminal's width (rich markup in ``text`` still applies)."""
    out_console.print(text, highlight=False, soft_wrap=True)


@contextmanager
def progress_bar(
    description: str, total: int | None, *, quiet: bool, failed: bool = False
) -> Iterator[Callable[..., None]]:
    """A progress bar on stderr: description, bar, done/total and elapsed time (with
    ``failed``, how many failed as well); shown on a terminal only and never with
    ``quiet``. Yields the update of its one task (``completed=``, ``total=``, ``failed=``)."""
    show = not quiet and err_console.is_terminal
    columns = [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn()]
    if failed:
        columns.append(TextColumn("{task.fields[failed]} failed"))
    fields = {"failed": 0} if failed else {}
    with Progress(*columns, TimeElapsedColumn(), console=err_console, disable=not show) as bar:
        yield partial(bar.update, bar.add_task(description, total=total, **fields))


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


def message_of(exc: BaseException) -> str:
    """An exception's message for one line: a KeyError's without the quotes ``str`` adds."""
    if isinstance(exc, KeyError) and len(exc.args) == 1:
        return str(exc.args[0])
    return str(exc)


def fmt(value: float, unit: str) -> str:
    """A summary value for people: shares as percentages, counts and money with commas."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if unit == "share":
        return f"{value:.1%}"
    if unit == "USD":
        return f"${value:,.0f}"
    return f"{value:,.0f}"


def fmt_diff(value: float, unit: str) -> str:
    """A difference for people: shares in signed percentage points."""
    if value is None or math.isnan(value):
        return "n/a"
    if unit == "share":
        return f"{100 * value:+.1f} pp"
    if unit == "USD":
        return f"{'-' if value < 0 else '+'}${abs(value):,.0f}"
    return f"{value:+,.0f}"
