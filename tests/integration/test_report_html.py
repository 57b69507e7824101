"""The HTML report opens in headless Chromium with no network and shows every chart.

Needs Debian's `chromium` (CI installs it); skipped only when it is missing.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from PIL import Image
from typer.testing import CliRunner

from simulator.samples import PATIENTS
from spokesync.flows.cli.main import app
from spokesync.tasks.reports.html import CHART_TITLES
from tests.support.report import report_scenario  # noqa: F401  (session fixture)

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian package chromium is missing")
MIN_COLOURS = 64


def chromium(tmp_path, *args: str) -> subprocess.CompletedProcess:
    """Headless Chromium, sandbox-free for root, with every way to the network closed."""
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-dev-shm-usage",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
        "--proxy-server=127.0.0.1:9",  # a closed port: any network request fails at once
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--window-size=1280,4200",
        "--virtual-time-budget=15000",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=180, check=True)


@pytest.fixture(scope="module")
def page(report_scenario, tmp_path_factory):  # noqa: F811
    out = tmp_path_factory.mktemp("html") / "report.html"
    config = report_scenario.config
    result = CliRunner().invoke(
        app, ["report", "html", "--out", str(out), "--config", str(config.file)]
    )
    assert result.exit_code == 0, result.stdout
    return out


def test_html_report_is_one_file_with_no_network_assets_and_no_patient_values(page):
    text = page.read_text("utf-8")
    assert not re.search(r"<script[^>]+\bsrc=", text)
    assert not re.search(r"<link[^>]+\bhref=", text)
    assert "Plotly.newPlot" in text
    for patient in (p for spoke in PATIENTS.values() for p in spoke):
        assert patient.name not in text and patient.birth_date not in text


def test_html_report_renders_every_chart_in_headless_chromium(page, tmp_path):
    dom = chromium(tmp_path, "--dump-dom", page.as_uri()).stdout
    starts = {name: dom.find(f'id="chart-{name}"') for name in CHART_TITLES}
    assert all(at >= 0 for at in starts.values()), starts
    bounds = sorted(starts.values()) + [len(dom)]
    for name, at in starts.items():
        chart = dom[at : bounds[bounds.index(at) + 1]]
        assert "js-plotly-plot" in dom[at - 200 : at + 200], name  # Plotly drew into the div
        assert chart.count('class="main-svg"') >= 2, name
        assert re.search(r'class="(trace|point)', chart), f"{name} has no data marks"
        assert "nothing to show yet" not in chart, name
    for title in CHART_TITLES.values():
        assert title in dom


def test_html_report_screenshot_is_not_blank(page, tmp_path):
    shot = tmp_path / "report.png"
    chromium(tmp_path, f"--screenshot={shot}", page.as_uri())
    image = Image.open(shot).convert("RGB")
    colours = image.getcolors(maxcolors=1 << 24)
    assert len(colours) > MIN_COLOURS
    most, _ = max(colours)
    assert most < 0.97 * image.width * image.height  # not one flat background
