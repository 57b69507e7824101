"""Orthanc as a spoke asks the hub over DIMSE (issue 20): the hub is one of Orthanc's
DicomModalities and Orthanc one of the hub's C-MOVE destinations. Through Orthanc's own REST
API: echo, a study-level query by Patient ID and by the study's old UID, and a C-MOVE into
Orthanc whose objects equal what `spokesync retrieve --out` writes, object by object."""

from __future__ import annotations

import os
import shutil
import signal
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.integration.test_retrieve_storescp import cli, dataset_of
from tests.integration.test_serve_dimse import differences, studies
from tests.support.orthanc import HUB_AET, ORTHANC_AET, PLUGIN, Orthanc
from tests.support.serve import fixed_hub, serve_command, start


@dataclass
class Asking:
    config: object
    drop: Path
    old: str  # the study UID the spoke replaced (an approved UID fix)
    new: str
    orthanc: Orthanc
    log: Path
    work: Path


@pytest.fixture(scope="module")
def asking(archived, sample_drops, tmp_path_factory):
    """The fixed hub served by `spokesync serve` (AE SPOKESYNC), Orthanc as its C-MOVE
    destination and caller; Orthanc has the hub under DicomModalities as `hub`. Both stopped
    by PID."""
    if not shutil.which("Orthanc") or not PLUGIN.exists():
        pytest.skip("Orthanc is missing (Debian packages orthanc, orthanc-dicomweb)")
    work = tmp_path_factory.mktemp("serve-orthanc")
    config, drop, old, new = fixed_hub(archived, sample_drops["north"], work)
    orthanc = Orthanc(work / "orthanc")  # its modality `hub` is HUB_AET at hub_storage_port
    command = serve_command(config, {
        "ae_title": HUB_AET,
        "port": orthanc.hub_storage_port,
        "destinations": {ORTHANC_AET: {"host": "127.0.0.1", "port": orthanc.dicom_port}},
    })  # fmt: skip
    server = start(command, work / "serve.log", orthanc.hub_storage_port, timeout=180)
    orthanc.start()
    yield Asking(config, drop, old, new, orthanc, work / "serve.log", work)
    orthanc.stop()
    os.kill(server.pid, signal.SIGTERM)
    server.wait(timeout=30)
    assert server.returncode == 143


def query(asking: Asking, keys: dict) -> tuple[str, list[dict]]:
    """Orthanc's C-FIND to the hub at study level: (query ID, answers as simplified tags)."""
    asked = {"Level": "Study", "Query": {"StudyDescription": "", "PatientName": ""} | keys}
    found = asking.orthanc.rest("POST", "/modalities/hub/query", json=asked)
    answers = asking.orthanc.rest(
        "GET", f"/queries/{found['ID']}/answers", params={"expand": "", "simplify": ""}
    )
    return found["ID"], answers


def test_orthanc_echoes_the_hub_and_an_echo_to_a_wrong_hub_ae_title_is_refused(asking):
    assert asking.orthanc.rest("POST", "/modalities/hub/echo", json={}) == {}
    assert "association from ORTHANC" in asking.log.read_text()
    wrong = {"AET": "WRONG", "Host": "127.0.0.1", "Port": asking.orthanc.hub_storage_port}
    asking.orthanc.rest("PUT", "/modalities/wrong", json=wrong)
    with pytest.raises(requests.HTTPError):  # the hub answers its own AE title only
        asking.orthanc.rest("POST", "/modalities/wrong/echo", json={})
    asking.orthanc.rest("DELETE", "/modalities/wrong")
    assert "is not the hub's (SPOKESYNC)" in asking.log.read_text()


def test_orthanc_finds_the_study_by_patient_id_and_by_its_old_uid_as_it_is_now(asking):
    spoke = studies(asking.drop)
    patient = spoke[asking.new]["patient_id"]
    _, by_patient = query(asking, {"PatientID": patient, "StudyInstanceUID": ""})
    expected = {u for u, row in spoke.items() if row["patient_id"] == patient}
    assert {a["StudyInstanceUID"] for a in by_patient} == expected and asking.new in expected
    _, [by_old] = query(asking, {"StudyInstanceUID": asking.old})
    assert by_old["StudyInstanceUID"] == asking.new
    assert by_old["StudyDescription"] == "CORRECTED"
    assert by_old["PatientID"] == patient
    assert f"old study UID {asking.old} resolved to {asking.new}" in asking.log.read_text()


def test_orthanc_retrieves_the_study_it_found_by_its_old_uid_equal_to_retrieve_out(asking):
    orthanc = asking.orthanc
    assert orthanc.rest("GET", "/studies") == []  # it holds nothing of its own yet
    found, _ = query(asking, {"StudyInstanceUID": asking.old})
    orthanc.rest("POST", f"/queries/{found}/answers/0/retrieve",
                 json={"TargetAet": ORTHANC_AET, "Synchronous": True})  # fmt: skip
    landed = {sop: dataset_of(p) for sop, p in orthanc.files(asking.work / "landed").items()}
    out = asking.work / "retrieve-out"
    run = cli("retrieve", asking.new, "--out", str(out), "--config", str(asking.config.file))
    assert run.exit_code == 0, run.output
    expected = {p.stem: dataset_of(p) for p in out.rglob("*.dcm")}
    assert set(landed) == set(expected) and len(expected) > 5
    assert differences(landed, expected) == []
    assert {ds.StudyInstanceUID for _, ds in landed.values()} == {asking.new}
    assert f"to {ORTHANC_AET} done: {len(expected)} objects handed over" in asking.log.read_text()


def test_a_move_of_a_malformed_or_unknown_study_sends_nothing_and_the_hub_keeps_serving(asking):
    orthanc = asking.orthanc
    before = set(orthanc.rest("GET", "/instances"))
    move = {"Level": "Study", "Resources": [{"StudyInstanceUID": "1.2.3.x"}],
            "TargetAet": ORTHANC_AET, "Synchronous": True}  # fmt: skip
    with pytest.raises(requests.HTTPError):
        orthanc.rest("POST", "/modalities/hub/move", json=move)
    assert "C-MOVE from ORTHANC refused (0xA900): StudyInstanceUID" in asking.log.read_text()
    unknown = move | {"Resources": [{"StudyInstanceUID": "1.2.3.4"}]}
    orthanc.rest("POST", "/modalities/hub/move", json=unknown)  # success: nothing matched
    assert "no current study for 1 requested UID(s): ['1.2.3.4']" in asking.log.read_text()
    assert set(orthanc.rest("GET", "/instances")) == before
    assert orthanc.rest("POST", "/modalities/hub/echo", json={}) == {}
