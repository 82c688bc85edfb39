"""Reading a sweep folder: DuckDB over its Parquet parts, and per-point summaries.

``dirisk query DIR "SQL"`` sees these views:

- ``runs``: one row per finished run (the outcomes parts; ``point`` from the folder name);
- ``metrics``: per-step metrics of every run (when the experiment saved them);
- ``design``: the design points;
- ``summary``: per design point, mean and 95% CI of each outcome (after ``summarize``).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd

from sim.frontier import mean_ci
from sim.results import atomic_write, atomic_write_text

#: Columns of every outcomes part besides the factors and outcomes.
RUN_COLUMNS = ("point", "replication", "seed", "status", "error", "seconds")


class QueryError(ValueError):
    """A query could not run (bad SQL, or a view the sweep does not have)."""


def _parts_glob(root: Path, kind: str) -> str:
    return str(root / kind / "point=*" / "*.parquet")


def _has_parts(root: Path, kind: str) -> bool:
    return any((root / kind).glob("point=*/*.parquet"))


def connect(root: str | Path) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with the sweep's views (see module docs)."""
    root = Path(root)
    con = duckdb.connect()
    for kind, view in (("outcomes", "runs"), ("metrics", "metrics")):
        if _has_parts(root, kind):
            pattern = _parts_glob(root, kind).replace("'", "''")
            con.execute(
                f"CREATE VIEW {view} AS SELECT * FROM read_parquet('{pattern}', "
                "hive_partitioning = true, hive_types = {'point': BIGINT}, "
                "union_by_name = true)"
            )
    for name in ("design", "summary"):
        path = root / f"{name}.parquet"
        if path.is_file():
            quoted = str(path).replace("'", "''")
            con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{quoted}')")
    return con


def query(root: str | Path, sql: str) -> pd.DataFrame:
    """Run one SQL statement over a sweep folder's views and return the result."""
    con = connect(root)
    try:
        return con.execute(sql).df()
    except duckdb.Error as exc:
        first = str(exc).strip().splitlines()[0]
        raise QueryError(first) from None
    finally:
        con.close()


def read_parts(
    root: str | Path, kind: str = "outcomes", columns: list[str] | None = None
) -> pd.DataFrame:
    """Every part of one kind (``outcomes`` or ``metrics``) as one table, sorted by
    point and replication (and step); empty when there are none."""
    root = Path(root)
    if not _has_parts(root, kind):
        return pd.DataFrame(columns=columns or list(RUN_COLUMNS))
    view = "runs" if kind == "outcomes" else "metrics"
    select = ", ".join(f'"{c}"' for c in columns) if columns else "*"
    order = "point, replication" + (", step" if kind == "metrics" else "")
    if columns and kind == "outcomes":
        order = ", ".join(c for c in ("point", "replication") if c in columns) or "1"
    return query(root, f"SELECT {select} FROM {view} ORDER BY {order}")


def summarize(root: str | Path, *, write: bool = True) -> pd.DataFrame:
    """Per design point: the factor values, runs ok and failed, and for each outcome its
    mean over the successful replications with a 95% confidence interval
    (``_ci_low``/``_ci_high``; normal approximation).

    Args:
        root: The sweep folder.
        write: Also save ``summary.parquet`` and ``summary.csv`` in it (atomically).
    """
    from sim.sweep import SweepFolder

    folder = SweepFolder(root)
    manifest = folder.manifest()
    factors, outcomes = list(manifest["factors"]), list(manifest["outcomes"])
    design = folder.design()
    runs = read_parts(root)
    rows = []
    for point, group in runs.groupby("point", sort=True):
        ok = group[group["status"] == "ok"]
        row = {"point": int(point), "runs_ok": len(ok), "runs_failed": len(group) - len(ok)}
        for name in outcomes:
            mean, half = mean_ci(ok[name])
            row[name], row[f"{name}_ci_low"], row[f"{name}_ci_high"] = (
                mean,
                mean - half,
                mean + half,
            )
        rows.append(row)
    columns = ["point", "runs_ok", "runs_failed"] + [
        f"{name}{suffix}" for name in outcomes for suffix in ("", "_ci_low", "_ci_high")
    ]
    stats = pd.DataFrame(rows, columns=columns)
    table = design[["point", *factors]].merge(stats, on="point", how="inner")
    if write:
        atomic_write(Path(root) / "summary.parquet", lambda p: table.to_parquet(p, index=False))
        atomic_write_text(Path(root) / "summary.csv", table.to_csv(index=False))
    return table
