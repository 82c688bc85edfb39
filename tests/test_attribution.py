"""Attribution of an outcome to channels of leakage, end to end: contributions add up to
the total effect on every seed, and a world built so that leakage is (VPN share) x
(permissive foreign capacity) splits it in two equal halves."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from sim.analysis.attribution import AttributionError, attribute, attribution_of
from sim.cli import app
from sim.experiments.attribution import attribution_experiment
from tests.conftest import tiny_scenario


def vpn_times_permissive(vpn_use: float = 0.5) -> dict:
    """Home prohibits harm, geo-blocks foreign nodes and hosts only aligned nodes that
    always refuse harm; abroad half the capacity is a permissive kind that never does.
    No retries, jailbreaks, filters, enforcement, KYC or learning: a harmful request is
    served only if its requester appears abroad (VPN) and reaches a permissive node."""
    data = tiny_scenario(persistence=0, jurisdictions=2, requesters=600, steps=3)
    data["models"] = {
        "aligned": {"refusal": {"chat": 0.0, "harm": 1.0}, "jailbreak_susceptibility": 0.0},
        "open": {"refusal": {"chat": 0.0, "harm": 0.0}, "jailbreak_susceptibility": 0.0},
    }
    home, abroad = data["jurisdictions"]["j0"], data["jurisdictions"]["j1"]
    home.update(
        requester_share=1.0,
        hosting_share=0.5,
        prohibited=["harm"],
        model_mix={"aligned": 1.0},
        enforcement={"geo_block_foreign": True},
    )
    abroad.update(requester_share=0.0, hosting_share=0.5, model_mix={"aligned": 0.5, "open": 0.5})
    for kind in data["requesters"]["kinds"].values():
        kind["vpn_use"] = vpn_use
    return data


@pytest.fixture(scope="module")
def product_world(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("attribution") / "product"
    attribute(vpn_times_permissive(), out, outcome_name="policy_leakage", seeds=3, workers=1)
    return out


def test_only_the_two_channels_of_the_product_apply(product_world):
    table = attribution_of(product_world).table.set_index("channel")
    assert set(table.index[table["applies"]]) == {"vpn", "permissive_models"}
    assert table.loc["retries", "reason"] == "nobody retries"
    assert table.loc["retries", "contribution"] != table.loc["retries", "contribution"]  # NaN


def test_each_factor_of_a_product_gets_exactly_half_on_every_seed(product_world):
    result = attribution_of(product_world)
    assert (result.totals["all_off"] == 0).all() and (result.totals["all_on"] > 0).all()
    per_seed = result.per_seed.pivot(index="seed", columns="channel", values="contribution")
    half = result.totals.set_index("seed")["all_on"] / 2
    pd.testing.assert_series_equal(per_seed["vpn"], half, check_names=False)
    pd.testing.assert_series_equal(per_seed["permissive_models"], half, check_names=False)
    (pair,) = result.interactions.itertuples(index=False)
    assert pair.interaction == pytest.approx(result.totals["all_on"].mean())


def test_contributions_add_up_to_all_on_minus_all_off_on_every_seed(tmp_path):
    data = tiny_scenario(persistence=2, refusal=0.4, jurisdictions=2, steps=3)
    for kind in data["requesters"]["kinds"].values():
        kind.update(vpn_use=0.3, jailbreak_attempt=0.2)
    data["models"]["m"]["jailbreak_susceptibility"] = 0.5
    result = attribute(data, tmp_path / "a", seeds=2, workers=1)
    sums = result.per_seed.groupby("seed")["contribution"].sum()
    totals = result.totals.set_index("seed")
    pd.testing.assert_series_equal(
        sums, totals["all_on"] - totals["all_off"], check_names=False, atol=1e-9
    )
    applying = result.table[result.table["applies"]]
    assert applying["share"].sum() == pytest.approx(1.0)
    assert (applying["low"] <= applying["contribution"]).all()


def test_an_attribution_needs_every_coalition(product_world, tmp_path):
    import shutil

    copy = tmp_path / "incomplete"
    shutil.copytree(product_world, copy)
    next((copy / "outcomes").glob("point=*/*.parquet")).unlink()
    with pytest.raises(AttributionError, match="1 of 12 runs are missing"):
        attribution_of(copy)


def test_too_few_seeds_or_no_applicable_channel_are_refused():
    with pytest.raises(ValueError, match="at least 2 seeds"):
        attribution_experiment(vpn_times_permissive(), seeds=1)
    with pytest.raises(ValueError, match="no channel applies"):
        attribution_experiment(vpn_times_permissive(), channels=["retries"])


def test_cli_attribute_writes_the_tables_and_prints_the_contributions(tmp_path):
    import yaml

    path = tmp_path / "world.yaml"
    path.write_text(yaml.safe_dump(vpn_times_permissive()))
    out = tmp_path / "why"
    args = [
        "attribute",
        str(path),
        "--outcome",
        "policy_leakage",
        "--seeds",
        "2",
        "--by",
        "jurisdiction",
    ]
    result = CliRunner().invoke(
        app, [*args, "--out", str(out), "--workers", "1"], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.output
    for name in ("attribution", "per_seed", "totals", "interactions"):
        assert (out / f"{name}.csv").is_file()
    assert "VPN evasion" in result.stdout and "nobody retries" in result.stdout
    assert "each jurisdiction's residents" in result.stdout
    report = CliRunner().invoke(app, ["report", str(out)])
    assert report.exit_code == 0, report.output
    assert (out / "report" / "waterfall.png").is_file()
    assert "waterfall.png" in (out / "report" / "report.html").read_text()


def test_by_jurisdiction_contributions_of_a_count_add_up_to_the_whole(tmp_path):
    """Harm completed is a sum over residents, and Shapley values are linear: each
    channel's contributions among the residents of each jurisdiction add up to its
    contribution over everyone, seed by seed."""
    data = tiny_scenario(persistence=2, refusal=0.4, jurisdictions=2, steps=3)
    for kind in data["requesters"]["kinds"].values():
        kind.update(vpn_use=0.3)
    result = attribute(data, tmp_path / "b", seeds=2, by_residence=True, workers=1)
    places = result.by_jurisdiction
    assert set(places["jurisdiction"]) == {"j0", "j1"}
    summed = places[places["applies"]].groupby("channel")["contribution"].sum()
    whole = result.table[result.table["applies"]].set_index("channel")["contribution"]
    pd.testing.assert_series_equal(summed.sort_index(), whole.sort_index(), check_names=False)
    assert (tmp_path / "b" / "attribution_by_jurisdiction.csv").is_file()


def test_precision_grows_the_folder_until_every_interval_is_narrow_enough(tmp_path):
    """A precision target adds seeds to the same folder (earlier runs kept) until every
    applicable channel's half-width is met or the cap is reached, and says which."""
    data = vpn_times_permissive()
    out = tmp_path / "p"
    loose = attribute(data, out, outcome_name="policy_leakage", seeds=3, precision=1.0, workers=1)
    assert loose.precision.reached and len(loose.totals) == 3
    first = sorted(p.name for p in (out / "outcomes").rglob("*.parquet"))
    tight = attribute(
        data, out, outcome_name="policy_leakage", seeds=3, precision=1e-9, max_seeds=5, workers=1
    )
    assert not tight.precision.reached and len(tight.totals) == 5
    assert set(first) <= {p.name for p in (out / "outcomes").rglob("*.parquet")}
    assert "not reached" in tight.precision.describe()
