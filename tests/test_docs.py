"""The model description (docs/ODD.md) and the calibration notes (docs/CALIBRATION.md)
cannot drift from the code: every scenario parameter is described, every code reference
resolves, every baseline jurisdiction and model kind is calibrated."""

from __future__ import annotations

import importlib
import re
import types
import typing
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

import sim
import sim.scenario
from sim.scenario import Scenario

ROOT = Path(__file__).resolve().parents[1]
ODD = ROOT / "docs" / "ODD.md"
CALIBRATION = ROOT / "docs" / "CALIBRATION.md"
BASELINE = ROOT / "scenarios" / "baseline.yaml"

#: Fenced code blocks and inline code spans of a markdown file.
_FENCED = re.compile(r"^[ \t]*```[^\n]*\n(.*?)^[ \t]*```", re.MULTILINE | re.DOTALL)
_INLINE = re.compile(r"`((?:[^`\n]|\n(?![ \t]*\n))+)`")  # may wrap, not across paragraphs
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: A dotted reference into the package, such as ``sim.engine.kernels.routing.RoutingTable.route``.
_SIM_REFERENCE = re.compile(r"(?<![\w.])sim(?:\.[A-Za-z_][A-Za-z0-9_]*)+")


def code_spans(text: str) -> list[str]:
    """The contents of every fenced block and inline code span of markdown ``text``."""
    fenced = _FENCED.findall(text)
    prose = _FENCED.sub("", text)
    return fenced + _INLINE.findall(prose)


def code_identifiers(text: str) -> set[str]:
    """Every identifier (word) inside the code of markdown ``text``: ``a.b_c`` gives
    ``a`` and ``b_c``."""
    return {word for span in code_spans(text) for word in _IDENTIFIER.findall(span)}


# --------------------------------------------------------------------------- schema


def _annotation_models(annotation: Any, path: str = "") -> Iterator[tuple[type[BaseModel], str]]:
    """Pydantic models inside a type annotation, with the path they sit at, through
    Annotated, unions (``X | Y``, Optional), mapping values (``*``), list, tuple and set
    items (``[]``) and other generic arguments."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation, path
        return
    origin = typing.get_origin(annotation)
    if origin is None or origin is typing.Literal:
        return
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        args = args[:1]  # the type; the rest is metadata
    elif isinstance(origin, type) and issubclass(origin, Mapping):
        args, path = args[1:], f"{path}.*"  # values only: keys are names, not parameters
    elif isinstance(origin, type) and issubclass(origin, list | tuple | set | frozenset):
        path = f"{path}[]"
    for arg in args:
        yield from _annotation_models(arg, path)


def schema_fields(
    root: type[BaseModel] = Scenario,
) -> tuple[dict[str, list[str]], set[type[BaseModel]]]:
    """Every field of the scenario schema, walked from ``root``.

    Returns:
        Field name -> the dotted paths where it occurs (``*`` for a mapping key, ``[]``
        for a list item), and the set of schema classes visited.
    """
    fields: dict[str, list[str]] = {}
    visited: set[type[BaseModel]] = set()

    def walk(model: type[BaseModel], prefix: str) -> None:
        if model in visited:
            return
        visited.add(model)
        for name, info in model.model_fields.items():
            path = f"{prefix}.{name}" if prefix else name
            fields.setdefault(name, []).append(path)
            for child, child_path in _annotation_models(info.annotation, path):
                walk(child, child_path)

    walk(root, "")
    return fields, visited


def test_schema_walk_reaches_every_schema_class():
    """The walk must not silently skip a block: every public pydantic model defined in
    sim/scenario.py is reachable from Scenario (through dicts, lists and unions); bases
    such as ``_Event`` and ``StrictModel`` are reached through their subclasses."""
    _, visited = schema_fields()
    defined = {
        obj
        for obj in vars(sim.scenario).values()
        if isinstance(obj, type)
        and issubclass(obj, BaseModel)
        and obj.__module__ == sim.scenario.__name__
        and not obj.__name__.startswith("_")
        and obj not in (sim.scenario.StrictModel, sim.scenario.Document)
    }
    missing = sorted(cls.__name__ for cls in defined - visited)
    assert not missing, f"schema classes not reached from Scenario: {missing}"


def test_every_scenario_parameter_is_described_in_the_odd():
    """Each field name of the scenario schema appears in the code (backticks or code
    blocks) of docs/ODD.md, e.g. as part of a dotted path like
    `market.validators.probe_rate`."""
    described = code_identifiers(ODD.read_text(encoding="utf-8"))
    fields, _ = schema_fields()
    missing = {name: paths for name, paths in fields.items() if name not in described}
    assert not missing, (
        f"{len(missing)} scenario parameter(s) of sim/scenario.py are not described in "
        "docs/ODD.md (name them in backticks, e.g. as a dotted path, in the section of "
        "the submodel that uses them):\n"
        + "\n".join(f"  {name}: {', '.join(paths)}" for name, paths in sorted(missing.items()))
    )


# --------------------------------------------------------------------------- references


def resolve(reference: str) -> object:
    """The object a dotted reference names: the longest importable module prefix, then
    attributes.

    Raises:
        AttributeError or ImportError: the reference does not resolve.
    """
    parts = reference.split(".")
    module, depth = None, 0
    for n in range(len(parts), 0, -1):
        try:
            module = importlib.import_module(".".join(parts[:n]))
        except ModuleNotFoundError:
            continue
        depth = n
        break
    if module is None:
        raise ImportError(f"no module {parts[0]!r}")
    obj: object = module
    for name in parts[depth:]:
        obj = getattr(obj, name)
    return obj


def odd_references() -> list[str]:
    """Every ``sim.xxx.yyy`` reference in the code spans of docs/ODD.md, in order."""
    seen: dict[str, None] = {}
    for span in code_spans(ODD.read_text(encoding="utf-8")):
        for ref in _SIM_REFERENCE.findall(span):
            seen.setdefault(ref, None)
    return list(seen)


def test_odd_names_the_code_of_its_submodels():
    """The ODD cites code at all (so the resolution test below is not vacuous)."""
    refs = odd_references()
    assert len(refs) >= 40, f"expected the ODD to cite its code, found only {refs}"


@pytest.mark.parametrize("reference", odd_references())
def test_every_code_reference_in_the_odd_resolves(reference: str):
    """`sim.xxx.yyy` in docs/ODD.md names a module, class, function or attribute that
    exists, so the submodel references cannot go stale."""
    try:
        resolve(reference)
    except (ImportError, AttributeError) as exc:
        pytest.fail(
            f"docs/ODD.md cites `{reference}`, which does not exist in the code "
            f"({type(exc).__name__}: {exc})"
        )


def test_resolve_rejects_a_stale_reference():
    assert (
        resolve("sim.engine.kernels.routing.RoutingTable.route")
        is sim.engine.kernels.routing.RoutingTable.route
    )
    assert resolve("sim.run") is sim.run
    with pytest.raises(AttributeError):
        resolve("sim.engine.kernels.routing.RoutingTable.no_such_method")
    with pytest.raises(AttributeError):
        resolve("sim.no_such_module.thing")


# --------------------------------------------------------------------------- calibration


def test_calibration_covers_every_baseline_jurisdiction_and_model_kind():
    """docs/CALIBRATION.md names the parameters of every jurisdiction and model kind of
    the baseline by their dotted paths (`jurisdictions.<name>...`, `models.<name>...`)."""
    assert CALIBRATION.is_file(), "docs/CALIBRATION.md is missing"
    code = "\n".join(code_spans(CALIBRATION.read_text(encoding="utf-8")))
    baseline = sim.load_scenario(BASELINE)
    wanted = [f"jurisdictions.{name}" for name in baseline.jurisdictions]
    wanted += [f"models.{name}" for name in baseline.models]
    missing = [
        path for path in wanted if not re.search(rf"(?<![\w.]){re.escape(path)}(?![\w])", code)
    ]
    assert not missing, (
        "docs/CALIBRATION.md does not calibrate these parts of scenarios/baseline.yaml "
        f"(list their parameters in backticks, e.g. `jurisdictions.eu.enforcement."
        f"audit_rate`): {missing}"
    )


def test_code_identifiers_reads_inline_spans_and_fenced_blocks_only():
    text = "prose audit_rate\n`market.validators.probe_rate`\n```\nx = penalty\n```\n"
    words = code_identifiers(text)
    assert {"market", "validators", "probe_rate", "x", "penalty"} <= words
    assert "audit_rate" not in words and "prose" not in words


def test_annotation_walk_descends_into_containers_and_unions():
    class Leaf(BaseModel):
        a: int

    class Other(BaseModel):
        b: int

    annotation = dict[str, list[typing.Annotated[Leaf | Other | None, "meta"]]]
    assert set(_annotation_models(annotation, "x")) == {(Leaf, "x.*[]"), (Other, "x.*[]")}
    assert list(_annotation_models(types.NoneType | int)) == []
