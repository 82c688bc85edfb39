"""The data dictionary of the experiment commands' folders
(sim/output/dictionary_experiments.py) cannot drift from what they write.

A tiny folder of each kind is made once (``dirisk compare``, ``attribute`` and ``robust``
on a tiny world with two or three seeds and days, ``optimize`` with a stub evaluation in
place of the sweep engine). Every CSV file the dictionary names has exactly its columns,
in order and of its types (placeholders expanded from the folder's own settings), every
JSON file its keys, every file written an entry in the folder's overview, and
``dirisk describe`` lists and prints them all.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from sim.analysis.attribution import attribute
from sim.analysis.robustness import failure_boxes, robust
from sim.cli import app
from sim.experiments.compare import compare
from sim.experiments.folder import SweepFolder, read_parts
from sim.experiments.optimize import EvaluationBatch, LeverSet, futures_without_levers, optimize
from sim.experiments.uncertainty import catalogue_for
from sim.output.dictionary import (
    EXPERIMENT_FOLDERS,
    EXPERIMENT_TABLES,
    SWEEP_TABLES,
    TABLES_DICTIONARY,
    Column,
    Table,
    UnknownTable,
    describe,
    render_markdown,
    table,
)
from sim.scenario import load_scenario
from tests.conftest import tiny_scenario
from tests.test_dictionary import (
    assert_same_names,
    dtype_name,
    family,
    resolve_reference,
    sweep_columns,
)

#: Levers of the stub search: a number, a switch and a whole number.
LEVERS = {
    "levers": [
        {"name": "audit", "path": "jurisdictions.*.enforcement.audit_rate", "bounds": [0.0, 0.2]},
        {"name": "kyc", "path": "jurisdictions.*.enforcement.kyc_mandate", "type": "bool"},
        {
            "name": "persistence",
            "path": "requesters.kinds.malicious.persistence",
            "bounds": [0, 8],
            "integer": True,
        },
    ]
}


def world() -> dict:
    """A tiny world where retries and VPN evasion leak harm."""
    data = tiny_scenario(persistence=2, refusal=0.4, steps=3)
    for kind in data["requesters"]["kinds"].values():
        kind["vpn_use"] = 0.3
    return data


def stub(batch: EvaluationBatch) -> pd.DataFrame:
    """Harm falls with the audit rate and rises with persistence; spend rises with both
    the audit rate and the KYC mandate."""
    rows = [
        {
            "candidate": index,
            "future": int(future),
            "harmful_completed": 100 * (1 - values["audit"] / 0.2) + values["persistence"] + future,
            "enforcement_spend_usd": 50 * values["audit"] + 10 * values["kyc"],
        }
        for index, values in enumerate(batch.candidates)
        for future in batch.futures["future"]
    ]
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class Written:
    """A folder an experiment command wrote, with what its placeholders stand for."""

    path: Path
    values: dict[str, list[str]] = field(default_factory=dict)
    types: dict[str, str] = field(default_factory=dict)


def parameter_types(data: dict, paths: list[str]) -> dict[str, str]:
    """The dictionary type of each uncertain parameter column: int64 for whole numbers."""
    whole = {p.path for p in catalogue_for(data).parameters if p.integer}
    return {p: "int64" if p in whole else "float64" for p in paths}


@pytest.fixture(scope="module")
def compare_dir(tmp_path_factory) -> Written:
    result = compare(world(), params=[("models.m.refusal.harm", 0.9)], seeds=2)
    return Written(result.save(tmp_path_factory.mktemp("compare") / "c"))


@pytest.fixture(scope="module")
def attribute_dir(tmp_path_factory) -> Written:
    out = tmp_path_factory.mktemp("attribute") / "a"
    channels = ["vpn", "retries", "havens"]
    attribute(world(), out, channels=channels, seeds=2, by_residence=True, workers=1)
    return Written(out)


@pytest.fixture(scope="module")
def robust_dir(tmp_path_factory) -> Written:
    out = tmp_path_factory.mktemp("robust") / "r"
    strict = copy.deepcopy(world())
    strict["models"]["m"]["refusal"]["harm"] = 0.9
    robust(world(), [("strict", strict)], out, futures=3, seeds=2, workers=1)
    record = json.loads((out / "robust.json").read_text(encoding="utf-8"))
    data = SweepFolder(out / record["names"][0]).experiment().scenario
    paths = [
        p.path
        for p in catalogue_for(data).parameters
        if not any(p.path == lever or p.path.startswith(f"{lever}.") for lever in record["levers"])
    ]
    return Written(out, {"parameter": paths}, parameter_types(data, paths))


@pytest.fixture(scope="module")
def optimize_dir(tmp_path_factory) -> Written:
    out = tmp_path_factory.mktemp("optimize") / "o"
    optimize(
        "classroom_demo",
        LEVERS,
        out,
        objectives=["harmful_completed:min"],
        futures=3,
        generations=2,
        population=4,
        seed=1,
        evaluate=stub,
    )
    settings = json.loads((out / "optimization.json").read_text(encoding="utf-8"))
    data = load_scenario(settings["base"]).to_dict()
    levers = LeverSet.model_validate(settings["levers"])
    catalogue = catalogue_for(data)
    every = pd.DataFrame(columns=["future", *(p.path for p in catalogue.parameters)])
    paths = list(futures_without_levers(every, catalogue, levers.places(data)).columns[1:])
    kinds = {lever.column: lever for lever in levers.levers}
    lever_types = {
        c: "bool" if kinds[c].type == "bool" else "int64" if kinds[c].integer else "float64"
        for c in levers.columns
    }
    values = {
        "parameter": paths,
        "lever": levers.columns,
        "objective": [o.split(":")[0] for o in settings["objectives"]],
    }
    return Written(out, values, {**parameter_types(data, paths), **lever_types})


def written(command: str, request: pytest.FixtureRequest) -> Written:
    """The tiny folder of ``command`` (made on first use)."""
    return request.getfixturevalue(f"{command}_dir")


def file_of(t: Table) -> str:
    """The file a table of an experiment folder is stored in, as its entry says."""
    match = re.match(r"File `([^`]+)`", t.files)
    assert match, f"table {t.name}: `files` should start with File `NAME`"
    return match[1]


TABLE_CASES = [
    pytest.param(command, t, id=t.name)
    for command, folder in EXPERIMENT_FOLDERS.items()
    for t in folder.tables
]


# --------------------------------------------------------------------------- written files


@pytest.mark.parametrize(("command", "entry"), TABLE_CASES)
def test_every_table_is_written_with_its_columns_in_order_and_types(command, entry, request):
    folder = written(command, request)
    path = folder.path / file_of(entry)
    assert path.is_file(), f"table {entry.name}: {path.name} was not written"
    frame = pd.read_csv(path)
    columns = entry.resolve(folder.values)
    assert_same_names(f"table {entry.name}", list(frame.columns), list(columns))
    assert list(frame.columns) == list(columns), f"table {entry.name}: columns out of order"
    if entry.name == "failure_boxes" and frame.empty:
        return  # header only: its types are checked on boxes of a synthetic case below
    assert len(frame) > 0, f"table {entry.name}: expected rows"
    types = {c: folder.types.get(c, e.type) for c, e in columns.items()}
    wrong = {
        c: (types[c], dtype_name(frame[c]))
        for c in frame.columns
        if family(types[c]) != family(dtype_name(frame[c]))
    }
    assert not wrong, f"table {entry.name}: dictionary type != written dtype: {wrong}"
    assert not frame.duplicated(subset=list(entry.key)).any(), f"table {entry.name}: key repeats"


def test_failure_boxes_of_a_synthetic_case_have_the_documented_types(tmp_path):
    """A policy that fails exactly where the first parameter is high: its boxes, as
    `dirisk robust` writes them, are of the dictionary's columns and types."""
    rng = np.random.default_rng(1)
    futures = pd.DataFrame({"future": np.arange(40), "a.b": rng.random(40), "c.d": rng.random(40)})
    holds = pd.DataFrame({"p": futures["a.b"] < 0.5}, index=futures["future"])
    path = tmp_path / "boxes.csv"
    failure_boxes(futures, holds, ["p"]).to_csv(path, index=False)
    frame = pd.read_csv(path)
    entry = EXPERIMENT_TABLES["failure_boxes"]
    assert len(frame) > 0 and list(frame.columns) == list(entry.names)
    assert {c: family(dtype_name(frame[c])) for c in frame} == {
        c.name: family(c.type) for c in entry.columns
    }


@pytest.mark.parametrize("command", [c for c, f in EXPERIMENT_FOLDERS.items() if f.json_name])
def test_json_keys_are_documented_in_file_order(command, request):
    folder = EXPERIMENT_FOLDERS[command]
    path = written(command, request).path / folder.json_name
    keys = list(json.loads(path.read_text(encoding="utf-8")))
    assert keys == [k.name for k in folder.json_keys], f"{folder.json_name}: keys {keys}"


def overview_patterns(files: tuple[tuple[str, str], ...]) -> list[re.Pattern[str]]:
    """What each file of an overview looks like at the top of the folder (a folder as
    ``name/``; ``<x>`` for any name)."""
    patterns = []
    for names, _ in files:
        for name in names.split(", "):
            top = name.split("/")[0] + ("/" if "/" in name else "")
            patterns.append(re.compile(re.sub(r"<\w+>", "[^/]+", re.escape(top))))
    return patterns


@pytest.mark.parametrize("command", list(EXPERIMENT_FOLDERS))
def test_every_file_written_is_in_the_folders_overview(command, request):
    patterns = overview_patterns(EXPERIMENT_FOLDERS[command].files)
    found = [
        f"{p.name}/" if p.is_dir() else p.name for p in written(command, request).path.iterdir()
    ]
    undocumented = [name for name in found if not any(p.fullmatch(name) for p in patterns)]
    assert not undocumented, f"{command}: files not in the dictionary's overview: {undocumented}"


def test_an_attribution_folder_holds_a_documented_sweep(attribute_dir):
    manifest = json.loads((attribute_dir.path / "manifest.json").read_text(encoding="utf-8"))
    runs = read_parts(attribute_dir.path)
    assert list(runs.columns) == list(sweep_columns("runs", manifest))
    assert set(manifest["factors"]) == {"vpn", "retries"}  # havens does not apply
    assert any(c.endswith("__j0") for c in manifest["outcomes"])


def test_each_scenario_of_a_robustness_folder_is_a_documented_sweep_of_futures(robust_dir):
    for name in json.loads((robust_dir.path / "robust.json").read_text(encoding="utf-8"))["names"]:
        sweep_dir = robust_dir.path / name
        manifest = json.loads((sweep_dir / "manifest.json").read_text(encoding="utf-8"))
        assert manifest["factors"] == []  # runs hold no factor column
        assert list(read_parts(sweep_dir).columns) == list(sweep_columns("runs", manifest))
        design = pd.read_parquet(sweep_dir / "design.parquet")
        assert list(design.columns) == ["point", *robust_dir.values["parameter"]]


# --------------------------------------------------------------------------- the entries


def test_table_names_are_unique_across_runs_sweeps_and_experiment_folders():
    names = [
        *TABLES_DICTIONARY,
        *SWEEP_TABLES,
        *(t.name for f in EXPERIMENT_FOLDERS.values() for t in f.tables),
    ]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)
    json_names = ["run.json", "manifest.json", *(f.json_name for f in EXPERIMENT_FOLDERS.values())]
    assert not set(names) & set(json_names)


@pytest.mark.parametrize("name", list(EXPERIMENT_TABLES))
def test_every_experiment_table_is_complete_and_names_code_that_exists(name):
    entry = EXPERIMENT_TABLES[name]
    assert entry.description and entry.row.startswith("one row per "), name
    assert entry.key and entry.source, name
    resolve_reference(entry.source)
    for col in entry.columns:
        assert col.unit and col.meaning.endswith(".") and not col.phase, f"{name}.{col.name}"
    assert table(name) is entry


def test_blocks_repeat_after_the_whole_block_before_them():
    entry = EXPERIMENT_TABLES["reevaluation"]
    names = entry.resolve({"lever": ["a"], "objective": ["x", "y"]})
    assert list(names) == [
        "policy",
        "a",
        "x",
        "y",
        "x_reevaluated",
        "y_reevaluated",
        "rank_reevaluated",
        "non_dominated",
    ]
    with pytest.raises(ValueError, match="blocks"):
        Table(
            "t", "A table.", "one row per x", (), (Column("x", "int64", "x", "X."),), blocks=("x",)
        )


# --------------------------------------------------------------------------- docs and describe


def test_data_md_has_a_section_per_folder_with_its_tables_and_json():
    text = render_markdown()
    for folder in EXPERIMENT_FOLDERS.values():
        start = text.index(f"\n## {folder.title}\n")
        anchor = folder.title.lower().replace(" ", "-")
        assert f"(#{anchor})" in text, f"DATA.md does not link to {folder.title}"
        for t in folder.tables:
            assert text.index(f"\n## {t.name}\n") > start, t.name
        if folder.json_name:
            assert text.index(f"\n## {folder.json_name}\n") > start


def test_describe_lists_each_folders_tables_under_its_command():
    overview = describe()
    for folder in EXPERIMENT_FOLDERS.values():
        start = overview.index(f"Tables of {folder.label} ({folder.command}")
        for name in [*folder.by_name, *filter(None, [folder.json_name])]:
            assert re.search(rf"^  {re.escape(name)} ", overview[start:], re.MULTILINE), name
    for name, entry in EXPERIMENT_TABLES.items():
        text = describe(name)
        assert all(col in text for col in entry.names), name
    for folder in EXPERIMENT_FOLDERS.values():
        if folder.json_name:
            assert all(k.name in describe(folder.json_name) for k in folder.json_keys)
    with pytest.raises(UnknownTable, match="pareto"):
        describe("nope")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("pareto", ["<lever>", "<objective>", "policies/policy_<policy>.yaml"]),
        ("effects", ["future", "effect"]),
        ("compare_summary", ["diff_low", "verdict"]),
        ("optimization.json", ["reevaluation_seed", "identity"]),
    ],
)
def test_cli_describes_an_experiment_table(name, expected):
    result = CliRunner().invoke(app, ["describe", name])
    assert result.exit_code == 0, result.output
    assert all(word in result.stdout for word in expected), result.stdout


def test_cli_describe_overview_names_the_experiment_tables():
    result = CliRunner().invoke(app, ["describe"])
    assert result.exit_code == 0, result.output
    assert all(name in result.stdout for name in EXPERIMENT_TABLES)
    assert all(f.command in result.stdout for f in EXPERIMENT_FOLDERS.values())
