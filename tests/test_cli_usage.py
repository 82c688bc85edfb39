"""The dirisk command as installed: usage errors are one line on stderr with exit code 2,
``--version`` says which build this is, and a mistyped preset gets a suggestion."""

from __future__ import annotations

import pytest

import sim
from sim.cli import main
from sim.results.runner import build_info


def run_main(capsys, *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_:
        main(list(argv))
    out = capsys.readouterr()
    return int(exit_.value.code or 0), out.out, out.err


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["run", "classroom_demo", "--sed", "1"], "No such option: --sed"),
        (["frobnicate"], "No such command 'frobnicate'"),
        (["run"], "Missing argument 'scenario'"),
        (["run", "classroom_demo", "--steps", "zero"], "Invalid value for '--steps'"),
        (["compare", "classroom_demo", "--seeds", "1"], "Invalid value for '--seeds'"),
    ],
    ids=["unknown-option", "unknown-command", "missing-argument", "bad-type", "bad-range"],
)
def test_usage_errors_are_one_line_on_stderr_with_exit_2(capsys, argv, expected):
    code, out, err = run_main(capsys, *argv)
    assert code == 2 and out == ""
    assert err.startswith("error: ") and expected in err
    assert len(err.strip().splitlines()) == 1, err


def test_version_names_the_build_with_its_commit(capsys):
    code, out, _ = run_main(capsys, "--version")
    assert code == 0 and out.strip() == f"dirisk {build_info()['dirisk_build']}"
    assert out.strip().startswith(f"dirisk {sim.__version__}")


def test_a_mistyped_preset_gets_the_nearest_name(capsys):
    code, _, err = run_main(capsys, "run", "clasroom_demo")
    assert code == 2 and "did you mean 'classroom_demo'?" in err


def test_help_shows_extras_in_brackets(capsys):
    code, out, _ = run_main(capsys, "discover", "--help")
    assert code == 0 and "dirisk[ema]" in out
