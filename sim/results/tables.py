"""Results of a run: tidy pandas tables plus metadata, saved atomically."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from sim.common.files import atomic_write, atomic_write_text
from sim.results.outcomes import HEADLINE_OUTCOMES, outcome
from sim.scenario import scenario_to_yaml

__all__ = [
    "EVENT_COLUMNS",
    "EVENT_DTYPES",
    "Format",
    "Results",
    "TABLES",
    "read_table",
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

    def save(self, directory: str | Path, *, format: Format = "parquet") -> Path:
        """Write every table, the merged scenario (scenario.yaml) and run.json into
        ``directory`` (created if needed).

        Each file is written atomically; run.json is written last, so a folder with a
        run.json holds a complete run. ``dirisk run DIR/scenario.yaml --seed SEED``
        reproduces it.

        Returns:
            The directory.
        """
        if format not in ("parquet", "csv"):
            raise ValueError(f"format must be 'parquet' or 'csv', got {format!r}")
        out = Path(directory)
        for name, frame in self.tables().items():
            write_table(frame, out / f"{name}.{format}", format)
        if "scenario" in self.meta:
            atomic_write_text(out / "scenario.yaml", scenario_to_yaml(self.meta["scenario"]))
        meta = {**self.meta, "format": format, "tables": list(TABLES)}
        atomic_write_text(out / "run.json", json.dumps(meta, indent=2, default=str) + "\n")
        return out

    @classmethod
    def load(cls, directory: str | Path) -> Results:
        """Read a run saved with :meth:`save`."""
        out = Path(directory)
        meta_path = out / "run.json"
        if not meta_path.is_file():
            raise FileNotFoundError(f"{out}: no run.json (not a finished dirisk run)")
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        fmt = meta.get("format", "parquet")
        return cls(**{name: read_table(out / f"{name}.{fmt}", fmt) for name in TABLES}, meta=meta)

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
