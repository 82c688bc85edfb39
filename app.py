"""dirisk explorer: `streamlit run app.py` (from a checkout; installed: `dirisk app`)."""

from pathlib import Path

from sim.app.navigation import run_explorer

run_explorer(Path("sim/app/pages"))
