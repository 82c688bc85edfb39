"""Regression tests of the explorer in Chromium: what a class or a lab hit first (levers
that kept the previous preset's values, node counts that overlapped instead of stacking,
levers lost on another page, a SQL box that could write, a folder box that opened any
path). Fixtures and the Chromium rule come from tests/test_browser.py."""

from __future__ import annotations

import shutil

from playwright.sync_api import expect
from test_browser import browser_type_launch_args, server, shot  # noqa: F401


def select(page, label: str, option: str) -> None:
    """Choose ``option`` in the selectbox labelled ``label``."""
    page.get_by_role("combobox", name=label, exact=True).click()
    page.get_by_role("option", name=option, exact=True).click()


def test_a_preset_sets_every_lever_and_node_counts_stack(server, page):
    page.set_default_timeout(60_000)
    page.goto(server)
    page.get_by_text("Run a scenario").wait_for()
    protocol = page.get_by_role("combobox", name="Market protocol", exact=True)
    select(page, "Preset", "protocol_self_governance")
    expect(protocol).to_have_value("validators")  # the lever shows the preset's value
    select(page, "Preset", "classroom_demo")
    expect(protocol).to_have_value("open")
    page.get_by_role("button", name="Run", exact=True).click()
    charts = page.locator('[data-testid="stPlotlyChart"]')
    charts.nth(5).wait_for()
    stacked = page.evaluate(
        """() => [...document.querySelectorAll('.js-plotly-plot')]
            .filter(p => p.data && p.data.some(t => t.stackgroup))
            .map(p => [p.data.every(t => t.stackgroup === 'total'), p.layout.yaxis.range[1]])"""
    )
    assert stacked and all(every for every, _ in stacked)
    assert all(top >= 295 for _, top in stacked)  # the stack reaches all ~300 nodes
    shot(page, "run_stacked")


def test_levers_survive_a_visit_to_another_page(server, page):
    page.set_default_timeout(60_000)
    page.goto(server)
    page.get_by_text("Run a scenario").wait_for()
    page.get_by_text("Everyone signs an enforcement treaty").click()
    page.get_by_role("link", name="Learn").click()
    page.get_by_text("Glossary").wait_for()
    page.get_by_role("link", name="Run").click()
    box = page.get_by_role("checkbox", name="Everyone signs an enforcement treaty")
    box.wait_for(state="attached")
    assert box.is_checked()


def test_the_sql_box_cannot_write_and_the_folder_box_stays_in_its_roots(
    server, page, sweep_dir, tmp_path
):
    copy = tmp_path / "sweep"
    shutil.copytree(sweep_dir, copy)
    before = (copy / "manifest.json").read_bytes()
    page.set_default_timeout(60_000)
    page.goto(server)
    page.get_by_role("link", name="Explore sweeps").click()
    folder = page.get_by_label("Folder of sweeps, or one sweep's folder")
    folder.fill("/etc")
    folder.press("Enter")
    page.get_by_text("outside the folders the explorer may open").wait_for()
    folder.fill(str(copy))
    folder.press("Enter")
    page.get_by_text("Audits against filters, in a tiny world.").wait_for()
    sql = page.get_by_role("textbox", name="SQL", exact=True)
    sql.fill(f"COPY (SELECT 1 AS x) TO '{copy}/manifest.json'")
    page.get_by_role("button", name="Run the query").click()
    page.get_by_text("only SELECT queries").wait_for()
    assert (copy / "manifest.json").read_bytes() == before
    shot(page, "explore_sql_refused")


def test_a_researcher_opens_a_robustness_folder(server, page, tmp_path):
    from sim.analysis.robustness import robust

    out = tmp_path / "r"
    strict = {"extends": "classroom_demo", "name": "strict", "nodes": {"filter_recall": 0.99}}
    robust("classroom_demo", [("strict", strict)], out, futures=3, seeds=1, steps=5, workers=1)
    page.set_default_timeout(60_000)
    page.goto(server)
    page.get_by_role("link", name="Robustness").click()
    folder = page.get_by_label("Robustness folder")
    folder.fill(str(tmp_path))
    folder.press("Enter")
    page.get_by_text("Against classroom_demo, in 3 futures").wait_for()
    page.locator(".js-plotly-plot .boxlayer").first.wait_for()
    shot(page, "robustness")


def test_a_researcher_compares_two_presets_and_sees_the_difference(server, page):
    page.set_default_timeout(120_000)
    page.goto(server)
    page.get_by_role("link", name="Compare").click()
    page.get_by_text("Compare two scenarios").wait_for()
    select(page, "Scenario A", "classroom_demo")
    select(page, "Scenario B", "classroom_demo")
    page.get_by_role("button", name="Compare", exact=True).click()
    page.get_by_text("identical at n = 3").first.wait_for(state="attached")  # a grid cell
    page.locator('[data-testid="stPlotlyChart"]').first.wait_for()
    shot(page, "compare")


def test_a_researcher_opens_a_policy_search_and_downloads_a_policy(server, page, optimize_dir):
    page.set_default_timeout(60_000)
    page.goto(server)
    page.get_by_role("link", name="Policy search").click()
    folder = page.get_by_label("Optimisation folder")
    folder.fill(str(optimize_dir))
    folder.press("Enter")
    page.get_by_text("Pareto-optimal policies").first.wait_for()
    page.locator(".js-plotly-plot .parcoords .y-axis").first.wait_for()  # axes drawn
    axes = page.evaluate(
        """() => [...document.querySelectorAll('.js-plotly-plot')]
            .filter(p => p.data && p.data[0].type === 'parcoords')
            .map(p => p.data[0].dimensions.map(d => d.label))"""
    )
    assert axes and axes[0][:2] == ["audit_rate", "kyc_mandate"]
    page.get_by_text("stay non-dominated when run again").wait_for()
    with page.expect_download() as download:
        page.get_by_role("button", name="Download policy_0.yaml").click()
    assert download.value.suggested_filename == "policy_0.yaml"
    shot(page, "policy_search")
