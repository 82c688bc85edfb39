"""What the explorer's controls do to a scenario or ask of a sweep, and how uploads are
read.

Pure functions on scenario mappings and sweep folders: the pages read widgets and call
these, so the behaviour is testable without Streamlit.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sim.analysis.query import first_match
from sim.engine.model import scenario_permissive
from sim.experiments.folder import SweepError, SweepFolder
from sim.scenario import (
    Scenario,
    ScenarioError,
    list_presets,
    parse_yaml,
    preset_path,
    validate,
)

__all__ = [
    "Controls",
    "MANIFEST_FIELDS",
    "MAX_NODES",
    "MAX_REQUESTER_DAYS",
    "MAX_UPLOAD_BYTES",
    "apply",
    "experiment_description",
    "find_folders",
    "pick",
    "read_upload",
    "run_key",
    "sweep_manifest",
    "sweep_roots",
    "work_limit_problem",
]

#: Largest scenario file the explorer accepts, bytes.
MAX_UPLOAD_BYTES = 200_000
#: Manifest fields the explorer shows.
MANIFEST_FIELDS = (
    "experiment_name",
    "design",
    "factors",
    "outcomes",
    "points",
    "replications",
    "runs",
)


@dataclass(frozen=True)
class Controls:
    """The levers the Run page exposes (``None``: leave the scenario's value)."""

    steps: int | None = None
    audit_multiplier: dict[str, float] = field(default_factory=dict)
    treaty_all: bool = False
    kyc_everywhere: bool = False
    protocol: str | None = None
    probe_rate: float | None = None
    permissive_share: float | None = None
    malicious_share: float | None = None
    malicious_vpn_use: float | None = None
    malicious_persistence: int | None = None


def read_upload(name: str, content: bytes) -> dict[str, Any]:
    """A scenario mapping from an uploaded file (safe YAML only), or ScenarioError.

    Raises:
        ScenarioError: too large, not UTF-8, or not a YAML mapping.
    """
    if len(content) > MAX_UPLOAD_BYTES:
        raise ScenarioError(
            name, "", f"expected a file of at most {MAX_UPLOAD_BYTES:,} bytes, got {len(content):,}"
        )
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        raise ScenarioError(name, "", "expected a UTF-8 text file") from None
    data = parse_yaml(text, source=name)
    parent = data.get("extends")
    if parent is not None and (
        not isinstance(parent, str)
        or preset_path(parent) is None
        or parent.endswith((".yaml", ".yml"))
    ):
        raise ScenarioError(
            name,
            "extends",
            f"expected a preset name ({', '.join(list_presets())})"
            f"; uploads cannot refer to files, got {parent!r}",
        )
    return data


def apply(data: dict[str, Any], controls: Controls) -> dict[str, Any]:
    """The scenario mapping with the controls applied (the input is not changed)."""
    out = copy.deepcopy(data)
    jurs = out["jurisdictions"]
    if controls.steps is not None:
        out["steps"] = controls.steps
        out["timeline"] = [e for e in out.get("timeline", []) if e["step"] < controls.steps]
    for name, factor in controls.audit_multiplier.items():
        enforcement = jurs[name].setdefault("enforcement", {})
        enforcement["audit_rate"] = min(1.0, enforcement.get("audit_rate", 0.0) * factor)
    if controls.treaty_all:
        out["treaties"] = [*out.get("treaties", []), list(jurs)]
    if controls.kyc_everywhere:
        for jur in jurs.values():
            jur.setdefault("enforcement", {})["kyc_mandate"] = True
    market = out.setdefault("market", {})
    if controls.protocol is not None:
        market["protocol"] = controls.protocol
    if controls.probe_rate is not None:
        market.setdefault("validators", {})["probe_rate"] = controls.probe_rate
    if controls.permissive_share is not None:
        _set_permissive_share(out, controls.permissive_share)
    kinds = out["requesters"]["kinds"]
    if controls.malicious_share is not None:
        others = 1.0 - kinds["malicious"]["share"]
        scale = (1.0 - controls.malicious_share) / others if others > 0 else 0.0
        for kind in ("benign", "dual_use"):
            kinds[kind]["share"] *= scale
        kinds["malicious"]["share"] = controls.malicious_share
    if controls.malicious_vpn_use is not None:
        kinds["malicious"]["vpn_use"] = controls.malicious_vpn_use
    if controls.malicious_persistence is not None:
        kinds["malicious"]["persistence"] = controls.malicious_persistence
    return out


def _set_permissive_share(data: dict[str, Any], share: float) -> None:
    """Rescale every jurisdiction's model mix so permissive kinds hold ``share`` (a mix
    without permissive, or without other, kinds keeps what it has)."""
    permissive = set(scenario_permissive(validate(data, source="<controls>")))
    for jur in data["jurisdictions"].values():
        mix = jur["model_mix"]
        perm = sum(v for k, v in mix.items() if k in permissive)
        rest = sum(v for k, v in mix.items() if k not in permissive)
        if perm == 0 or rest == 0:
            continue
        for k, v in mix.items():
            mix[k] = share * v / perm if k in permissive else (1 - share) * v / rest


#: Most requester-days (requesters × days) a run in the explorer may take; the
#: environment variable DIRISK_APP_MAX_REQUESTER_DAYS overrides it.
MAX_REQUESTER_DAYS = 50_000_000
#: Most nodes a run in the explorer may have (DIRISK_APP_MAX_NODES overrides it).
MAX_NODES = 100_000


def work_limit_problem(spec: Scenario) -> str:
    """Why the explorer will not run ``spec`` ("" if it will): a world above the limits
    would hold the server for minutes and gigabytes; run it with `dirisk run` instead."""
    max_days = int(os.environ.get("DIRISK_APP_MAX_REQUESTER_DAYS", MAX_REQUESTER_DAYS))
    max_nodes = int(os.environ.get("DIRISK_APP_MAX_NODES", MAX_NODES))
    work = spec.requesters.count * spec.steps
    if work > max_days:
        return (
            f"{spec.name} is too large for the explorer: {spec.requesters.count:,} requesters "
            f"× {spec.steps} days = {work:,} requester-days, above the limit of "
            f"{max_days:,}; shorten it or run it with `dirisk run`"
        )
    if spec.nodes.count > max_nodes:
        return (
            f"{spec.name} is too large for the explorer: {spec.nodes.count:,} nodes, above "
            f"the limit of {max_nodes:,}; run it with `dirisk run`"
        )
    return ""


def run_key(spec: Scenario, seed: int) -> str:
    """Cache key of a run: the scenario's content hash and the seed."""
    return hashlib.sha256(json.dumps([spec.content_hash(), seed]).encode()).hexdigest()[:16]


def sweep_roots() -> list[Path]:
    """The folders the explorer may open sweeps in: those listed in the environment
    variable DIRISK_APP_SWEEP_ROOTS (separated by the path separator), by default the
    current directory (which holds the project's sweeps/ folder)."""
    listed = os.environ.get("DIRISK_APP_SWEEP_ROOTS", "")
    roots = [Path(p) for p in listed.split(os.pathsep) if p] or [Path.cwd()]
    return [root.resolve() for root in roots]


def find_folders(base: str | Path, marker: str, what: str, command: str) -> list[Path]:
    """The folders holding ``marker`` at ``base`` and one level below it; ``base`` must
    lie inside one of :func:`sweep_roots`.

    Args:
        base: The folder the user typed.
        marker: The file that marks a folder of the kind sought (``manifest.json``).
        what: The kind, for messages (``sweep folder``).
        command: The command that makes one, for messages (``dirisk sweep``).

    Raises:
        SweepError: ``base`` is outside the roots (nothing is said about what is there),
            not a readable folder, or holds no such folder.
    """
    roots = sweep_roots()
    if not any(Path(base).resolve().is_relative_to(root) for root in roots):
        raise SweepError(
            f"{base}: outside the folders the explorer may open "
            f"({', '.join(str(r) for r in roots)}; DIRISK_APP_SWEEP_ROOTS sets them)"
        )
    base = Path(base)
    try:
        children = sorted(p for p in base.iterdir() if p.is_dir())
    except OSError as exc:
        raise SweepError(f"{base}: not a readable folder ({exc.strerror})") from None
    found = [p for p in (base, *children) if (p / marker).is_file()]
    if not found:
        raise SweepError(
            f"{base}: no {what} here or one level down (no {marker}); make one with {command}"
        )
    return found


def sweep_manifest(root: str | Path) -> dict[str, Any]:
    """A sweep folder's manifest, checked to hold :data:`MANIFEST_FIELDS`.

    Raises:
        SweepError: no or unreadable manifest.json, or not a dirisk sweep's.
    """
    manifest = SweepFolder(root).manifest()
    if not isinstance(manifest, dict):
        manifest = {}
    missing = [name for name in MANIFEST_FIELDS if name not in manifest]
    if missing:
        raise SweepError(
            f"{Path(root) / 'manifest.json'}: no {', '.join(missing)} (not a dirisk sweep's)"
        )
    return manifest


def experiment_description(root: str | Path) -> str:
    """The description in a sweep's experiment.yaml (safe YAML; '' if none or unreadable)."""
    path = Path(root) / "experiment.yaml"
    try:
        data = parse_yaml(path.read_text(encoding="utf-8"), source=str(path))
    except (OSError, UnicodeDecodeError, ScenarioError):
        return ""
    return str(data.get("description") or "")


def pick(options: list[str], *needles: str) -> int:
    """Index of the first option containing a needle, trying the needles in turn (0 if
    none matches): the default of a selectbox."""
    match = first_match(options, *needles)
    return 0 if match is None else options.index(match)
