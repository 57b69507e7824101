"""A spoke PACS that cannot be reached, refuses the hub, or stalls: SpokeUnavailable with the
cause, and the catalog exactly as it was."""

from __future__ import annotations

import shutil

import pytest
from typer.testing import CliRunner

from spokesync.catalog.errors import SpokeUnavailable
from spokesync.flows.cli.main import app
from spokesync.tasks.config import load_config, set_spoke
from spokesync.tasks.manifest.fingerprints import read_with_fingerprint
from spokesync.tasks.reconcile.run import run_spoke
from tests.support.detection import export
from tests.support.orthanc import Orthanc, Proxy, free_port
from tests.support.pacs import pacs_files, pacs_hub, spoke_body

pytestmark = pytest.mark.integration


@pytest.fixture
def web_hub(pacs_templates, orthanc, tmp_path):
    """A copy of the hub that archived north over DICOMweb; returns a re-pointing function."""
    folder = tmp_path / "hub"
    shutil.copytree(pacs_templates["dicomweb"], folder)

    def pointed(protocol: str = "dicomweb", **overrides):
        set_spoke(folder / "spokesync.toml", "north", spoke_body(orthanc, protocol, **overrides))
        return load_config(folder / "spokesync.toml")

    return pointed


def refused(config, match: str) -> SpokeUnavailable:
    before = export(config)
    with pytest.raises(SpokeUnavailable, match=match) as caught:
        run_spoke(config, "north")
    assert export(config) == before
    return caught.value


def test_a_pacs_that_is_down_is_named_and_pulled_again_once_it_is_back(
    sample_sources, pacs_credentials, tmp_path
):
    pacs = Orthanc(tmp_path / "pacs").start()
    try:
        pacs.upload(pacs_files(sample_sources["north"])[:5])
        config = pacs_hub(tmp_path / "hub", pacs, "dicomweb")
        assert run_spoke(config, "north")["new_instances"] == 5
        pacs.stop()  # waits for the process to exit: its folder and ports are free again

        error = refused(config, "cannot reach")

        pacs.start()  # the same storage folder and ports
        again = run_spoke(config, "north")
    finally:
        pacs.stop()
    assert pacs.dicomweb in str(error) and "connection refused" in str(error) and error.retryable
    assert (again["manifest_rows"], again["fetched"], again["cc_records"]) == (5, 0, 0)


def test_an_unreachable_dimse_spoke_names_its_node(web_hub):
    port = free_port()
    error = refused(web_hub("dimse", port=port, timeout_seconds=3), "association")
    assert f"ORTHANC@127.0.0.1:{port}" in str(error)


def test_a_wrong_password_is_refused_with_the_http_status(web_hub, monkeypatch):
    monkeypatch.setenv("NORTH_PACS_PASSWORD", "not-the-password")
    error = refused(web_hub(), "HTTP 401")
    assert "credentials" in str(error) and not error.retryable
    assert "not-the-password" not in str(error)


def test_an_unknown_calling_ae_title_is_rejected_by_the_pacs(web_hub):
    # Orthanc sends A-ASSOCIATE-RJ and closes the socket; on a loaded machine pynetdicom may
    # see the close before it reads the RJ PDU and reports the association as aborted.
    refused(web_hub("dimse", calling_aet="INTRUDER"), r"(rejected|aborted) \(calling AE INTRUDER\)")


def test_a_qido_page_that_times_out_stops_the_run(web_hub, orthanc_north):
    proxy = Proxy(orthanc_north.url, delay=4)
    try:
        config = web_hub(url=f"{proxy.url}/dicom-web", page_size=10, timeout_seconds=1)
        error = refused(config, "did not answer within 1 s")
    finally:
        proxy.stop()
    assert "offset 10" in str(error)


def test_a_wado_rs_answer_that_breaks_off_mid_window_stops_the_pull_and_leaves_no_drop(
    orthanc_north, tmp_path
):
    proxy = Proxy(orthanc_north.url, break_wado=3)  # while other requests of the window run
    try:
        config = pacs_hub(tmp_path / "hub", orthanc_north, "dicomweb",
                          url=f"{proxy.url}/dicom-web", fetch_workers=4)  # fmt: skip
        error = refused(config, "broke off")
        out, proxy.wado_requests = tmp_path / "pulled", 0  # the CLI's third request breaks too
        pulled = CliRunner().invoke(app, ["manifest", "pull", "north", "--out", str(out),
                                          "--config", str(config.file)])  # fmt: skip
    finally:
        proxy.stop()
    assert f"{proxy.url}/dicom-web/studies/" in str(error) and error.retryable
    assert pulled.exit_code != 0 and "broke off" in pulled.output
    assert not (out / "manifest.json").exists() and not (out / "manifest.parquet").exists()
    assert not [p.name for p in (out / "objects").iterdir() if p.suffix != ".dcm"]
    for path in (out / "objects").iterdir():  # every object kept arrived whole
        assert read_with_fingerprint(path)[1].SOPInstanceUID == path.stem
