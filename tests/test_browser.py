"""The explorer in a real browser (Debian's Chromium through Playwright).

Starts `streamlit run app.py` on a free local port, then: runs the classroom preset and
sees its charts, watches the run (Sankey), downloads the metrics CSV and checks it, and
uploads a broken scenario and sees the error; and opens a tiny sweep on the Explore
sweeps page and sees its heatmap and frontier. Screenshots of each page go to
test-artifacts/. Under CI (CI=true) a missing Chromium is a failure, not a skip.
"""

from __future__ import annotations

import io
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def require_chromium() -> None:
    if CHROMIUM.exists():
        return
    if os.environ.get("CI") == "true":
        pytest.fail("Chromium is required under CI: apt-get install -y chromium")
    pytest.skip(
        "Debian's Chromium (/usr/bin/chromium) is not installed; "
        "apt-get install -y chromium to run the browser tests"
    )


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Launch Debian's Chromium instead of a downloaded browser."""
    require_chromium()
    return {**browser_type_launch_args, "executable_path": str(CHROMIUM), "args": CHROMIUM_FLAGS}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The explorer served on 127.0.0.1; stopped afterwards."""
    require_chromium()
    port = free_port()
    log = tmp_path_factory.mktemp("streamlit") / "server.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "streamlit",
                "run",
                "app.py",
                "--server.headless",
                "true",
                "--server.port",
                str(port),
                "--server.address",
                "127.0.0.1",
                "--browser.gatherUsageStats",
                "false",
            ],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as reply:
                    if reply.status == 200:
                        break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"streamlit did not start:\n{log.read_text()}") from None
                time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_an_educator_runs_watches_exports_and_sees_a_bad_upload_rejected(server, page):
    page.set_default_timeout(60_000)
    page.goto(server)
    page.get_by_text("Run a scenario").wait_for()
    page.get_by_role("button", name="Run", exact=True).click()
    page.get_by_text("Harm completion rate").first.wait_for()
    charts = page.locator('[data-testid="stPlotlyChart"]')
    charts.nth(5).wait_for()  # they draw one by one
    assert charts.count() == 6
    shot(page, "run")

    page.get_by_role("link", name="Watch").click()
    page.get_by_text("requests served, from requester to serving jurisdiction").wait_for()
    page.locator(".js-plotly-plot .sankey").first.wait_for()
    shot(page, "watch")

    page.get_by_role("link", name="Export").click()
    page.get_by_text("Export the last run").wait_for()
    with page.expect_download() as download:
        page.get_by_role("button", name="metrics.csv").click()
    metrics = pd.read_csv(io.BytesIO(Path(download.value.path()).read_bytes()))
    assert len(metrics) == 60 and metrics["step"].tolist() == list(range(60))
    assert {"harm_completion_rate", "dual_use_over_refusal"} <= set(metrics.columns)
    assert (
        metrics["requests_emitted"]
        == metrics["requests_served"] + metrics["requests_refused"] + metrics["requests_dropped"]
    ).all()
    shot(page, "export")

    page.get_by_role("link", name="Learn").click()
    page.get_by_text("Glossary").wait_for()
    shot(page, "learn")

    page.get_by_role("link", name="Run").click()
    page.get_by_text("Upload a YAML file").click()
    page.locator('input[type="file"]').set_input_files(
        files=[{"name": "broken.yaml", "mimeType": "application/x-yaml", "buffer": b"steps: [\n"}]
    )
    error = page.locator('[data-testid="stAlertContentError"]')
    error.first.wait_for()
    assert "broken.yaml" in error.first.inner_text() and "invalid YAML" in error.first.inner_text()
    shot(page, "bad_upload")
    page.get_by_text("Preset", exact=True).click()
    page.get_by_role("button", name="Run", exact=True).wait_for()  # the app keeps working


def test_a_researcher_opens_a_sweep_and_sees_its_heatmap_and_frontier(server, sweep_dir, page):
    page.set_default_timeout(60_000)
    page.goto(server)
    page.get_by_role("link", name="Explore sweeps").click()
    folder = page.get_by_label("Folder of sweeps, or one sweep's folder")
    folder.fill(str(sweep_dir.parent))
    folder.press("Enter")
    page.get_by_text("Audits against filters, in a tiny world.").wait_for()
    page.locator(".js-plotly-plot .heatmaplayer .hm").first.wait_for()
    page.locator(".js-plotly-plot .scatterlayer .point").first.wait_for()
    charts = page.locator('[data-testid="stPlotlyChart"]')
    assert charts.count() == 2  # the heatmap and the frontier
    charts.first.scroll_into_view_if_needed()
    shot(page, "explore")
    charts.last.scroll_into_view_if_needed()
    shot(page, "explore_frontier")


def test_a_class_asks_why_harm_leaks_and_sees_the_waterfall(server, page, tmp_path):
    from playwright.sync_api import expect

    page.set_default_timeout(120_000)
    page.goto(server)
    page.get_by_role("link", name="Why it leaks").click()
    page.get_by_text("Explaining runs every combination").wait_for()
    for name, shown in (("Seeds", "on each of 2 seeds"), ("Days per run", "of 1 day.")):
        slider = page.get_by_role("slider", name=name)
        slider.focus()
        slider.press("Home")  # the smallest setting
        page.get_by_text(shown).wait_for()
    chips = page.locator('[data-testid="stMultiSelect"] button[aria-label^="Remove "]')
    while chips.count() > 2:  # keep two channels: 2^2 combinations x 2 seeds
        count = chips.count()
        chips.last.click()
        expect(chips).to_have_count(count - 1)
    page.get_by_text("8 simulations").wait_for()
    page.get_by_role("button", name="Explain").click()
    page.locator(".js-plotly-plot .waterfalllayer .point").first.wait_for()
    assert page.locator(".js-plotly-plot .waterfalllayer .point").count() == 4  # off, 2, on
    caption = page.get_by_text("With every channel on")
    caption.wait_for()
    assert "The biggest share comes from" in caption.inner_text()
    page.get_by_text("Channels that do not apply here").wait_for()
    page.locator('[data-testid="stPlotlyChart"]').first.scroll_into_view_if_needed()
    page.screenshot(path=str(tmp_path / "why.png"), full_page=True)
    assert (tmp_path / "why.png").stat().st_size > 0


def test_a_teacher_plays_a_run_and_the_slider_shows_the_day_drawn(server, page):
    page.set_default_timeout(60_000)
    page.goto(server)
    page.get_by_text("Run a scenario").wait_for()
    page.get_by_role("button", name="Run", exact=True).click()
    page.get_by_text("Harm completion rate").first.wait_for()
    page.get_by_role("link", name="Watch").click()
    page.get_by_text("requests served, from requester to serving jurisdiction").wait_for()
    page.locator(".js-plotly-plot .sankey").first.wait_for()
    page.locator(".js-plotly-plot .scatterlayer .point").first.wait_for()
    slider = page.locator('input[type="range"][aria-label="Day"]')
    captions = page.locator('[data-testid="stCaptionContainer"]')

    def shown() -> tuple[str | None, list[str], list[str], list[str]]:
        """The slider's day, the days the captions and headings name, the player's state."""
        return (
            slider.first.get_attribute("aria-valuetext"),
            re.findall(
                r"^Day (\d+): [\d,]+ requests served",
                "\n".join(captions.all_inner_texts()),
                re.MULTILINE,
            ),
            re.findall(r"Day (\d+): requests served, from requester", page.inner_text("body")),
            [t for t in captions.all_inner_texts() if t in ("Paused.",) or t.startswith("Playing")],
        )

    def settled(timeout: float = 90) -> int:
        """The day drawn once the page has settled (one slider, caption and heading that
        agree, the player paused), polling while frames land."""
        deadline = time.monotonic() + timeout
        while True:
            value, caption, heading, state = shown()
            if state == ["Paused."] and caption == heading == [value]:
                return int(value)
            assert time.monotonic() < deadline, (value, caption, heading, state)
            time.sleep(0.25)

    assert settled() == 1
    page.locator(".st-key-watch_play button").click()
    page.get_by_text("Playing, 4 days a second").wait_for()
    time.sleep(3)
    shot(page, "watch_playing")
    page.locator(".st-key-watch_pause button").click()
    day = settled()
    assert 3 < day < 60, day  # it played: 4 days a second for 3 s (as fast as drawn)
    # Frames replace each other: the two charts, not one per day played.
    page.wait_for_function("document.querySelectorAll('.js-plotly-plot').length === 2")

    # Hovering a node names its host and model kind.
    page.locator(".js-plotly-plot .scatterlayer .point").nth(5).hover(force=True)
    hover = page.locator(".hoverlayer .hovertext").first
    hover.wait_for()
    assert "host: " in hover.text_content() and "model kind: " in hover.text_content()
    shot(page, "watch_paused")

    # Playing on to the end takes seconds and stops on the last day, slider and all.
    started = time.monotonic()
    page.locator(".st-key-watch_play button").click()
    page.get_by_text("Playing, 4 days a second").wait_for()
    assert settled() == 60
    took = time.monotonic() - started
    assert took < 60, f"{60 - day} days took {took:.0f} s"
    page.get_by_text("day 40: Members take down").first.wait_for()
    shot(page, "watch_end")
