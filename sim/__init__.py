"""dirisk: an agent-based simulator of decentralised AI inference and content policy.

Quick start::

    import sim
    results = sim.run("baseline", seed=1)
    results.metrics.head()
"""

from sim.engine.model import DiriskModel
from sim.results.runner import build_model, run
from sim.results.tables import Results
from sim.scenario import Scenario, ScenarioError, list_presets, load_scenario

__all__ = [
    "DiriskModel",
    "Results",
    "Scenario",
    "ScenarioError",
    "build_model",
    "list_presets",
    "load_scenario",
    "run",
]
__version__ = "0.1.0"
