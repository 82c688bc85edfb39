"""Pure array kernels: routing, serving, enforcement, adaptation, reach, validator
consensus and run sums. Arrays in, arrays or frozen dataclasses out; kernels never see
an agent, a model or a scenario.

May import: numpy, networkx and :mod:`sim.common`.
"""

__all__: list[str] = []
