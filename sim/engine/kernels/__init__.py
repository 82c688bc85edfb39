"""Pure array kernels: routing, serving, enforcement, adaptation, reach, the validators'
observations and consensus, and run sums. Arrays in, arrays or frozen dataclasses out;
kernels never see an agent, a model or a scenario.

May import: numpy, networkx, numba (:mod:`~sim.engine.kernels.compiled` only, chosen by
:mod:`~sim.engine.kernels.backend`) and :mod:`sim.common`.
"""

__all__: list[str] = []
