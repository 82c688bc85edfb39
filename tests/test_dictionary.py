"""The data dictionary (sim/output/dictionary.py) cannot drift from what a run or a sweep writes.

Every column a run or a sweep writes has an entry and every entry a column (a sweep's
factor and outcome columns through the placeholder entries), the dictionary's types are
the written Parquet dtypes, docs/DATA.md is exactly the rendered dictionary, and
``dirisk describe`` prints it.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pandas as pd
import pytest
from SALib.sample import morris, sobol
from typer.testing import CliRunner

import sim
from sim.analysis.discovery import discover
from sim.analysis.query import query, summarize
from sim.analysis.sensitivity import indices
from sim.cli import app
from sim.experiments.experiment import load_experiment
from sim.experiments.folder import read_parts
from sim.experiments.sweep import sweep
from sim.output.dictionary import (
    EXPERIMENT_TABLES,
    MANIFEST_JSON,
    METRICS,
    PHASES,
    PLACEHOLDERS,
    RUN_JSON,
    SWEEP_TABLES,
    TABLES_DICTIONARY,
    TYPES,
    Column,
    Table,
    UnknownTable,
    describe,
    main,
    render_markdown,
)
from sim.results.tables import TABLES

ROOT = Path(__file__).resolve().parents[1]
DATA_MD = ROOT / "docs" / "DATA.md"
#: classroom_demo fires a timeline event at the end of step 19, so 20 steps always give a
#: non-empty event log (an empty one has untyped columns, see below).
STEPS = 20


@pytest.fixture(scope="module")
def run():
    return sim.run("classroom_demo", steps=STEPS)


@pytest.fixture(scope="module")
def saved(run, tmp_path_factory) -> Path:
    return run.save(tmp_path_factory.mktemp("run") / "out", format="parquet")


@pytest.fixture(scope="module")
def written(saved) -> dict[str, pd.DataFrame]:
    """Every table as read back from its Parquet file."""
    tables = {name: pd.read_parquet(saved / f"{name}.parquet") for name in TABLES}
    assert len(tables["events"]) > 0, "expected events (the timeline fires at step 19)"
    return tables


def dtype_name(series: pd.Series) -> str:
    """The dictionary type of a pandas column."""
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return "category"
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_integer_dtype(dtype):
        return str(dtype)
    if pd.api.types.is_float_dtype(dtype):
        return str(dtype)
    if pd.api.types.is_string_dtype(dtype) or dtype == object:  # noqa: E721
        return "str"
    return str(dtype)


def family(type_name: str) -> str:
    """Both category and str are text."""
    return "text" if type_name in ("category", "str") else type_name


# --------------------------------------------------------------------------- coverage


def test_dictionary_describes_exactly_the_saved_tables():
    assert tuple(TABLES_DICTIONARY) == TABLES, (
        f"sim.output.dictionary.TABLES_DICTIONARY {list(TABLES_DICTIONARY)} must list the "
        f"tables of sim.results.tables.TABLES {list(TABLES)}, in the same order"
    )


def assert_same_names(label: str, actual: list[str], described: list[str]) -> None:
    """Every written column has a dictionary entry and every entry a written column."""
    undocumented = [c for c in actual if c not in described]
    stale = [c for c in described if c not in actual]
    assert not undocumented and not stale, (
        f"{label}: columns written but not in sim/output/dictionary.py: {undocumented}; "
        f"entries in sim/output/dictionary.py with no written column: {stale} "
        "(update sim/output/dictionary.py, then run `python -m sim.output.dictionary`)"
    )


@pytest.mark.parametrize("name", TABLES)
def test_every_written_column_has_an_entry_and_every_entry_a_column(name, written):
    actual = list(written[name].columns)
    described = list(TABLES_DICTIONARY[name].names)
    assert_same_names(f"table {name}", actual, described)
    assert actual == described, (
        f"table {name}: the dictionary lists the columns in another order than the file:\n"
        f"  file:       {actual}\n  dictionary: {described}"
    )


@pytest.mark.parametrize("name", TABLES)
def test_dictionary_types_match_the_parquet_dtypes(name, written):
    table = TABLES_DICTIONARY[name]
    wrong = {
        col: (table.column(col).type, dtype_name(written[name][col]))
        for col in written[name].columns
        if col in table.names
        and family(table.column(col).type) != family(dtype_name(written[name][col]))
    }
    assert not wrong, f"table {name}: dictionary type != Parquet dtype: " + ", ".join(
        f"{c}: {d} != {a}" for c, (d, a) in wrong.items()
    )


@pytest.mark.parametrize("name", TABLES)
def test_dictionary_types_match_the_in_memory_tables_exactly(name, run):
    frame = run.tables()[name]
    table = TABLES_DICTIONARY[name]
    wrong = {
        col: (table.column(col).type, dtype_name(frame[col]))
        for col in frame.columns
        if table.column(col).type != dtype_name(frame[col])
    }
    assert not wrong, f"table {name}: dictionary type != pandas dtype: " + ", ".join(
        f"{c}: {d} != {a}" for c, (d, a) in wrong.items()
    )


@pytest.mark.parametrize("name", [n for n in TABLES if TABLES_DICTIONARY[n].key])
def test_key_columns_identify_a_row(name, written):
    """'One row per ...' holds: the key columns have no duplicates."""
    key = list(TABLES_DICTIONARY[name].key)
    duplicated = written[name].duplicated(subset=key)
    assert not duplicated.any(), f"table {name}: {int(duplicated.sum())} rows repeat the key {key}"


def test_every_entry_is_complete():
    for table in [*TABLES_DICTIONARY.values(), *SWEEP_TABLES.values()]:
        assert table.description and table.row.startswith("one row per "), table.name
        for col in table.columns:
            assert col.type in TYPES and col.unit and col.meaning.endswith("."), (
                f"{table.name}.{col.name}: type, unit and a one-sentence meaning are required"
            )
            assert all(p in PHASES for p in col.phases), f"{table.name}.{col.name}"
            if table.name in TABLES_DICTIONARY:
                assert col.phases, f"{table.name}.{col.name}: a run table's column needs a phase"


def test_column_rejects_unknown_types_phases_and_placeholders():
    with pytest.raises(ValueError, match="type"):
        Column("x", "int32", "requests", "A count.", "serve")
    with pytest.raises(ValueError, match="phase"):
        Column("x", "int64", "requests", "A count.", "serve, lunch")
    with pytest.raises(ValueError, match="placeholder"):
        Column("<knob>", "float64", "share", "A knob.")


def resolve_reference(reference: str) -> object:
    """The object a dotted ``sim.module.name.attribute`` reference names."""
    parts = reference.split(".")
    for n in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:n]))
        except ModuleNotFoundError:
            continue
        for name in parts[n:]:
            obj = getattr(obj, name)
        return obj
    raise ImportError(reference)


@pytest.mark.parametrize("name", [*TABLES_DICTIONARY, *SWEEP_TABLES])
def test_every_table_names_code_that_exists(name):
    source = (TABLES_DICTIONARY.get(name) or SWEEP_TABLES[name]).source
    assert source, f"table {name}: no source"
    resolve_reference(source)


def test_run_json_keys_are_documented(saved):
    written = list(json.loads((saved / "run.json").read_text(encoding="utf-8")))
    described = [k.name for k in RUN_JSON]
    assert written == described, f"run.json keys {written} != dictionary {described}"


def test_run_and_sweep_tables_have_distinct_names():
    assert not set(TABLES_DICTIONARY) & set(SWEEP_TABLES)
    assert list(SWEEP_TABLES) == [
        "runs",
        "run_metrics",
        "design",
        "summary",
        "sensitivity",
        "discovery",
    ]


def test_resolve_repeats_placeholder_columns_name_by_name():
    table = Table(
        "t",
        "A table.",
        "one row per thing",
        ("point",),
        (
            Column("point", "int64", "point", "A point."),
            Column("<factor>", "float64", "unit", "A factor."),
            Column("<outcome>", "float64", "unit", "A mean."),
            Column("<outcome>_ci_low", "float64", "unit", "A bound."),
        ),
    )
    assert table.placeholders == ("factor", "outcome")
    assert list(table.resolve({"factor": ["a"], "outcome": ["x", "y"]})) == [
        "point",
        "a",
        "x",
        "x_ci_low",
        "y",
        "y_ci_low",
    ]
    with pytest.raises(KeyError):
        table.resolve({"factor": ["a"]})


def test_an_empty_event_log_keeps_its_types(tmp_path):
    out = sim.run("classroom_demo", steps=2).save(tmp_path / "out")
    events = pd.read_parquet(out / "events.parquet")
    assert len(events) == 0
    table = TABLES_DICTIONARY["events"]
    assert {c: dtype_name(events[c]) for c in events} == {c.name: c.type for c in table.columns}


# --------------------------------------------------------------------------- sweep folders


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory) -> Path:
    """A tiny finished sweep (grid of 2 points × 2 replications, metrics saved),
    summarised and with a discovery table."""
    experiment = load_experiment(
        {
            "name": "t",
            "scenario": "classroom_demo",
            "steps": 8,
            "overrides": {"requesters": {"count": 500}, "nodes": {"count": 60}},
            "factors": [
                {
                    "name": "audit_rate",
                    "path": "jurisdictions.*.enforcement.audit_rate",
                    "range": [0, 0.2],
                }
            ],
            "design": {"kind": "grid", "levels": 2},
            "replications": 2,
            "seed": 1,
            "save_metrics": True,
        }
    )
    root = tmp_path_factory.mktemp("s") / "sweep"
    counts = sweep(experiment, root, workers=1)
    assert counts["ok"] == counts["total"] == 4, counts
    summarize(root)
    # No audits, no audit spending: the runs without audits are the cases of interest.
    discover(root, "enforcement_spend_usd", below=1e-9)
    return root


@pytest.fixture(scope="module")
def manifest(sweep_dir) -> dict:
    return json.loads((sweep_dir / "manifest.json").read_text(encoding="utf-8"))


def sweep_columns(name: str, manifest: dict) -> dict[str, Column]:
    """The concrete columns of a sweep table, each with its entry (``<metric>`` columns
    with their metrics table entry, for their types)."""
    resolved = SWEEP_TABLES[name].resolve(
        {
            "factor": manifest["factors"],
            "outcome": manifest["outcomes"],
            "metric": list(METRICS.names[1:]),
        }
    )
    return {c: METRICS.column(c) if e.name == "<metric>" else e for c, e in resolved.items()}


def assert_documented(name: str, frame: pd.DataFrame, columns: dict[str, Column]) -> None:
    """Every column of ``frame`` has an entry, every entry a column, of the right type."""
    actual = list(frame.columns)
    assert_same_names(f"sweep table {name}", actual, list(columns))
    wrong = {
        c: (columns[c].type, dtype_name(frame[c]))
        for c in actual
        if family(columns[c].type) != family(dtype_name(frame[c]))
    }
    assert not wrong, f"sweep table {name}: dictionary type != written dtype: {wrong}"


def test_outcomes_parts_are_documented(sweep_dir, manifest):
    """The outcomes parts as `dirisk query` reads them; within a part the columns are in
    dictionary order, ``point`` (int64) first."""
    runs = sweep_columns("runs", manifest)
    frame = read_parts(sweep_dir)
    assert_documented("runs", frame, runs)
    assert not frame.duplicated(subset=list(SWEEP_TABLES["runs"].key)).any()
    part = pd.read_parquet(sweep_dir / "outcomes" / "point=0" / "rep-00000.parquet")
    assert list(part.columns) == list(runs) and part["point"].dtype == "int64"


def test_metrics_parts_are_documented(sweep_dir, manifest):
    """The metrics parts as the `metrics` view of `dirisk query` reads them."""
    metrics = query(sweep_dir, "SELECT * FROM metrics")
    assert_documented("run_metrics", metrics, sweep_columns("run_metrics", manifest))


@pytest.mark.parametrize("name", ["design", "summary"])
def test_sweep_tables_are_documented_in_order(name, sweep_dir, manifest):
    frame = pd.read_parquet(sweep_dir / f"{name}.parquet")
    columns = sweep_columns(name, manifest)
    assert_documented(name, frame, columns)
    assert list(frame.columns) == list(columns), f"sweep table {name}: columns out of order"
    assert not frame.duplicated(subset=list(SWEEP_TABLES[name].key)).any()


def test_discovery_table_is_documented_in_order(sweep_dir, manifest):
    frame = pd.read_csv(sweep_dir / "discovery.csv")
    columns = sweep_columns("discovery", manifest)
    assert len(frame) > 0
    assert_documented("discovery", frame, columns)
    assert list(frame.columns) == list(columns)


def test_sensitivity_table_is_documented():
    """Saltelli and Morris indices of a synthetic outcome: each design kind writes its
    own columns, and together they are the dictionary's."""
    problem = {"num_vars": 2, "names": ["a", "b"], "bounds": [[0.0, 1.0], [0.0, 1.0]]}
    samples = {
        "saltelli": sobol.sample(problem, 8, calc_second_order=False, seed=1),
        "morris": morris.sample(problem, 4, num_levels=4, seed=1),
    }
    entry = SWEEP_TABLES["sensitivity"]
    seen: set[str] = set()
    for kind, sample in samples.items():
        design = pd.DataFrame(sample, columns=problem["names"])
        table = indices(problem, kind, design, design["a"] + 0.5 * design["b"] ** 2)
        table.insert(0, "outcome", "y")  # as sim.analysis.sensitivity.analyze writes it
        written = {c: entry.column(c) for c in table.columns if c in entry.names}
        undocumented = [c for c in table.columns if c not in entry.names]
        assert not undocumented, f"sensitivity ({kind}): undocumented columns {undocumented}"
        assert_documented("sensitivity", table, written)
        assert list(table.columns) == [c for c in entry.names if c in written]
        seen |= set(table.columns)
    assert sorted(seen) == sorted(entry.names), "sensitivity: entries no design writes"


def test_manifest_keys_are_documented(manifest):
    assert list(manifest) == [k.name for k in MANIFEST_JSON]


def test_placeholders_are_explained_and_used():
    tables = [*SWEEP_TABLES.values(), *EXPERIMENT_TABLES.values()]
    used = {p for t in tables for p in t.placeholders}
    assert used == set(PLACEHOLDERS)
    assert all(f"<{p}>" in render_markdown() for p in PLACEHOLDERS)


# --------------------------------------------------------------------------- docs/DATA.md


def test_data_md_is_the_rendered_dictionary():
    assert DATA_MD.is_file(), "docs/DATA.md is missing: run `python -m sim.output.dictionary`"
    assert DATA_MD.read_text(encoding="utf-8") == render_markdown(), (
        "docs/DATA.md is out of date with sim/output/dictionary.py: "
        "run `python -m sim.output.dictionary`"
    )


def test_data_md_says_it_is_generated_and_stable():
    head = render_markdown()[:1200]
    assert "generated" in head.lower() and "stable public interface" in head


def test_main_writes_the_file_or_prints_it(tmp_path, capsys):
    target = tmp_path / "DATA.md"
    assert main(["--output", str(target)]) == 0
    assert target.read_text(encoding="utf-8") == render_markdown()
    capsys.readouterr()
    assert main(["--stdout"]) == 0
    assert capsys.readouterr().out == render_markdown()


# --------------------------------------------------------------------------- describe


def test_describe_lists_every_table_and_every_column():
    overview = describe()
    assert all(name in overview for name in [*TABLES, *SWEEP_TABLES, "manifest.json"])
    for name, table in [*TABLES_DICTIONARY.items(), *SWEEP_TABLES.items()]:
        text = describe(name)
        assert all(col in text for col in table.names), name
    assert all(k.name in describe("run.json") for k in RUN_JSON)
    assert all(k.name in describe("manifest.json") for k in MANIFEST_JSON)
    with pytest.raises(UnknownTable):
        describe("nope")


def test_cli_describe_a_sweep_table():
    result = CliRunner().invoke(app, ["describe", "runs"])
    assert result.exit_code == 0, result.output
    assert "<outcome>" in result.stdout and "manifest.json" in result.stdout


def test_cli_describe_metrics():
    result = CliRunner().invoke(app, ["describe", "metrics"])
    assert result.exit_code == 0, result.output
    assert "harm_completion_rate" in result.stdout
    assert "harmful_completed / harmful_requests" in result.stdout


def test_cli_describe_without_a_table_lists_them():
    result = CliRunner().invoke(app, ["describe"])
    assert result.exit_code == 0, result.output
    assert all(name in result.stdout for name in TABLES)


def test_cli_describe_unknown_table_exits_2_with_one_line():
    result = CliRunner().invoke(app, ["describe", "nope"])
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "nope" in lines[0] and all(name in lines[0] for name in TABLES)
    assert result.stdout == ""
    assert "Traceback" not in result.output
