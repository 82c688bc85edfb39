"""The ``dirisk`` command line.

Exit codes: 0 success; 2 bad input (one line on stderr, no traceback); 1 internal error.

One typer app (:mod:`sim.cli.base`, with what the commands share) whose commands live
in modules by kind: :mod:`~sim.cli.scenarios` (run, validate, list, schema),
:mod:`~sim.cli.comparisons` (frontier, compare, attribute), :mod:`~sim.cli.futures`
(robust, optimize), :mod:`~sim.cli.outputs` (app, report, describe) and
:mod:`~sim.cli.sweeps` (sweep, summarize, query, sensitivity, discover). Importing them
here registers their commands.
"""

from __future__ import annotations

import typer

from sim.cli import comparisons, futures, outputs, scenarios, sweeps  # noqa: F401 (registers)
from sim.cli.base import OutputFormat, app, err_console, fail, out_console
from sim.cli.comparisons import frontier
from sim.cli.outputs import describe, report
from sim.cli.scenarios import list_, print_summary, run, schema, validate
from sim.cli.sweeps import discover, query, sensitivity, summarize, sweep
from sim.engine.kernels.backend import KernelChoiceError

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
    except KernelChoiceError as exc:  # the environment asks for kernels it cannot have
        fail(str(exc), 2)
        raise SystemExit(2) from None
    except Exception as exc:  # an internal error: report it, exit 1
        err_console.print_exception()
        err_console.print(f"internal error: {exc}", markup=False)
        raise SystemExit(1) from None
    raise SystemExit(code if isinstance(code, int) else 0)
