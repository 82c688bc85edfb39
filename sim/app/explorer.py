"""The packaged explorer: ``dirisk app`` runs this script with Streamlit."""

from pathlib import Path

from sim.app.navigation import run_explorer

__all__: list[str] = []

run_explorer(Path("pages"))
