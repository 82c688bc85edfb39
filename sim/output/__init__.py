"""What dirisk writes for people: reports of runs and sweeps, the preset catalogue and
the data dictionary.

May import: :mod:`sim.analysis` and everything beneath it.
"""

__all__: list[str] = []
