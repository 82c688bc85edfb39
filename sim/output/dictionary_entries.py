"""The building blocks of the data dictionary: column types, the phases of a step, the
placeholders of experiment-dependent column names, and the entries that describe a
column (:class:`Column`), a table (:class:`Table`), a key of a JSON file
(:class:`MetaKey`) and a folder an experiment command writes (:class:`FolderKind`).

The entries themselves live in :mod:`sim.output.dictionary` (a run and a sweep folder)
and :mod:`sim.output.dictionary_experiments` (the folders of ``dirisk compare``,
``attribute``, ``robust`` and ``optimize``).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = [
    "PHASES",
    "PHASE_MEANINGS",
    "PLACEHOLDERS",
    "TYPES",
    "Column",
    "FolderKind",
    "MetaKey",
    "Table",
    "UnknownTable",
]

#: Column types, as pandas dtypes of the tables (``str`` is text: ``object`` in pandas 2,
#: ``str`` in pandas 3; ``category`` is a pandas Categorical, a dictionary-encoded string
#: in Parquet).
TYPES = ("int64", "float64", "bool", "category", "str")

#: Phases of the daily schedule (docs/ODD.md section 3), in the order they run.
PHASES = ("emit", "serve", "settle", "enforce", "adapt", "record", "events")

#: What each phase does, for the rendered documentation.
PHASE_MEANINGS = {
    "emit": "the policy matrix in force for the step is rebuilt, then requesters emit "
    "the day's requests",
    "serve": "requests are routed and admitted, and served or refused, with retries "
    "(capacity, filters, KYC, gateway)",
    "settle": "nodes book served requests and fees",
    "enforce": "jurisdictions audit, fine and take down, in scenario order; validators "
    "score and probe miners and pay emissions",
    "adapt": "requesters learn nodes; nodes relocate, switch model, comply or defy, exit "
    "and enter; model kinds diffuse; jurisdictions revise policy and treaties "
    "grow; profits are booked",
    "record": "the step's counts are recorded (state read now: after adapt, before events)",
    "events": "timeline events of the step fire (in effect from the next step)",
}

#: Placeholders in column names: a column named ``<factor>`` (or ``<factor>_low``, ...)
#: stands for one column per factor of the experiment, and so on.
PLACEHOLDERS: dict[str, str] = {
    "factor": "each factor's `name`, in experiment order (manifest.json `factors`)",
    "outcome": "each outcome's column name, in experiment order (manifest.json "
    "`outcomes`): a run-level outcome's name (`dirisk describe outcomes`; the default "
    "outcomes are of this kind) or `<metric>_<stat>` for a statistic of a metrics column, "
    "with `_last<N>` for an outcome over the last N steps, unless the outcome sets its own "
    "`name`; with `by_residence: true`, then each outcome among each jurisdiction's "
    "residents as `<column>__<jurisdiction>`",
    "metric": "each column of the metrics table but `step`, in its order",
    "parameter": "each uncertain parameter's concrete dotted scenario path (such as "
    "`jurisdictions.eu.enforcement.audit_rate`), in the order of the uncertainty catalogue "
    "resolved against the base scenario (`sim.experiments.uncertainty.catalogue_for`, "
    "docs/CALIBRATION.md section 8), less the parameters a policy or lever sets",
    "lever": "each lever's column name, in levers-file order (optimization.json "
    "`levers`): its `name`, or the last part of its first path",
    "objective": "each objective's outcome, in order (optimization.json `objectives` "
    "without `:min` or `:max`): a run-level outcome's name (`dirisk describe outcomes`); "
    "`enforcement_spend_usd` is always one",
}
_PLACEHOLDER = re.compile(r"<(\w+)>")


def _placeholder(column: Column) -> str:
    """The placeholder in a column's name ("" for a plain column)."""
    match = _PLACEHOLDER.search(column.name)
    return match[1] if match else ""


@dataclass(frozen=True)
class Column:
    """One column of an output table.

    Attributes:
        name: Column name (stable).
        type: One of :data:`TYPES`.
        unit: What one unit of the value is (requests, USD, share 0–1, ...).
        meaning: One precise sentence: what is counted, numerator and denominator of a
            ratio, and when it is NaN.
        phase: The phase(s) of the daily schedule (:data:`PHASES`) that determine the
            value, comma-separated when several do; empty in the sweep tables, whose
            values summarise or describe whole runs.
    """

    name: str
    type: str
    unit: str
    meaning: str
    phase: str = ""

    def __post_init__(self) -> None:
        if self.type not in TYPES:
            raise ValueError(f"column {self.name}: type {self.type!r} is not one of {TYPES}")
        unknown = [p for p in self.phases if p not in PHASES]
        if unknown:
            raise ValueError(f"column {self.name}: phase {self.phase!r} is not made of {PHASES}")
        bad = [p for p in _PLACEHOLDER.findall(self.name) if p not in PLACEHOLDERS]
        if bad:
            raise ValueError(f"column {self.name}: placeholder {bad} is not one of {PLACEHOLDERS}")

    @property
    def phases(self) -> tuple[str, ...]:
        """The phases, in schedule order as written."""
        return tuple(p.strip() for p in self.phase.split(",") if p.strip())


@dataclass(frozen=True)
class Table:
    """One output table.

    Attributes:
        name: Table name; the file is ``<name>.parquet`` or ``<name>.csv``.
        description: What the table is for.
        row: What one row is ("one row per ...").
        key: Columns that identify a row (empty: none, e.g. the event log).
        columns: Every column, in file order.
        notes: Caveats an analyst should know.
        source: The code that builds the table.
        files: Where the table is stored, as a phrase (default: ``<name>.parquet`` or
            ``.csv`` in the run folder).
        blocks: Placeholder columns that begin a block of their own. Within a block,
            adjacent columns of one placeholder repeat name by name (``x``, ``x_ci_low``,
            ``y``, ``y_ci_low``); a column named here repeats after the whole block
            before it (``x``, ``y``, ``x_reevaluated``, ``y_reevaluated``).
    """

    name: str
    description: str
    row: str
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    notes: tuple[str, ...] = ()
    source: str = ""
    files: str = ""
    blocks: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        names = self.names
        if len(set(names)) != len(names):
            raise ValueError(f"table {self.name}: duplicate column names")
        missing = [k for k in self.key if k not in names]
        if missing:
            raise ValueError(f"table {self.name}: key columns {missing} are not columns")
        plain = [b for b in self.blocks if b not in names or not _PLACEHOLDER.search(b)]
        if plain:
            raise ValueError(f"table {self.name}: blocks {plain} are not placeholder columns")

    @property
    def names(self) -> tuple[str, ...]:
        """Column names, in file order."""
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        """The column called ``name``.

        Raises:
            KeyError: no such column.
        """
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(f"table {self.name} has no column {name!r}")

    @property
    def location(self) -> str:
        """Where the table is stored, as a phrase."""
        return self.files or f"File `{self.name}.parquet` (or `.csv`)"

    @property
    def placeholders(self) -> tuple[str, ...]:
        """The placeholders in the column names (:data:`PLACEHOLDERS`), in first use order."""
        return tuple(dict.fromkeys(p for p in map(_placeholder, self.columns) if p))

    def resolve(self, values: Mapping[str, Sequence[str]]) -> dict[str, Column]:
        """The concrete column names in file order, each with its entry: a placeholder
        column such as ``<outcome>`` once per name in ``values["outcome"]``; adjacent
        columns of one placeholder name by name (``x``, ``x_ci_low``, ``y``, ``y_ci_low``)
        unless one begins a block (:attr:`blocks`).

        Raises:
            KeyError: ``values`` lacks a placeholder of the table.
        """
        out: dict[str, Column] = {}
        block = itertools.accumulate(int(c.name in self.blocks) for c in self.columns)
        for (key, _), group in itertools.groupby(
            zip(self.columns, block, strict=True), key=lambda cb: (_placeholder(cb[0]), cb[1])
        ):
            cols = [c for c, _ in group]
            if not key:
                out.update((c.name, c) for c in cols)
                continue
            for value in values[key]:
                out.update((c.name.replace(f"<{key}>", value), c) for c in cols)
        return out


@dataclass(frozen=True)
class MetaKey:
    """One key of a JSON file (``run.json``, ``manifest.json``, ...).

    Attributes:
        name: The key.
        type: Its JSON type (string, integer, number, boolean, array, object; "string or
            null" and the like when it may be null).
        meaning: What it holds.
    """

    name: str
    type: str
    meaning: str


class UnknownTable(ValueError):
    """A table name the dictionary does not know."""


@dataclass(frozen=True)
class FolderKind:
    """A folder an experiment command writes, as the dictionary describes it.

    Attributes:
        command: The command, as typed (``dirisk compare``).
        title: Heading of its section in docs/DATA.md ("Comparison folders").
        label: What one such folder is, for the terminal ("a comparison folder").
        intro: How such a folder is made and what it answers (a paragraph).
        files: (file, what it holds) for the folder's overview, in folder order.
        tables: Every table it holds, in overview order.
        conventions: What holds for every table of the folder.
        json_name: Its metadata file ("" for none).
        json_keys: The keys of the metadata file, in file order.
        json_intro: One sentence on when the metadata file is written.
        sweeps: Where its sweep folders are, as a phrase ("" for none): their tables are
            those of any sweep folder.
    """

    command: str
    title: str
    label: str
    intro: str
    files: tuple[tuple[str, str], ...]
    tables: tuple[Table, ...]
    conventions: tuple[str, ...] = ()
    json_name: str = ""
    json_keys: tuple[MetaKey, ...] = ()
    json_intro: str = ""
    sweeps: str = ""

    @property
    def by_name(self) -> dict[str, Table]:
        """The tables by name, in overview order."""
        return {t.name: t for t in self.tables}

    @property
    def placeholders(self) -> tuple[str, ...]:
        """The placeholders its tables use, in first use order."""
        return tuple(dict.fromkeys(p for t in self.tables for p in t.placeholders))
