"""Scenario loading: every bad input is a ScenarioError naming file, field path and expectation.

Each bad file is written into ``tmp_path`` as a small YAML file that ``extends: baseline``
(the preset) and overrides one thing, or that extends a sibling file by relative path.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from sim import ScenarioError, load_scenario
from sim.scenario import Enforcement


def write(directory: Path, name: str, text: str) -> Path:
    """Write ``text`` (dedented) to ``directory/name`` and return the path."""
    path = directory / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def child(directory: Path, body: str, name: str = "child.yaml") -> Path:
    """A file that extends the baseline preset and overrides what ``body`` says."""
    return write(directory, name, "extends: baseline\n" + textwrap.dedent(body).lstrip("\n"))


def error_for(path: Path) -> ScenarioError:
    """The ScenarioError that loading ``path`` raises."""
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    return info.value


def assert_reported(err: ScenarioError, file: Path, path: str, *expected: str) -> None:
    """``err`` names ``file`` and field ``path``, follows "FILE: path: expected", and
    mentions every fragment of ``expected``."""
    message = str(err)
    assert Path(err.source).resolve() == file.resolve(), message
    assert file.name in message
    assert err.path == path, message
    if path:
        assert message == f"{err.source}: {path}: {err.expected}"
    else:
        assert message == f"{err.source}: {err.expected}"
    assert err.expected, "the message must say what was expected"
    for fragment in expected:
        assert fragment in message, f"{fragment!r} not in {message!r}"


# ----------------------------------------------------------------- whole-file problems


def test_missing_file_is_reported_as_not_found(tmp_path: Path) -> None:
    """A path to a file that does not exist gives "FILE: file not found"."""
    missing = tmp_path / "nope.yaml"
    assert_reported(error_for(missing), missing, "", "not found")


def test_invalid_yaml_reports_the_line(tmp_path: Path) -> None:
    """An unbalanced bracket is reported as invalid YAML with a line number."""
    bad = child(
        tmp_path,
        """
        steps: [1, 2
        seed: 3
    """,
    )
    err = error_for(bad)
    assert_reported(err, bad, "", "invalid YAML")
    assert re.search(r"line \d+", str(err)), str(err)


@pytest.mark.parametrize(
    "text, kind",
    [("- a\n- b\n", "list"), ("just a string\n", "str"), ("42\n", "int")],
    ids=["list", "string", "number"],
)
def test_top_level_must_be_a_mapping(tmp_path: Path, text: str, kind: str) -> None:
    """A file whose top level is not a mapping says a mapping was expected, and what it got."""
    bad = write(tmp_path, "notamap.yaml", text)
    assert_reported(error_for(bad), bad, "", "mapping", kind)


def test_non_utf8_file_is_reported(tmp_path: Path) -> None:
    """A Latin-1 encoded file gives a ScenarioError asking for UTF-8, not a UnicodeDecodeError."""
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes("extends: baseline\ndescription: caf\xe9 \xe0 la carte\n".encode("latin-1"))
    assert_reported(error_for(bad), bad, "", "UTF-8")


def test_yaml_is_read_with_the_safe_loader(tmp_path: Path) -> None:
    """A python/object tag is refused as invalid YAML, and the command is never executed."""
    marker = tmp_path / "executed"
    bad = child(
        tmp_path,
        f"""
        name: !!python/object/apply:os.system ["touch {marker}"]
    """,
    )
    err = error_for(bad)
    assert_reported(err, bad, "", "invalid YAML")
    assert not marker.exists(), "the YAML tag was executed: the loader is not safe"


def test_cyclic_extends_is_reported_as_a_cycle(tmp_path: Path) -> None:
    """a.yaml extends b.yaml extends a.yaml: the error is on `extends` and says "cycle"."""
    a = write(tmp_path, "a.yaml", "extends: b.yaml\nname: a\n")
    b = write(tmp_path, "b.yaml", "extends: a.yaml\nname: b\n")
    err = error_for(a)
    assert Path(err.source).resolve() in (a.resolve(), b.resolve())
    assert_reported(err, Path(err.source), "extends", "cycle", "a.yaml", "b.yaml")


# ----------------------------------------------------------------- schema problems


def test_unknown_top_level_key_is_reported_by_name(tmp_path: Path) -> None:
    """A misspelt top-level key (`stepz`) is an unknown field at path `stepz`."""
    bad = child(tmp_path, "stepz: 10\n")
    assert_reported(error_for(bad), bad, "stepz", "unknown field")


def test_unknown_nested_key_is_reported_with_its_full_path(tmp_path: Path) -> None:
    """A misspelt nested key is reported at its dotted path."""
    bad = child(
        tmp_path,
        """
        jurisdictions:
          eu:
            enforcement:
              audit_rat: 0.1
    """,
    )
    assert_reported(error_for(bad), bad, "jurisdictions.eu.enforcement.audit_rat", "unknown field")


def test_wrong_type_names_the_expected_type_and_the_value(tmp_path: Path) -> None:
    """`steps: "ten"` says an integer was expected and shows the value given."""
    bad = child(tmp_path, 'steps: "ten"\n')
    assert_reported(error_for(bad), bad, "steps", "integer", "'ten'")


@pytest.mark.parametrize("value", [1.5, -0.1])
def test_probability_outside_unit_interval_says_0_to_1(tmp_path: Path, value: float) -> None:
    """A probability outside [0, 1] is reported at its path with the range "[0, 1]"."""
    bad = child(
        tmp_path,
        f"""
        jurisdictions:
          eu:
            enforcement:
              audit_rate: {value}
    """,
    )
    assert_reported(
        error_for(bad), bad, "jurisdictions.eu.enforcement.audit_rate", "[0, 1]", str(value)
    )


# ----------------------------------------------------------------- shares summing to 1


def test_requester_shares_across_jurisdictions_must_sum_to_one(tmp_path: Path) -> None:
    """Raising one jurisdiction's requester_share breaks the sum over jurisdictions."""
    bad = child(
        tmp_path,
        """
        jurisdictions:
          eu:
            requester_share: 0.5
    """,
    )
    assert_reported(error_for(bad), bad, "jurisdictions.*.requester_share", "summing to 1", "1.3")


def test_model_mix_must_sum_to_one(tmp_path: Path) -> None:
    """A jurisdiction's model_mix that sums to 0.85 is reported at that model_mix."""
    bad = child(
        tmp_path,
        """
        jurisdictions:
          eu:
            model_mix: {aligned: 0.5, base: 0.1}
    """,
    )
    assert_reported(error_for(bad), bad, "jurisdictions.eu.model_mix", "summing to 1", "0.85")


def test_category_mix_must_sum_to_one(tmp_path: Path) -> None:
    """A requester kind's category_mix that sums to 0.75 is reported at that category_mix."""
    bad = child(
        tmp_path,
        """
        requesters:
          kinds:
            benign:
              category_mix: {benign_general: 0.5, benign_borderline: 0.2}
    """,
    )
    assert_reported(
        error_for(bad), bad, "requesters.kinds.benign.category_mix", "summing to 1", "0.75"
    )


# ----------------------------------------------------------------- cross-references


def test_unknown_category_in_prohibited_is_reported(tmp_path: Path) -> None:
    """A misspelt category in a jurisdiction's prohibited list names it and the known ones."""
    bad = child(
        tmp_path,
        """
        jurisdictions:
          eu:
            prohibited: [phishing_fraud, malwar]
    """,
    )
    assert_reported(
        error_for(bad), bad, "jurisdictions.eu.prohibited", "unknown category 'malwar'", "malware"
    )


def test_unknown_category_in_model_refusal_is_reported(tmp_path: Path) -> None:
    """A refusal probability for a category that does not exist is reported at the table."""
    bad = child(
        tmp_path,
        """
        models:
          base:
            refusal:
              malwar: 0.1
    """,
    )
    assert_reported(error_for(bad), bad, "models.base.refusal", "unknown category 'malwar'")


def test_unknown_category_in_category_mix_is_reported(tmp_path: Path) -> None:
    """A category_mix entry for an unknown category is reported (even with share 0)."""
    bad = child(
        tmp_path,
        """
        requesters:
          kinds:
            benign:
              category_mix: {politics: 0.0}
    """,
    )
    assert_reported(
        error_for(bad), bad, "requesters.kinds.benign.category_mix", "unknown category 'politics'"
    )


def test_unknown_jurisdiction_in_timeline_event_is_reported(tmp_path: Path) -> None:
    """A timeline event naming a jurisdiction that does not exist is reported at the event."""
    bad = child(
        tmp_path,
        """
        timeline:
          - step: 5
            kind: policy_change
            jurisdiction: atlantis
            prohibit: [malware]
    """,
    )
    assert_reported(
        error_for(bad), bad, "timeline.0.jurisdiction", "unknown jurisdiction 'atlantis'", "eu"
    )


def test_unknown_jurisdiction_in_treaty_is_reported(tmp_path: Path) -> None:
    """A treaty group naming an unknown jurisdiction is reported at that group."""
    bad = child(
        tmp_path,
        """
        treaties:
          - [eu, us]
          - [eu, atlantis]
    """,
    )
    assert_reported(error_for(bad), bad, "treaties.1", "unknown jurisdiction 'atlantis'")


def test_unknown_model_kind_in_model_mix_is_reported(tmp_path: Path) -> None:
    """A model_mix entry for a model kind that does not exist is reported by name."""
    bad = child(
        tmp_path,
        """
        jurisdictions:
          haven:
            model_mix: {frontier: 0.0}
    """,
    )
    assert_reported(
        error_for(bad),
        bad,
        "jurisdictions.haven.model_mix",
        "unknown model kind 'frontier'",
        "aligned",
    )


def test_refusal_table_missing_a_category_is_reported(tmp_path: Path) -> None:
    """Adding a category that the models' refusal tables do not list names the gap."""
    bad = child(
        tmp_path,
        """
        categories:
          new_cat: {harmful: false}
    """,
    )
    err = error_for(bad)
    assert re.fullmatch(r"models\.\w+\.refusal", err.path), str(err)
    assert_reported(err, bad, err.path, "every category", "new_cat")


def test_timeline_event_at_or_after_last_step_is_reported(tmp_path: Path) -> None:
    """An event at step == steps would never fire: reported at its step, naming steps."""
    bad = child(
        tmp_path,
        """
        steps: 10
        timeline:
          - step: 10
            kind: treaty_signed
            jurisdictions: [eu, us]
    """,
    )
    assert_reported(error_for(bad), bad, "timeline.0.step", "steps=10", "10")


def test_timeline_event_at_last_step_is_accepted(tmp_path: Path) -> None:
    """The boundary: an event at step steps - 1 is valid."""
    good = child(
        tmp_path,
        """
        steps: 10
        timeline:
          - step: 9
            kind: treaty_signed
            jurisdictions: [eu, us]
    """,
    )
    assert load_scenario(good).timeline[0].step == 9


# ----------------------------------------------------------------- extends: merging


def test_child_of_baseline_changes_only_what_it_sets(tmp_path: Path) -> None:
    """A child that sets nodes.count inherits every other value from the baseline."""
    good = child(
        tmp_path,
        """
        nodes:
          count: 50
    """,
    )
    scenario = load_scenario(good)
    expected = load_scenario("baseline").to_dict()
    expected["nodes"]["count"] = 50
    assert scenario.nodes.count == 50
    assert scenario.to_dict() == expected


def test_child_can_extend_a_sibling_file_by_relative_path(tmp_path: Path) -> None:
    """A chain grandchild -> parent.yaml -> baseline merges all three levels."""
    write(tmp_path, "parent.yaml", "extends: baseline\nname: parent\nsteps: 30\n")
    grandchild = write(
        tmp_path,
        "grandchild.yaml",
        """
        extends: parent.yaml
        nodes: {count: 40}
    """,
    )
    scenario = load_scenario(grandchild)
    assert (scenario.name, scenario.steps, scenario.nodes.count) == ("parent", 30, 40)
    assert scenario.requesters.count == load_scenario("baseline").requesters.count


def test_null_in_child_removes_a_mapping_entry(tmp_path: Path) -> None:
    """`enforcement: null` drops the inherited block, so the schema defaults apply."""
    good = child(
        tmp_path,
        """
        jurisdictions:
          eu:
            enforcement: null
    """,
    )
    scenario = load_scenario(good)
    baseline = load_scenario("baseline")
    assert scenario.jurisdictions["eu"].enforcement == Enforcement()
    assert baseline.jurisdictions["eu"].enforcement != Enforcement()
    assert scenario.jurisdictions["us"] == baseline.jurisdictions["us"]


def test_null_in_child_removes_a_whole_jurisdiction(tmp_path: Path) -> None:
    """`haven: null` removes the jurisdiction; the others' shares are re-balanced by hand."""
    good = child(
        tmp_path,
        """
        jurisdictions:
          haven: null
          row: {requester_share: 0.30, hosting_share: 0.30}
    """,
    )
    assert set(load_scenario(good).jurisdictions) == {"eu", "us", "cn", "row"}


def test_an_unreleased_model_cannot_be_in_a_starting_model_mix(tmp_path):
    from sim import ScenarioError, load_scenario

    path = tmp_path / "unreleased.yaml"
    path.write_text("extends: baseline\nmodels:\n  abliterated:\n    available: false\n")
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    assert "jurisdictions.eu.model_mix.abliterated" in str(err.value)
    assert "not available at the start" in str(err.value)
