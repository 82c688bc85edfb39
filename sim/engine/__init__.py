"""The model and its agents: the Mesa model, requesters, nodes, jurisdictions, the node
network, market protocols, validators, events, policy and node dynamics, and recording.

May import: :mod:`sim.engine.kernels`, :mod:`sim.scenario` and :mod:`sim.common`.
"""

__all__: list[str] = []
