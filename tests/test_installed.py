"""dirisk installed from its wheel (not a checkout): the presets, the documents the
explorer's Learn page renders, and the explorer itself started from the package."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The wheel built from this checkout, unpacked as site-packages would hold it."""
    folder = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q", "-w", str(folder)],
        check=True,
    )
    (wheel,) = folder.glob("dirisk-*.whl")
    site = folder / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
    return site


def run_installed(site: Path, code: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run ``code`` with the unpacked wheel first on the path, outside the checkout."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=cwd,
        env={"PYTHONPATH": str(site), "SITE": str(site), "PATH": "/usr/bin:/bin", "HOME": str(cwd)},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_wheel_holds_the_explorer_its_documents_and_the_presets(installed):
    sim = installed / "sim"
    assert (sim / "app" / "explorer.py").is_file()
    assert (sim / "docs" / "ODD.md").is_file() and (sim / "docs" / "CALIBRATION.md").is_file()
    assert (sim / "scenarios" / "baseline.yaml").is_file()
    assert (sim / "data" / "uncertainty.yaml").is_file()


def test_the_installed_explorer_runs_and_its_learn_page_renders_the_docs(installed, tmp_path):
    result = run_installed(
        installed,
        """
        import os
        import sim
        from sim.app import explorer_path
        from streamlit.testing.v1 import AppTest

        assert sim.__file__.startswith(os.environ["SITE"]), sim.__file__
        path = explorer_path()
        at = AppTest.from_file(str(path), default_timeout=120).run()
        assert not at.exception, at.exception
        at.switch_page(str(path.parent / "pages" / "learn.py")).run()
        assert not at.exception and not at.warning, (at.exception, at.warning)
        text = " ".join(m.value for m in at.markdown)
        assert "Overview" in text and "Calibration of the baseline scenario" in text
        print("ok")
        """,
        tmp_path,
    )
    assert result.returncode == 0 and result.stdout.strip().endswith("ok"), result.stderr


def test_dirisk_app_is_a_command(installed, tmp_path):
    result = run_installed(
        installed,
        """
        from typer.testing import CliRunner
        from sim.cli import app
        out = CliRunner().invoke(app, ["app", "--help"])
        assert out.exit_code == 0 and "--port" in out.output, out.output
        print("ok")
        """,
        tmp_path,
    )
    assert result.returncode == 0 and result.stdout.strip().endswith("ok"), result.stderr
