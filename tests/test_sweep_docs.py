"""docs/SWEEPS.md cannot drift from the code: every experiment-file field is described,
every `dirisk` command it shows exists, and every example experiment it names is shipped."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel

from sim.cli import app
from sim.experiments.experiment import Experiment

ROOT = Path(__file__).resolve().parents[1]
TEXT = (ROOT / "docs" / "SWEEPS.md").read_text(encoding="utf-8")


def fields(model: type[BaseModel]) -> set[str]:
    """Every field name of the experiment schema, nested blocks included."""
    names = set()
    for name, info in model.model_fields.items():
        names.add(name)
        for kind in (info.annotation, *getattr(info.annotation, "__args__", ())):
            inner = getattr(kind, "__args__", (kind,))
            for k in (kind, *inner):
                if isinstance(k, type) and issubclass(k, BaseModel):
                    names |= fields(k)
    return names


def test_every_experiment_field_is_described() -> None:
    missing = sorted(f for f in fields(Experiment) if not re.search(rf"\b{f}\b", TEXT))
    assert not missing, f"docs/SWEEPS.md does not mention {missing}"


def test_every_dirisk_command_shown_exists() -> None:
    known = {c.name or c.callback.__name__ for c in app.registered_commands}
    code = "\n".join(re.findall(r"```[a-z]*\n(.*?)```", TEXT, re.DOTALL))
    code += "\n" + "\n".join(re.findall(r"`([^`\n]+)`", TEXT))
    shown = set(re.findall(r"^\s*dirisk ([a-z]+)", code, re.MULTILINE))
    assert shown and shown <= known, shown - known


def test_every_experiment_file_named_is_shipped() -> None:
    for name in set(re.findall(r"experiments/([a-z_]+\.yaml)", TEXT)):
        assert (ROOT / "experiments" / name).is_file(), name
