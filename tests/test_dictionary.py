"""The data dictionary (sim/dictionary.py) cannot drift from what a run writes.

Every column a run writes has an entry and every entry a column, the dictionary's types
are the written Parquet dtypes, docs/DATA.md is exactly the rendered dictionary, and
``dirisk describe`` prints it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import sim
from sim.cli import app
from sim.dictionary import (
    PHASES,
    RUN_JSON,
    TABLES_DICTIONARY,
    TYPES,
    Column,
    UnknownTable,
    describe,
    main,
    render_markdown,
)
from sim.results import TABLES

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
        f"sim.dictionary.TABLES_DICTIONARY {list(TABLES_DICTIONARY)} must list the tables of "
        f"sim.results.TABLES {list(TABLES)}, in the same order"
    )


@pytest.mark.parametrize("name", TABLES)
def test_every_written_column_has_an_entry_and_every_entry_a_column(name, written):
    actual = list(written[name].columns)
    described = list(TABLES_DICTIONARY[name].names)
    undocumented = [c for c in actual if c not in described]
    stale = [c for c in described if c not in actual]
    assert not undocumented and not stale, (
        f"table {name}: columns written but not in sim/dictionary.py: {undocumented}; "
        f"entries in sim/dictionary.py with no written column: {stale} "
        "(update sim/dictionary.py, then run `python -m sim.dictionary`)"
    )
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
    for table in TABLES_DICTIONARY.values():
        assert table.description and table.row.startswith("one row per "), table.name
        for col in table.columns:
            assert col.type in TYPES and col.unit and col.meaning.endswith("."), (
                f"{table.name}.{col.name}: type, unit and a one-sentence meaning are required"
            )
            assert all(p in PHASES for p in col.phases), f"{table.name}.{col.name}"


def test_column_rejects_unknown_types_and_phases():
    with pytest.raises(ValueError, match="type"):
        Column("x", "int32", "requests", "A count.", "serve")
    with pytest.raises(ValueError, match="phase"):
        Column("x", "int64", "requests", "A count.", "serve, lunch")


def test_run_json_keys_are_documented(saved):
    written = list(json.loads((saved / "run.json").read_text(encoding="utf-8")))
    described = [k.name for k in RUN_JSON]
    assert written == described, f"run.json keys {written} != dictionary {described}"


def test_an_empty_event_log_keeps_its_types(tmp_path):
    out = sim.run("classroom_demo", steps=2).save(tmp_path / "out")
    events = pd.read_parquet(out / "events.parquet")
    assert len(events) == 0
    table = TABLES_DICTIONARY["events"]
    assert {c: dtype_name(events[c]) for c in events} == {c.name: c.type for c in table.columns}


# --------------------------------------------------------------------------- docs/DATA.md


def test_data_md_is_the_rendered_dictionary():
    assert DATA_MD.is_file(), "docs/DATA.md is missing: run `python -m sim.dictionary`"
    assert DATA_MD.read_text(encoding="utf-8") == render_markdown(), (
        "docs/DATA.md is out of date with sim/dictionary.py: run `python -m sim.dictionary`"
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
    assert all(name in overview for name in TABLES)
    for name, table in TABLES_DICTIONARY.items():
        text = describe(name)
        assert all(col in text for col in table.names), name
    assert all(k.name in describe("run.json") for k in RUN_JSON)
    with pytest.raises(UnknownTable):
        describe("nope")


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
