"""Reading a sweep folder: DuckDB over its Parquet parts, and per-point summaries.

``dirisk query DIR "SQL"`` sees these views:

- ``runs``: one row per finished run (the outcomes parts; ``point`` from the folder name);
- ``metrics``: per-step metrics of every run (when the experiment saved them);
- ``design``: the design points;
- ``summary``: per design point, mean and 95% CI of each outcome (after ``summarize``).
"""

from __future__ import annotations

import threading
from pathlib import Path

import duckdb
import pandas as pd
from pandas.api.types import is_bool_dtype, is_numeric_dtype

from sim.common.files import atomic_write, atomic_write_text
from sim.common.stats import ci_columns
from sim.experiments.folder import PART_KINDS, SweepFolder, has_parts, parts_source, read_parts

__all__ = [
    "HEATMAP_BINS",
    "QUERY_SECONDS",
    "QueryError",
    "connect",
    "first_match",
    "heatmap",
    "heatmap_sql",
    "is_binned",
    "is_number",
    "query",
    "read_only",
    "summarize",
]

#: A numeric factor with more settings than this is cut into this many quantile bins on
#: a sweep heatmap.
HEATMAP_BINS = 8


#: Seconds a query may run before it is stopped.
QUERY_SECONDS = 30.0


class QueryError(ValueError):
    """A query could not run (bad SQL, or a view the sweep does not have)."""


def connect(root: str | Path) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with the sweep's views (see module docs).

    The connection reads only inside the sweep folder: other files cannot be read or
    written through SQL, and the restriction cannot be lifted from SQL (the explorer
    passes users' SQL here).
    """
    root = Path(root).resolve()
    con = duckdb.connect()
    allowed = str(root).replace("'", "''")
    con.execute(f"SET allowed_directories = ['{allowed}/']")
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
    for kind, view in PART_KINDS.items():
        if has_parts(root, kind):
            con.execute(f"CREATE VIEW {view} AS SELECT * FROM {parts_source(root, kind)}")
    for name in ("design", "summary"):
        path = root / f"{name}.parquet"
        if path.is_file():
            quoted = str(path).replace("'", "''")
            con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{quoted}')")
    return con


def read_only(sql: str) -> None:
    """Accept one SELECT statement (``WITH … SELECT`` included), nothing else: queries
    read a sweep folder and never write it.

    Raises:
        QueryError: not SQL, several statements, or a statement that is not a SELECT
            (COPY, INSERT, CREATE, ATTACH, PRAGMA, SET, ...).
    """
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise QueryError(str(exc).strip().splitlines()[0]) from None
    if len(statements) != 1:
        raise QueryError(f"expected one SELECT statement, got {len(statements)} statements")
    if statements[0].type != duckdb.StatementType.SELECT:
        kind = statements[0].type.name
        raise QueryError(
            f"only SELECT queries (or WITH … SELECT) may run here, got {kind}: the sweep "
            "folder is read-only"
        )


def query(root: str | Path, sql: str, *, timeout: float = QUERY_SECONDS) -> pd.DataFrame:
    """Run one SELECT statement over a sweep folder's views and return the result; it is
    stopped after ``timeout`` seconds.

    Raises:
        QueryError: not a single SELECT (see :func:`read_only`), bad SQL, a view the
            sweep does not have, or the time limit reached.
    """
    read_only(sql)
    con = connect(root)
    timer = threading.Timer(timeout, con.interrupt)
    timer.start()
    try:
        return con.execute(sql).df()
    except duckdb.InterruptException:
        raise QueryError(
            f"the query was stopped after {timeout:g} s; narrow it (a WHERE, a LIMIT)"
        ) from None
    except duckdb.Error as exc:
        first = str(exc).strip().splitlines()[0]
        raise QueryError(first) from None
    finally:
        timer.cancel()
        con.close()


def summarize(root: str | Path, *, write: bool = True) -> pd.DataFrame:
    """Per design point: the factor values, runs ok and failed, and for each outcome its
    mean over the successful replications with a 95% confidence interval
    (``_ci_low``/``_ci_high``; Student's t at the number of successful runs).

    Args:
        root: The sweep folder.
        write: Also save ``summary.parquet`` and ``summary.csv`` in it (atomically).
    """
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
            row |= ci_columns(name, ok[name])
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


def heatmap(root: str | Path, outcome: str, x: str, y: str) -> pd.DataFrame:
    """The mean of ``outcome`` over a sweep's successful runs per (``x``, ``y``) cell of
    two factors, across replications and the other factors (see :func:`heatmap_sql`)."""
    return query(root, heatmap_sql(outcome, x, y, SweepFolder(root).design()))


def first_match(options: list[str], *needles: str) -> str | None:
    """The first option containing a needle, trying the needles in turn (None if none
    does): e.g. the harm outcome among a sweep's outcome columns."""
    for needle in needles:
        for option in options:
            if needle in option:
                return option
    return None


def is_binned(values: pd.Series) -> bool:
    """A factor the heatmap cuts into quantile bins: numeric with many settings."""
    return is_number(values) and values.nunique() > HEATMAP_BINS


def is_number(values: pd.Series) -> bool:
    """A factor with numeric settings (booleans are categories, not numbers)."""
    return is_numeric_dtype(values) and not is_bool_dtype(values)


def heatmap_sql(outcome: str, x: str, y: str, design: pd.DataFrame) -> str:
    """DuckDB SQL for a sweep heatmap: the mean of ``outcome`` over the successful runs in
    each (``x``, ``y``) cell, across replications and the other factors.

    A numeric factor with more than :data:`HEATMAP_BINS` settings in ``design`` is cut
    into that many quantile bins of the design points (labelled low–high).

    Returns:
        SQL giving ``x_order``, ``x``, ``y_order``, ``y`` (labels), ``value`` and ``runs``.
    """
    axes = [_axis(name, design[name], axis) for name, axis in ((x, "x"), (y, "y"))]
    value = f"r.{_ident(outcome)}"
    return f"""
        WITH cells AS (SELECT point, {axes[0][0]}, {axes[1][0]} FROM design),
        labelled AS (SELECT *, {axes[0][1]} AS x, {axes[1][1]} AS y FROM cells)
        SELECT l.x_order, l.x, l.y_order, l.y, avg({value}) AS value, count({value}) AS runs
        FROM runs AS r JOIN labelled AS l USING (point)
        WHERE r.status = 'ok'
        GROUP BY l.x_order, l.x, l.y_order, l.y
        ORDER BY l.x_order, l.y_order
    """


def _axis(name: str, values: pd.Series, axis: str) -> tuple[str, str]:
    """SQL for one heatmap axis: its order and value columns over ``design``, and its
    label over those."""
    column = _ident(name)
    if is_binned(values):
        rank = f"percent_rank() OVER (ORDER BY {column})"
        order = f"least({HEATMAP_BINS - 1}, floor({HEATMAP_BINS} * {rank}))::INTEGER"
        window = f"OVER (PARTITION BY {axis}_order)"
        label = f"printf('%.3g–%.3g', min({axis}_value) {window}, max({axis}_value) {window})"
    elif is_number(values):
        order, label = column, f"printf('%.4g', {axis}_value::DOUBLE)"
    else:
        order, label = column, f"CAST({axis}_value AS VARCHAR)"
    return f"{order} AS {axis}_order, {column} AS {axis}_value", label


def _ident(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'
