"""Experiments over many runs: experiment files, designs, the sweep-folder format, the
sweep runner on Dask and the policy-cost frontier.

May import: :mod:`sim.results` and everything beneath it.
"""

__all__: list[str] = []
