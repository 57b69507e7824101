"""The HTML report opens in headless Chromium with no network and shows every chart.

Needs Debian's `chromium` (CI installs it); skipped only when it is missing.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import Counter
from html.parser import HTMLParser

import pytest
from PIL import Image
from typer.testing import CliRunner

from simulator.samples import PATIENTS
from spokesync.catalog import open_catalog
from spokesync.catalog.changes import list_changes
from spokesync.catalog.review import open_reviews
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


class Sections(HTMLParser):
    """The page's h2 headings in order, and each table as its header row and its text rows."""

    def __init__(self) -> None:
        super().__init__()
        self.headings: list[str] = []
        self.tables: dict[str, list[list[str]]] = {}
        self._text: list[str] | None = None
        self._row: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag in ("h2", "th", "td"):
            self._text = []
        elif tag == "tr":
            self._row = []

    def handle_data(self, data):
        if self._text is not None:
            self._text.append(data)

    def handle_endtag(self, tag):
        if tag == "h2":
            self.headings.append("".join(self._text))
        elif tag in ("th", "td") and self._row is not None:
            self._row.append("".join(self._text))
        elif tag == "tr" and self.headings:
            self.tables.setdefault(self.headings[-1], []).append(self._row)
        if tag in ("h2", "th", "td"):
            self._text = None


def parsed(page) -> Sections:
    sections = Sections()
    sections.feed(page.read_text("utf-8"))
    return sections


def as_dicts(rows: list[list[str]]) -> list[dict[str, str]]:
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


def test_html_report_opens_with_each_spokes_last_run_its_records_and_open_reviews(
    page,
    report_scenario,  # noqa: F811
):
    sections = parsed(page)
    assert sections.headings[:2] == ["Last night", "Last night's changes"]
    text = page.read_text("utf-8")
    assert text.index("id='last-night'") < text.index('id="chart-')
    last = {run.split("-")[0]: run for run in report_scenario.runs}  # each spoke's last run
    with open_catalog(report_scenario.config.catalog) as con:
        records = list_changes(con)
        pending = Counter(r["spoke"] for r in open_reviews(con))
    summary = {row["Spoke"]: row for row in as_dicts(sections.tables["Last night"])}
    assert set(summary) == set(last) == {"north", "south"}
    for spoke, row in summary.items():
        kinds = Counter(r["kind"] for r in records if r["run_id"] == last[spoke])
        assert row["Last run"] == last[spoke]
        assert row["Status"] == "committed"
        assert sorted(row["Records by kind"].replace("\xa0", " ").split(", ")) == sorted(
            f"{k} {n}" for k, n in kinds.items()
        )
        assert int(row["Pending reviews"]) == pending[spoke]
    assert sum(pending.values()) > 0  # night 2 leaves a UID fix and an ambiguous pairing open
    changes = as_dicts(sections.tables["Last night's changes"])
    expected = [r["seq"] for r in records if r["run_id"] in last.values()]
    assert [int(row["Record"]) for row in changes] == expected


def test_html_report_tables_have_human_headers_and_byte_sizes(page):
    sections = parsed(page)
    for rows in sections.tables.values():
        assert not any("_" in name for name in rows[0]), rows[0]  # no raw column names
    runs = as_dicts(sections.tables["Runs"])
    assert runs and all(re.fullmatch(r"[\d,.]+ (bytes|KiB|MiB|GiB)", r["Archived"]) for r in runs)
    assert any(r["Archived"].endswith("MiB") for r in runs)  # a first night archives megabytes


def test_html_report_renders_every_chart_in_headless_chromium(page, tmp_path):
    rendered = chromium(tmp_path, "--enable-logging=stderr", "--dump-dom", page.as_uri())
    assert not re.search(r"Uncaught|SyntaxError|TypeError|ReferenceError", rendered.stderr)
    dom = rendered.stdout
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
