"""The sweep-folder format, read and written here only: the runner writes it, the
analysis and the reports read it.

A sweep folder holds::

    experiment.yaml        the resolved experiment (base scenario included)
    design.parquet         one row per design point (``point`` + factor columns)
    manifest.json          experiment hash, run counts, state, versions, times
    outcomes/point=P/rep-R.parquet   one row per finished run (ok or failed)
    metrics/point=P/rep-R.parquet    the run's per-step metrics (``save_metrics: true``)

Each part is written atomically, so a part that exists is complete. Each part holds its
design point as an int64 column ``point``, which the hive folder name ``point=P``
repeats (for partition pruning). Folders begun before parts held the column have it only
in the folder name; dirisk reads both, and keeps writing a folder the way it was begun.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow.parquet as pq

from sim.common.files import atomic_write, atomic_write_text
from sim.experiments.experiment import (
    RUN_COLUMNS,
    Experiment,
    experiment_to_yaml,
    load_experiment,
)
from sim.results.runner import versions

__all__ = [
    "PART_KINDS",
    "SweepError",
    "SweepFolder",
    "has_parts",
    "part_name",
    "parquet_bytes",
    "parts_source",
    "read_parts",
    "utc_now",
]

#: The kinds of per-run parts, with the name of their view in ``dirisk query``.
PART_KINDS = {"outcomes": "runs", "metrics": "metrics"}


class SweepError(ValueError):
    """A sweep folder cannot be used (it holds another experiment, or is unreadable)."""


def part_name(kind: str, point: int, replication: int) -> str:
    """Relative path of one run's part (``kind`` is ``outcomes`` or ``metrics``)."""
    return f"{kind}/point={point}/rep-{replication:05d}.parquet"


def has_parts(root: Path, kind: str) -> bool:
    """Whether the folder holds at least one part of ``kind``."""
    return any((root / kind).glob("point=*/*.parquet"))


def parts_source(root: Path, kind: str) -> str:
    """SQL (DuckDB) reading every part of ``kind``, ``point`` (BIGINT) first.

    ``point`` is in the parts and in their folder names (``point=P``). DuckDB's hive
    partitioning makes the two one column, the folder's value typed BIGINT, so parts
    without the column (folders begun before parts held it) read the same way, alone or
    mixed with parts that hold it (``union_by_name``).
    """
    pattern = str(root / kind / "point=*" / "*.parquet").replace("'", "''")
    return (
        f"(SELECT point, * EXCLUDE (point) FROM read_parquet('{pattern}', "
        "hive_partitioning = true, hive_types = {'point': BIGINT}, union_by_name = true))"
    )


def read_parts(
    root: str | Path, kind: str = "outcomes", columns: list[str] | None = None
) -> pd.DataFrame:
    """Every part of one kind (``outcomes`` or ``metrics``) as one table, ``point``
    (int64) first, sorted by point and replication (and step); empty when there are
    none."""
    root = Path(root)
    if not has_parts(root, kind):
        return pd.DataFrame(columns=columns or list(RUN_COLUMNS))
    select = ", ".join(f'"{c}"' for c in columns) if columns else "*"
    order = "point, replication" + (", step" if kind == "metrics" else "")
    if columns and kind == "outcomes":
        order = ", ".join(c for c in ("point", "replication") if c in columns) or "1"
    with duckdb.connect() as con:
        return con.execute(f"SELECT {select} FROM {parts_source(root, kind)} ORDER BY {order}").df()


def parquet_bytes(frame: pd.DataFrame) -> bytes:
    """``frame`` as the bytes of a Parquet file (no index)."""
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


class SweepFolder:
    """The files of one sweep; creating it for an experiment checks it is that one's."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    @property
    def manifest_path(self) -> Path:
        """The manifest file."""
        return self.root / "manifest.json"

    def manifest(self) -> dict[str, Any]:
        """The manifest, or SweepError if this is not a sweep folder."""
        if not self.manifest_path.is_file():
            raise SweepError(f"{self.root}: no manifest.json (not a dirisk sweep folder)")
        try:
            return json.loads(self.manifest_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise SweepError(f"{self.manifest_path}: unreadable ({exc})") from None

    def experiment(self) -> Experiment:
        """The experiment this sweep runs."""
        return load_experiment(self.root / "experiment.yaml")

    def design(self) -> pd.DataFrame:
        """The design points."""
        return pd.read_parquet(self.root / "design.parquet")

    def prepare(self, experiment: Experiment, design: pd.DataFrame, total: int) -> None:
        """Create the folder for ``experiment``, or check an existing one holds it."""
        digest = experiment.content_hash()
        if self.manifest_path.is_file():
            found = self.manifest().get("experiment_hash")
            if found == digest:
                return
            held = self.experiment()
            if held.replications < experiment.replications and _same_but_replications(
                held, experiment
            ):  # more replications of the same experiment: the new ones are missing runs
                atomic_write_text(self.root / "experiment.yaml", experiment_to_yaml(experiment))
                self.write_manifest(
                    experiment_hash=digest, replications=experiment.replications, runs=total
                )
                return
            raise SweepError(
                f"{self.root} holds a different experiment (hash {str(found)[:12]}, "
                f"this one {digest[:12]}); choose another --out folder"
            )
        if self.root.exists() and any(self.root.iterdir()):
            raise SweepError(f"{self.root} is not empty and holds no sweep; choose another --out")
        atomic_write_text(self.root / "experiment.yaml", experiment_to_yaml(experiment))
        atomic_write(self.root / "design.parquet", lambda p: design.to_parquet(p, index=False))
        self.write_manifest(
            experiment_name=experiment.name,
            experiment_hash=digest,
            design=experiment.design.kind,
            factors=[f.name for f in experiment.factors],
            outcomes=experiment.outcome_columns(),
            points=len(design),
            replications=experiment.replications,
            runs=total,
            created_at=utc_now(),
            versions=versions(),
        )

    def write_manifest(self, **fields: Any) -> None:
        """Update the manifest's fields (atomically)."""
        current = self.manifest() if self.manifest_path.is_file() else {}
        text = json.dumps({**current, **fields}, indent=2, default=str) + "\n"
        atomic_write_text(self.manifest_path, text)

    def parts_hold_point(self) -> bool:
        """Whether this folder's parts hold the ``point`` column: true for a new folder,
        false for one begun before parts held it (its new parts are written the same way,
        so that every part of a folder has the same columns)."""
        first = next((self.root / "outcomes").glob("point=*/rep-*.parquet"), None)
        return first is None or "point" in pq.read_schema(first).names

    def finished(self) -> set[tuple[int, int]]:
        """(point, replication) of every run with an outcomes part."""
        done = set()
        for path in (self.root / "outcomes").glob("point=*/rep-*.parquet"):
            done.add((int(path.parent.name.split("=", 1)[1]), int(path.stem.split("-", 1)[1])))
        return done

    def failed(self) -> set[tuple[int, int]]:
        """(point, replication) of finished runs that failed."""
        runs = self.runs(columns=["point", "replication", "status"])
        bad = runs[runs["status"] != "ok"]
        return set(zip(bad["point"].astype(int), bad["replication"].astype(int), strict=True))

    def remove_stale(self) -> int:
        """Delete temporary files left by an interrupted write; how many."""
        stale = list(self.root.glob("**/.*.tmp"))
        for path in stale:
            path.unlink(missing_ok=True)
        return len(stale)

    def save(self, point: int, replication: int, parts: dict[str, bytes]) -> None:
        """Write one run's parts (Parquet bytes by kind): metrics first, the outcomes part
        (which marks the run finished) last."""
        for kind in sorted(parts, key=lambda k: k == "outcomes"):
            data = parts[kind]
            atomic_write(
                self.root / part_name(kind, point, replication),
                lambda p, data=data: p.write_bytes(data),
            )

    def runs(self, columns: list[str] | None = None) -> pd.DataFrame:
        """Every finished run's outcomes row, sorted (see :func:`read_parts`)."""
        return read_parts(self.root, "outcomes", columns=columns)


def _same_but_replications(held: Experiment, wanted: Experiment) -> bool:
    """Whether two experiments differ in their replications only (a sweep folder may then
    grow: every run's seed depends only on its point and replication)."""
    same = wanted.model_copy(update={"replications": held.replications})
    return same.content_hash() == held.content_hash()


def utc_now() -> str:
    """The current time, ISO 8601 in UTC (manifest timestamps)."""
    return datetime.now(UTC).isoformat()
