"""Results of a run: tidy pandas tables plus metadata, saved as one folder that appears
whole or not at all."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from sim.common.files import (
    DirectoryNotEmpty,
    atomic_directory,
    atomic_write,
    atomic_write_text,
    is_empty_directory,
)
from sim.results.outcomes import HEADLINE_OUTCOMES, outcome
from sim.scenario import scenario_to_yaml

__all__ = [
    "EVENT_COLUMNS",
    "EVENT_DTYPES",
    "DirectoryNotEmpty",
    "Format",
    "Results",
    "TABLES",
    "check_target",
    "read_table",
    "table_file",
    "write_table",
]

Format = Literal["parquet", "csv"]
TABLES: tuple[str, ...] = (
    "metrics",
    "requests",
    "actors",
    "flows",
    "nodes",
    "jurisdictions",
    "node_states",
    "events",
)
EVENT_COLUMNS = ("step", "event", "jurisdiction", "node_id", "detail")
#: Types of the event log's columns (also when it is empty).
EVENT_DTYPES = {
    "step": "int64",
    "event": "str",
    "jurisdiction": "str",
    "node_id": "int64",
    "detail": "str",
}


def table_file(name: str, fmt: Format) -> str:
    """The file name of table ``name`` in format ``fmt`` (``metrics.parquet``), as listed
    in run.json's ``tables``."""
    return f"{name}.{fmt}"


def _run_file_names() -> set[str]:
    """Every file name :meth:`Results.save` writes, in either format."""
    tables = {table_file(name, fmt) for name in TABLES for fmt in ("parquet", "csv")}
    return tables | {"scenario.yaml", "run.json"}


def check_target(directory: str | Path, *, overwrite: bool = False) -> Path:
    """Check that :meth:`Results.save` may write the run folder ``directory``.

    A missing or empty folder may be written. A non-empty one only with ``overwrite``, and
    only when it is a run folder: it holds a run.json (whatever else it holds, e.g. a
    ``dirisk report`` of that run, goes with it), or only files a run writes (an
    interrupted save of an older dirisk). Any other folder, or a file, is never replaced.

    Returns:
        ``directory`` as a Path.

    Raises:
        DirectoryNotEmpty: the folder may not be written (the message names it and says
            what to do).
    """
    out = Path(directory)
    if not os.path.lexists(out) or is_empty_directory(out):
        return out
    if not overwrite:
        raise DirectoryNotEmpty(
            out,
            f"{out} is not empty (it holds a run or other files): pass overwrite=True "
            "(dirisk run --force) to replace it, or choose another folder",
        )
    if not out.is_dir():
        raise DirectoryNotEmpty(out, f"{out} is a file, not a run folder: not replacing it")
    if (out / "run.json").is_file():
        return out
    known = _run_file_names()
    foreign = sorted(
        p.name
        for p in out.iterdir()
        if p.name not in known and not (p.name.startswith(".") and p.name.endswith(".tmp"))
    )
    if foreign:
        raise DirectoryNotEmpty(
            out,
            f"{out} is not a run folder (no run.json; it holds {', '.join(foreign[:3])}"
            f"{', ...' if len(foreign) > 3 else ''}): not replacing it; choose another folder",
        )
    return out


def write_table(frame: pd.DataFrame, path: Path, fmt: Format) -> None:
    """Write one table atomically as Parquet or CSV."""
    if fmt == "parquet":
        atomic_write(path, lambda p: frame.to_parquet(p, index=False))
    else:
        atomic_write(path, lambda p: frame.to_csv(p, index=False))


def read_table(path: Path, fmt: Format) -> pd.DataFrame:
    """Read one table written by :func:`write_table` (CSV text columns keep empty strings)."""
    if fmt == "parquet":
        return pd.read_parquet(path)
    frame = pd.read_csv(path)
    text = frame.select_dtypes(include=["object", "string"]).columns
    return frame.fillna({col: "" for col in text})


@dataclass
class Results:
    """The tables and metadata of one run.

    Attributes:
        metrics: One row per step: the headline metrics.
        requests: Per step x residence jurisdiction x requester kind x category.
        actors: Per step x jurisdiction x requester kind: requesters who succeeded.
        flows: Per step x origin x destination jurisdiction x category: served requests
            (rows with none omitted).
        nodes: Per step x host jurisdiction x model kind: node counts, service, money.
        jurisdictions: Per step x jurisdiction: enforcement counters and policy.
        node_states: Every node's state at the recorded steps.
        events: The event log.
        meta: Scenario (merged), seed, versions, timings; written as run.json.
    """

    metrics: pd.DataFrame
    requests: pd.DataFrame
    actors: pd.DataFrame
    flows: pd.DataFrame
    nodes: pd.DataFrame
    jurisdictions: pd.DataFrame
    node_states: pd.DataFrame
    events: pd.DataFrame
    meta: dict[str, Any] = field(default_factory=dict)

    def tables(self) -> dict[str, pd.DataFrame]:
        """Every table by name."""
        return {name: getattr(self, name) for name in TABLES}

    def save(
        self, directory: str | Path, *, format: Format = "parquet", overwrite: bool = False
    ) -> Path:
        """Write every table, the merged scenario (scenario.yaml) and run.json as the
        folder ``directory``.

        The folder appears whole or not at all: everything is written into a hidden
        sibling (``.<name>.<pid>-<token>.saving``, in the same parent folder), which is
        then renamed to ``directory``; an error or a kill leaves no ``directory`` (or the
        previous one) and no hidden folder (a killed save's is deleted by the next save of
        the same folder). ``dirisk run DIR/scenario.yaml --seed SEED`` reproduces the run.

        Args:
            directory: The run folder. It must not exist or be empty, unless ``overwrite``.
            format: ``parquet`` or ``csv``.
            overwrite: Replace an existing run folder whole (renamed away, the new one
                renamed in, the old one deleted). Never replaces a folder that is not a
                run (see :func:`check_target`).

        Returns:
            The directory.

        Raises:
            DirectoryNotEmpty: ``directory`` is not empty and ``overwrite`` is False, or it
                is not a run folder (a ``FileExistsError``).
        """
        if format not in ("parquet", "csv"):
            raise ValueError(f"format must be 'parquet' or 'csv', got {format!r}")
        out = check_target(directory, overwrite=overwrite)
        meta = {
            **self.meta,
            "format": format,
            "tables": [table_file(name, format) for name in TABLES],
        }

        def write(folder: Path) -> None:
            for name, frame in self.tables().items():
                write_table(frame, folder / table_file(name, format), format)
            if "scenario" in self.meta:
                text = scenario_to_yaml(self.meta["scenario"])
                atomic_write_text(folder / "scenario.yaml", text)
            atomic_write_text(folder / "run.json", json.dumps(meta, indent=2, default=str) + "\n")

        atomic_directory(out, write, overwrite=overwrite)
        return out

    @classmethod
    def load(cls, directory: str | Path) -> Results:
        """Read a run saved with :meth:`save` (run.json ``tables`` may list file names,
        ``metrics.parquet``, or, as written before, bare table names, ``metrics``)."""
        out = Path(directory)
        meta_path = out / "run.json"
        if not meta_path.is_file():
            raise FileNotFoundError(f"{out}: no run.json (not a finished dirisk run)")
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        fmt = meta.get("format", "parquet")
        files = {name: table_file(name, fmt) for name in TABLES}
        for entry in meta.get("tables", []):
            stem, dot, suffix = str(entry).rpartition(".")
            if dot and stem in files and suffix in ("parquet", "csv"):
                files[stem] = entry
        return cls(
            **{
                name: read_table(out / file, file.rpartition(".")[2])
                for name, file in files.items()
            },
            meta=meta,
        )

    def summary(self) -> pd.DataFrame:
        """Headline numbers over the whole run, one row per outcome of
        :data:`~sim.results.outcomes.HEADLINE_OUTCOMES` (for the CLI and the explorer):
        ``outcome`` (its registry name), ``metric`` (readable), ``value``, ``unit`` and
        ``basis``."""
        rows = []
        for name in HEADLINE_OUTCOMES:
            spec = outcome(name)
            rows.append((name, spec.label, spec.value(self.metrics), spec.unit, spec.basis))
        return pd.DataFrame(rows, columns=["outcome", "metric", "value", "unit", "basis"])

    def nodes_by_jurisdiction(self) -> pd.Series:
        """Active nodes per jurisdiction at the last step."""
        last = self.nodes[self.nodes["step"] == self.nodes["step"].max()]
        return last.groupby("jurisdiction", observed=True)["nodes_active"].sum()
