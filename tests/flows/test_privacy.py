"""Privacy (issue 9, part 5): the demo leaves no patient name, birth date or patient ID in its
logs, its console output, its Prefect logs and artifacts or the shareable HTML report."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from rich.console import Console

from spokesync.flows.demo import run_demo
from spokesync.tasks.config import load_config
from spokesync.tasks.reports.html import write_html
from tests.support.privacy import captured_logs, demographics, leaks, server_texts


def test_the_demo_writes_no_patient_demographics_anywhere_a_person_reads(tmp_path, capfd):
    data_dir, output, since = tmp_path / "demo", io.StringIO(), datetime.now(UTC)
    with captured_logs() as logs:
        assert run_demo(Console(file=output, width=200), data_dir)
    html = write_html(load_config(data_dir / "spokesync.toml").reports, tmp_path / "report.html")
    out, err = capfd.readouterr()
    private = demographics([data_dir / "drops"])
    server = server_texts(since)
    texts = [*logs.lines, *server, output.getvalue(), out, err, html.read_text()]

    assert len(private) > 40 and len(logs.lines) > 100 and "night 2" in output.getvalue()
    assert sum(t.startswith("reconcile-north-summary") for t in server) >= 2  # artifacts read
    assert leaks(texts, private) == []
