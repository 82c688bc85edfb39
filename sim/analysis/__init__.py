"""Analysis of sweep folders: DuckDB queries and per-point summaries, global
sensitivity (SALib) and scenario discovery (PRIM, CART).

May import: :mod:`sim.experiments` and everything beneath it.
"""

__all__: list[str] = []
