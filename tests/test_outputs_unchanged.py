"""Every table of every preset is unchanged: a fingerprint of each table (its columns,
types and values to 12 significant digits) for a few seeds of short runs, recorded in
tests/data/table_hashes.json. A change to any number must be deliberate: regenerate the
file with ``python tests/test_outputs_unchanged.py`` and say why in the commit."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pandas as pd
import pytest

import sim

HASHES = Path(__file__).parent / "data" / "table_hashes.json"
SEEDS = (1, 2)
#: Long enough for the presets' timeline events up to day 60 to fire.
STEPS = 62


def fingerprint(frame: pd.DataFrame) -> str:
    """SHA-256 of a table's column names, dtypes and values (floats to 12 digits)."""
    digest = hashlib.sha256()
    digest.update(repr([(c, str(t)) for c, t in frame.dtypes.items()]).encode())
    digest.update(frame.to_csv(index=False, float_format="%.12g").encode())
    return digest.hexdigest()


def preset_hashes(name: str) -> dict[str, str]:
    """Fingerprints of every table of ``name`` at each of :data:`SEEDS`."""
    out = {}
    for seed in SEEDS:
        results = sim.run(name, seed=seed, steps=STEPS)
        for table, frame in results.tables().items():
            out[f"seed{seed}/{table}"] = fingerprint(frame)
    return out


@pytest.mark.parametrize("preset", sim.list_presets())
def test_every_table_of_every_preset_is_unchanged(preset):
    recorded = json.loads(HASHES.read_text())
    assert preset in recorded, f"{preset}: no recorded hashes; regenerate {HASHES.name}"
    assert preset_hashes(preset) == recorded[preset]


if __name__ == "__main__":
    table = {name: preset_hashes(name) for name in sim.list_presets()}
    HASHES.write_text(json.dumps(table, indent=1, sort_keys=True) + "\n")
    sys.stdout.write(f"wrote {HASHES}\n")
