"""Secrets (issue 9, part 5): a DICOMweb spoke's password, from the environment or a Prefect
Secret block, is sent to the PACS and appears nowhere else, even when the PACS refuses it."""

from __future__ import annotations

import base64
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from prefect.blocks.system import Secret
from typer.testing import CliRunner

from spokesync.flows.cli.main import app
from spokesync.tasks.config import init_config, set_spoke
from tests.support.privacy import captured_logs, server_texts

USER, PASSWORD = "hub-reader", "Pw-7f3a9c1e-not-for-logs"


class Refuses(BaseHTTPRequestHandler):
    """A PACS that answers every request with 401 and keeps the Authorization headers it got."""

    seen: list[str] = []

    def do_GET(self) -> None:  # noqa: N802  (http.server's name)
        Refuses.seen.append(self.headers.get("Authorization", ""))
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="pacs"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:  # the test reads the hub's output, not this server's
        pass


@pytest.fixture
def refusing_pacs():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Refuses)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Refuses.seen.clear()
    yield f"http://127.0.0.1:{server.server_address[1]}/dicom-web"
    server.shutdown()
    server.server_close()


def west_spoke(where: str, monkeypatch) -> dict:
    """spokes.west with its credentials in the environment or in a Prefect Secret block."""
    if where == "env":
        monkeypatch.setenv("WEST_USER", USER)
        monkeypatch.setenv("WEST_PASSWORD", PASSWORD)
        return {"username_env": "WEST_USER", "password_env": "WEST_PASSWORD"}
    Secret(value={"username": USER, "password": PASSWORD}).save("west-pacs", overwrite=True)
    return {"secret_block": "west-pacs"}


@pytest.mark.parametrize("where", ["env", "block"])
def test_a_refused_password_is_sent_to_the_pacs_and_shown_nowhere(
    refusing_pacs, tmp_path, capfd, monkeypatch, where
):
    file, since, cli = init_config(tmp_path / "hub"), datetime.now(UTC), CliRunner()
    body = {"source": "dicomweb", "url": refusing_pacs, "timeout_seconds": 5}
    set_spoke(file, "west", body | west_spoke(where, monkeypatch))
    with captured_logs() as logs:
        run = cli.invoke(app, ["reconcile", "west", "--config", str(file)], terminal_width=300)
    listed = cli.invoke(app, ["spoke", "list", "--config", str(file)], terminal_width=300)
    token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    out, err = capfd.readouterr()
    texts = [run.output, listed.output, out, err, *logs.lines, *server_texts(since)]
    files = [p.read_bytes() for p in (tmp_path / "hub").rglob("*") if p.is_file()]

    assert run.exit_code == 2 and "HTTP 401" in run.output, run.output
    assert Refuses.seen and set(Refuses.seen) == {f"Basic {token}"}  # it was read and sent
    assert "west" in listed.output and refusing_pacs in listed.output
    for secret in (PASSWORD, token):
        assert not [t for t in texts if secret in t], secret
        assert not [f for f in files if secret.encode() in f], secret


def test_a_password_written_into_a_spoke_url_is_refused_without_echoing_it(tmp_path):
    file = init_config(tmp_path / "hub")
    url = f"http://{USER}:{PASSWORD}@127.0.0.1:1/dicom-web"
    args = ["spoke", "add", "west", "--dicomweb", url, "--config", str(file)]
    run = CliRunner().invoke(app, args, terminal_width=300)
    assert run.exit_code == 2 and "user name or password in the url" in run.output, run.output
    assert PASSWORD not in run.output and PASSWORD not in file.read_text()
