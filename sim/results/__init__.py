"""A run and what it produces: ``run(scenario, seed) -> Results``, the tables and their
files, provenance, and the registry of run-level outcomes.

May import: :mod:`sim.engine`, :mod:`sim.scenario` and :mod:`sim.common`.
"""

__all__: list[str] = []
