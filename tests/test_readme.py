"""Every example in the README is what the code prints now.

Console blocks (a ``$ dirisk ...`` line, then its output) and the Python session
(``pycon``) are run in a fresh folder, with the files the README defines in YAML blocks
whose first line names them (``# strict_eu.yaml``), and compared with the README; only
timings may differ. After a deliberate change, regenerate the README's examples with
``python tests/test_readme.py``.
"""

from __future__ import annotations

import code
import contextlib
import io
import os
import re
import shlex
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from sim.cli import main

README = Path(__file__).resolve().parents[1] / "README.md"
#: Terminal width the examples are printed at.
COLUMNS = "140"
CONSOLE = re.compile(r"```console\n\$ (dirisk [^\n]*)\n(.*?)```", re.S)
PYCON = re.compile(r"```pycon\n(.*?)```", re.S)
NAMED_YAML = re.compile(r"```yaml\n# (\S+\.yaml)\n(.*?)```", re.S)
TIMING = re.compile(r"\d+\.\d+ s\b")


@contextlib.contextmanager
def sandbox(folder: Path) -> Iterator[io.StringIO]:
    """Run in ``folder`` with the README's files, at :data:`COLUMNS`, capturing stdout and
    stderr together."""
    for name, body in NAMED_YAML.findall(README.read_text(encoding="utf-8")):
        (folder / name).write_text(body, encoding="utf-8")
    buffer = io.StringIO()
    before = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = COLUMNS
    try:
        with (
            contextlib.chdir(folder),
            contextlib.redirect_stdout(buffer),
            contextlib.redirect_stderr(buffer),
            pd.option_context("display.width", int(COLUMNS)),
        ):
            yield buffer
    finally:
        if before is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = before


def console_output(command: str, folder: Path) -> str:
    """What ``command`` prints (stdout, then stderr as the terminal shows them)."""
    with sandbox(folder) as buffer:
        try:
            main(shlex.split(command)[1:])
        except SystemExit:
            pass
    return buffer.getvalue().replace(f"{folder.resolve()}/", "")


def pycon_session(block: str, folder: Path) -> str:
    """The interactive session ``block`` (its ``>>>`` and ``...`` lines) run anew: each
    statement followed by what the interpreter prints."""
    statements: list[list[str]] = []
    for line in block.splitlines():
        if line.startswith(">>> "):
            statements.append([line])
        elif line.startswith("... ") and statements:
            statements[-1].append(line)
    console = code.InteractiveInterpreter(locals={})
    out = []
    with sandbox(folder) as buffer:
        for lines in statements:
            source = "\n".join(line[4:] for line in lines)
            start = buffer.tell()
            console.runsource(source, symbol="single")
            printed = buffer.getvalue()[start:]
            out += [*lines, *printed.rstrip("\n").splitlines()]
    return "\n".join(out) + "\n"


def normal(text: str) -> str:
    """Output with timings masked and trailing spaces dropped."""
    return "\n".join(TIMING.sub("<t> s", line).rstrip() for line in text.splitlines())


def examples() -> list[str]:
    return [command for command, _ in CONSOLE.findall(README.read_text(encoding="utf-8"))]


@pytest.mark.parametrize("command", examples())
def test_readme_console_example_is_what_the_command_prints(command, tmp_path):
    shown = dict(CONSOLE.findall(README.read_text(encoding="utf-8")))[command]
    assert normal(console_output(command, tmp_path)) == normal(shown), (
        f"README example `{command}` is out of date: run `python tests/test_readme.py`"
    )


def test_readme_python_session_is_what_python_prints(tmp_path):
    (block,) = PYCON.findall(README.read_text(encoding="utf-8"))
    assert "Traceback" not in block
    assert normal(pycon_session(block, tmp_path)) == normal(block), (
        "README's Python session is out of date: run `python tests/test_readme.py`"
    )


def regenerate(folder: Path) -> str:
    """The README with every example's output printed anew."""
    text = README.read_text(encoding="utf-8")

    def console(match: re.Match[str]) -> str:
        work = folder / f"console{match.start()}"
        work.mkdir()
        printed = "".join(
            f"{line.rstrip()}\n" for line in console_output(match[1], work).splitlines()
        )
        return f"```console\n$ {match[1]}\n{printed}```"

    def pycon(match: re.Match[str]) -> str:
        work = folder / f"pycon{match.start()}"
        work.mkdir()
        return f"```pycon\n{pycon_session(match[1], work)}```"

    return PYCON.sub(pycon, CONSOLE.sub(console, text))


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        README.write_text(regenerate(Path(tmp)), encoding="utf-8")
    sys.stdout.write(f"regenerated the examples in {README}\n")
