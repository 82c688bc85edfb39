"""The uncertainty catalogue (sim/data/uncertainty.yaml) and the futures drawn from it:
reproducible Latin hypercubes, valid scenarios for every future, a scenario's own
uncertainty block, and agreement with docs/CALIBRATION.md (its generated §8, and a
range or a stated reason for every parameter it marks assumed)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

import sim
from sim.experiments.uncertainty import (
    CATALOGUE_PATH,
    MARKDOWN_BEGIN,
    MARKDOWN_END,
    UncertainParameter,
    apply_future,
    catalogue_for,
    catalogue_markdown,
    draw_futures,
    load_catalogue,
    splice_markdown,
)
from sim.scenario import ScenarioError, expand_path, load_scenario, schema_bounds, validate

ROOT = Path(__file__).resolve().parents[1]
CALIBRATION = ROOT / "docs" / "CALIBRATION.md"


@pytest.fixture(scope="module")
def baseline() -> dict:
    return load_scenario("baseline").to_dict()


@pytest.fixture(scope="module")
def resolved():
    return catalogue_for("baseline")


@pytest.fixture(scope="module")
def futures(resolved) -> pd.DataFrame:
    return draw_futures("baseline", 50, seed=7, catalogue=resolved)


def with_block(data: dict, block: dict) -> dict:
    return {**data, "uncertainty": block}


# --------------------------------------------------------------------------- the file


def test_the_catalogue_is_package_data_and_reads():
    assert CATALOGUE_PATH == ROOT / "sim" / "data" / "uncertainty.yaml"
    catalogue = load_catalogue()
    assert len(catalogue.parameters) >= 100
    assert load_catalogue() is catalogue  # cached
    assert all(p.rationale.strip() for p in catalogue.parameters)
    assert all(e.reason.strip() for e in catalogue.excluded)


def test_every_range_contains_the_baseline_value_within_the_schemas_bounds(baseline):
    for p in load_catalogue().parameters:
        low, high, whole = schema_bounds(p.path)
        assert low <= p.low < p.high <= high, p.path
        assert p.integer == whole, p.path
        assert p.distribution in ("uniform", "triangular"), p.path
        for place, value in expand_path(baseline, p.path):
            assert p.low <= value <= p.high, (place, value, p.low, p.high)
        if p.mode is not None:
            assert p.low <= p.mode <= p.high, p.path


def test_the_baseline_resolves_without_notes(resolved, baseline):
    assert resolved.notes == ()
    # `*` entries give one parameter per key.
    stars = [p for p in load_catalogue().parameters if "*" in p.path]
    expected = len(load_catalogue().parameters) + sum(
        len(expand_path(baseline, p.path)) - 1 for p in stars
    )
    assert len(resolved.parameters) == expected
    assert "requesters.kinds.malicious.memory" in resolved.paths
    assert all("*" not in path for path in resolved.paths)
    malicious = resolved.get("requesters.kinds.malicious.share")
    assert malicious.distribution == "triangular" and malicious.mode == 0.01
    assert malicious.absorbed_by == ("requesters.kinds.benign.share",)
    row = resolved.get("jurisdictions.row.requester_share")
    assert set(row.absorbed_by) == {
        f"jurisdictions.{j}.requester_share" for j in ("eu", "us", "cn", "haven")
    }


def test_entries_a_scenario_lacks_are_dropped_with_a_note(baseline):
    data = load_scenario("baseline").to_dict()
    del data["jurisdictions"]["haven"]
    data["jurisdictions"]["row"]["requester_share"] += 0.02
    data["jurisdictions"]["row"]["hosting_share"] += 0.10
    resolved = catalogue_for(data)
    assert not any(p.path.startswith("jurisdictions.haven.") for p in resolved.parameters)
    assert any(n.startswith("jurisdictions.haven.hosting_share: dropped") for n in resolved.notes)
    # A value the scenario sets outside the range is its choice, not an uncertainty.
    data["nodes"]["filter_recall"] = 0.5
    resolved = catalogue_for(data)
    assert resolved.get("nodes.filter_recall") is None
    assert any(
        n.startswith("nodes.filter_recall: dropped, the scenario sets 0.5") for n in resolved.notes
    )


# --------------------------------------------------------------------------- futures


def test_futures_are_reproducible_from_the_seed(resolved):
    first = draw_futures("baseline", 20, seed=3, catalogue=resolved)
    again = draw_futures("baseline", 20, seed=3)
    other = draw_futures("baseline", 20, seed=4, catalogue=resolved)
    pd.testing.assert_frame_equal(first, again)
    assert not first.drop(columns="future").equals(other.drop(columns="future"))
    assert list(first.columns) == ["future", *resolved.paths]
    assert first["future"].tolist() == list(range(20))


def test_every_future_of_the_baseline_is_a_valid_scenario(futures, resolved, baseline):
    for _, row in futures.iterrows():
        data = apply_future(baseline, row, resolved)
        validate(data, source=f"future {row['future']}")
        for path in resolved.paths:
            [(_, value)] = expand_path(data, path)
            assert value == pytest.approx(row[path]), path
    assert baseline == load_scenario("baseline").to_dict()  # the input is not changed


def test_shares_that_absorb_keep_their_proportions(futures, resolved, baseline):
    row = futures.iloc[0]
    data = apply_future(baseline, row, resolved)
    mix = data["jurisdictions"]["eu"]["model_mix"]
    before = baseline["jurisdictions"]["eu"]["model_mix"]
    assert mix["aligned"] == pytest.approx(row["jurisdictions.eu.model_mix.aligned"])
    assert mix["uncensored"] / mix["base"] == pytest.approx(before["uncensored"] / before["base"])
    assert sum(mix.values()) == pytest.approx(1.0, abs=1e-9)
    kinds = data["requesters"]["kinds"]
    assert kinds["benign"]["share"] == pytest.approx(
        1 - row["requesters.kinds.malicious.share"] - row["requesters.kinds.dual_use.share"]
    )


def test_each_column_stays_in_its_range_and_hits_every_stratum_once(futures, resolved):
    n = len(futures)
    for p in resolved.parameters:
        values = futures[p.path].to_numpy()
        assert (values >= p.low).all() and (values <= p.high).all(), p.path
        if p.integer:
            assert futures[p.path].dtype == "int64", p.path
            assert len(set(values)) > 1, p.path
            continue
        strata = np.floor(p.cdf(values) * n).astype(int)
        assert sorted(strata) == list(range(n)), p.path


def test_triangular_draws_use_scipys_quantiles():
    p = UncertainParameter("x", 0.0, 4.0, "triangular", mode=1.0)
    q = np.array([0.0, 0.125, 0.5, 0.999999])
    from scipy import stats

    assert p.ppf(q) == pytest.approx(stats.triang(c=0.25, loc=0, scale=4).ppf(q))
    whole = UncertainParameter("y", 2, 8, integer=True)
    draws = whole.ppf(np.linspace(0, 1, 7001)[:-1])
    assert set(draws) == set(range(2, 9))
    counts = np.bincount(draws.astype(int))[2:]
    assert counts.min() == counts.max()  # every whole number equally likely


@pytest.mark.parametrize("preset", sim.list_presets())
def test_futures_of_every_preset_are_valid_scenarios(preset):
    data = load_scenario(preset).to_dict()
    resolved = catalogue_for(preset)
    for _, row in draw_futures(preset, 8, seed=1, catalogue=resolved).iterrows():
        validate(apply_future(data, row, resolved), source=f"{preset} future {row['future']}")


# --------------------------------------------------------------------------- the block


def test_a_scenarios_block_narrows_a_range_and_null_drops_a_parameter(baseline):
    block = {
        "requesters.kinds.malicious.share": {"range": [0.005, 0.02]},
        "nodes.filter_recall": None,
        "requesters.kinds.*.persistence": {"range": [1, 5]},
        "market.validators.count": {"range": [32, 128], "distribution": "triangular"},
        "nodes.capacity_dispersion": {"range": [0.3, 0.8], "mode": 0.6},
    }
    spec = validate(with_block(baseline, block))
    resolved = catalogue_for(spec)
    malicious = resolved.get("requesters.kinds.malicious.share")
    assert (malicious.low, malicious.high) == (0.005, 0.02)
    assert malicious.distribution == "triangular"  # the catalogue's, kept
    assert malicious.mode == 0.01  # the scenario's value
    assert malicious.absorbed_by == ("requesters.kinds.benign.share",)
    assert resolved.get("nodes.filter_recall") is None
    assert any(n.startswith("nodes.filter_recall: fixed") for n in resolved.notes)
    for kind in ("benign", "dual_use", "malicious"):
        persistence = resolved.get(f"requesters.kinds.{kind}.persistence")
        assert (persistence.low, persistence.high, persistence.integer) == (1, 5, True)
    added = resolved.get("market.validators.count")  # not in the catalogue: added
    assert added.integer and added.mode == 64
    dispersion = resolved.get("nodes.capacity_dispersion")  # a mode makes it triangular
    assert (dispersion.distribution, dispersion.mode) == ("triangular", 0.6)
    table = draw_futures(spec, 30, seed=2)
    assert "nodes.filter_recall" not in table
    assert table["requesters.kinds.malicious.share"].between(0.005, 0.02).all()
    for _, row in table.iterrows():
        validate(apply_future(spec.to_dict(), row))


def test_the_block_round_trips_and_absent_leaves_the_hash_unchanged(baseline):
    plain = load_scenario("baseline")
    assert "uncertainty" not in plain.to_dict()
    assert validate(with_block(baseline, {})).content_hash() == plain.content_hash()
    block = {"nodes.filter_recall": {"range": [0.8, 0.95]}, "nodes.price_dispersion": None}
    spec = validate(with_block(baseline, block))
    assert spec.to_dict()["uncertainty"]["nodes.price_dispersion"] is None
    assert validate(spec.to_dict()).content_hash() == spec.content_hash() != plain.content_hash()


RECALL = "nodes.filter_recall"
ATLANTIS = "jurisdictions.atlantis.compliance_share"
RETRIES = "requesters.kinds.*.persistence"
#: A bad uncertainty block, the field its error names and words of the message.
BAD_BLOCKS = [
    ({"nodes.filter_recal": {"range": [0.8, 0.95]}}, "nodes.filter_recal", "'filter_recal'"),
    ({ATLANTIS: None}, ATLANTIS, "unknown parameter path: no field 'atlantis'"),
    ({RECALL: {"range": [0.95, 0.8]}}, RECALL, "low < high"),
    ({RECALL: {"range": [0.8, 1.2]}}, RECALL, "within the schema's bounds [0, 1]"),
    ({RECALL: {"range": [0.5, 0.8]}}, RECALL, "contains the scenario's value"),
    ({RETRIES: {"range": [-1, 3]}}, RETRIES, "within the schema's bounds [0, 50]"),
    ({"market.protocol": {"range": [0, 1]}}, "market.protocol", "expected a path to a number"),
    ({RECALL: {"range": [0.8, 0.95], "mode": 0.99}}, RECALL, "mode 0.99 must lie in the range"),
    ({RECALL: {"range": [0.8, 0.95], "shape": "normal"}}, f"{RECALL}.shape", "unknown field"),
]  # fmt: skip


@pytest.mark.parametrize(("block", "field", "words"), BAD_BLOCKS)
def test_a_bad_block_is_a_scenario_error_naming_the_field(baseline, block, field, words):
    with pytest.raises(ScenarioError) as caught:
        validate(with_block(baseline, block), source="world.yaml")
    assert caught.value.source == "world.yaml"
    assert caught.value.path == f"uncertainty.{field}"
    assert words in caught.value.expected


def test_a_share_without_room_to_absorb_it_is_refused(baseline):
    block = {"requesters.kinds.malicious.share": {"range": [0.001, 0.95]}}
    with pytest.raises(ScenarioError) as caught:
        catalogue_for(with_block(baseline, block))
    assert caught.value.path == "uncertainty.requesters.kinds.malicious.share"
    assert "cannot give up" in caught.value.expected
    # A share the catalogue does not vary has nothing to absorb it: the ends fail.
    block = {"jurisdictions.eu.model_mix.base": {"range": [0.0, 0.1]}}
    with pytest.raises(ScenarioError) as caught:
        catalogue_for(with_block(baseline, block))
    assert caught.value.path == "uncertainty.jurisdictions.eu.model_mix.base"
    assert "summing to 1" in caught.value.expected


# --------------------------------------------------------------------------- the document


def test_calibration_section_8_is_generated_from_the_catalogue():
    text = CALIBRATION.read_text(encoding="utf-8")
    assert text.count(MARKDOWN_BEGIN) == 1 and text.count(MARKDOWN_END) == 1, (
        "docs/CALIBRATION.md must hold the generated section between its markers"
    )
    shown = text.split(MARKDOWN_BEGIN, 1)[1].split(MARKDOWN_END, 1)[0]
    assert shown == "\n" + catalogue_markdown(), (
        "docs/CALIBRATION.md §8 disagrees with sim/data/uncertainty.yaml; regenerate it "
        "with `python -m sim.experiments.uncertainty --write docs/CALIBRATION.md`"
    )
    assert splice_markdown(text) == text


def calibration_rows(text: str) -> list[dict[str, str]]:
    """Every row of the tables of ``text`` whose header has `parameter` and `status`
    columns, as header -> cell."""
    rows, header = [], None
    for line in text.splitlines():
        if not line.startswith("|"):
            header = None
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if header is None:
            header = [c.lower() for c in cells]
        elif not set(line) <= set("|-: ") and {"parameter", "status"} <= set(header):
            rows.append(dict(zip(header, cells, strict=False)))
    return rows


def named_paths(cell: str) -> tuple[list[str], str]:
    """The dotted paths a `parameter` cell names, and any prose beside them.

    A cell names one path (`models.aligned.quality`), or several, later ones written as
    a suffix that replaces the end of the first (`categories.x.harmful` / `.dual_use`,
    `adaptation.rule`, `.imitation_weight`); words outside backticks (`... flags`) are
    returned as prose."""
    paths: list[str] = []
    for span in re.findall(r"`([^`]+)`", cell):
        if span.startswith(".") and paths:
            first, suffix = paths[0].split("."), span[1:].split(".")
            paths.append(".".join(first[: len(first) - len(suffix)] + suffix))
        else:
            paths.append(span)
    prose = re.sub(r"[\s,/]+", " ", re.sub(r"`[^`]+`", "", cell)).strip()
    return paths, prose


def matches(pattern: str, path: str, *, prefix: bool = False) -> bool:
    """``pattern`` (with `*` for any key) names ``path`` (or, with ``prefix``, a
    mapping that holds it)."""
    want, have = pattern.split("."), path.split(".")
    if len(want) > len(have) or (not prefix and len(want) != len(have)):
        return False
    return all(w in ("*", h) for w, h in zip(want, have, strict=False))


def test_named_paths_reads_every_way_a_row_names_its_parameters():
    assert named_paths("`models.aligned.quality`") == (["models.aligned.quality"], "")
    assert named_paths("`categories.x.harmful` / `.dual_use`") == (
        ["categories.x.harmful", "categories.x.dual_use"],
        "",
    )
    assert named_paths("`adaptation.rule`, `.imitation_weight`")[0] == [
        "adaptation.rule",
        "adaptation.imitation_weight",
    ]
    assert named_paths("`jurisdictions.us.enforcement.*` flags") == (
        ["jurisdictions.us.enforcement.*"],
        "flags",
    )


def test_every_parameter_calibration_marks_assumed_has_a_range_or_a_reason():
    rows = calibration_rows(CALIBRATION.read_text(encoding="utf-8"))
    assumed = [r for r in rows if r["status"].startswith("assumed")]
    assert len(assumed) > 150, "the status column of docs/CALIBRATION.md was not read"
    catalogue = load_catalogue()
    varied = [p.path for p in catalogue.parameters]
    absorbing = [a for p in catalogue.parameters for a in p.absorbed_by]
    excluded = [e.path for e in catalogue.excluded]
    missing = []
    for row in assumed:
        paths, prose = named_paths(row["parameter"])
        assert paths, f"a row of docs/CALIBRATION.md names no parameter: {row}"
        for path in paths:
            if prose:  # a row in words ("... flags") must be listed as written
                ok = path in excluded
            else:
                ok = any(matches(k, path) or k == path for k in varied + absorbing) or any(
                    matches(e, path, prefix=True) for e in excluded
                )
            if not ok:
                missing.append(f"{path} ({row['value']})")
    assert not missing, (
        "docs/CALIBRATION.md marks these parameters assumed, but sim/data/uncertainty.yaml "
        "gives them no range and no reason under `excluded:`:\n  " + "\n  ".join(missing)
    )


def test_no_parameter_is_both_varied_and_excluded_and_every_exclusion_is_calibrated():
    catalogue = load_catalogue()
    varied = {p.path for p in catalogue.parameters}
    excluded = [e.path for e in catalogue.excluded]
    assert not varied & set(excluded)
    assert len(excluded) == len(set(excluded))
    named = {
        path
        for row in calibration_rows(CALIBRATION.read_text(encoding="utf-8"))
        for path in named_paths(row["parameter"])[0]
    }
    stale = [e for e in excluded if not any(matches(e, p, prefix=True) for p in named)]
    assert not stale, f"exclusions that name no row of docs/CALIBRATION.md: {stale}"


def test_the_catalogue_file_is_plain_yaml_with_one_line_rationales():
    raw = yaml.safe_load(CATALOGUE_PATH.read_text(encoding="utf-8"))
    assert set(raw) == {"parameters", "excluded"}
    for path, entry in raw["parameters"].items():
        assert "\n" not in entry["rationale"] and "|" not in entry["rationale"], path
        assert entry.get("distribution", "uniform") in ("uniform", "triangular"), path
