"""`spokesync serve` answers DICOMweb clients (issue 20): QIDO-RS searches match as C-FIND does,
WADO-RS sends each object as `spokesync retrieve --out` writes it, metadata without bulk data,
and every request must authenticate."""

from __future__ import annotations

import io
import os
import shutil
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from dicomweb_client.api import DICOMwebClient

import simulator as sim
from spokesync.tasks.config import read_document, write_document
from spokesync.tasks.spokes.multipart import split_related
from tests.integration.test_retrieve_storescp import cli, dataset_of, free_port
from tests.integration.test_serve_dimse import differences, studies
from tests.support.orthanc import PLUGIN, Orthanc
from tests.support.serve import fixed_hub, serve_command, spokesync_command, start

USER, PASSWORD, TOKEN = "viewer", "s3cret-pass", "token-0123456789"
ENV = {"HUB_WEB_USER": USER, "HUB_WEB_PASSWORD": PASSWORD, "HUB_WEB_TOKEN": TOKEN}


@dataclass
class Web:
    config: object
    drop: Path
    old: str
    new: str
    url: str
    log: Path
    work: Path

    def client(self) -> DICOMwebClient:
        session = requests.Session()
        session.auth = (USER, PASSWORD)
        return DICOMwebClient(url=self.url, session=session)

    def get(self, path: str, auth=(USER, PASSWORD), **kwargs) -> requests.Response:
        return requests.get(self.url + path, auth=auth, timeout=120, **kwargs)


@pytest.fixture(scope="module")
def web(archived, sample_drops, tmp_path_factory):
    """The fixed hub served over DICOMweb (and DIMSE) by `spokesync serve`, stopped by PID."""
    work = tmp_path_factory.mktemp("serve-web")
    config, drop, old, new = fixed_hub(archived, sample_drops["north"], work)
    port, web_port = free_port(), free_port()
    command = serve_command(config, {
        "port": port,
        "dicomweb": {"port": web_port, "username_env": "HUB_WEB_USER",
                     "password_env": "HUB_WEB_PASSWORD", "token_env": "HUB_WEB_TOKEN"},
    })  # fmt: skip
    server = start(command, work / "serve.log", web_port, timeout=180, env=ENV)
    url = f"http://127.0.0.1:{web_port}/dicom-web"
    yield Web(config, drop, old, new, url, work / "serve.log", work)
    os.kill(server.pid, signal.SIGTERM)
    server.wait(timeout=30)
    assert server.returncode == 143
    assert "spokesync serve: stopped (SIGTERM)" in (work / "serve.log").read_text()


def uids(answers: list[dict], tag: str) -> set[str]:
    return {a[tag]["Value"][0] for a in answers}


def test_study_search_by_patient_id_and_by_a_date_range_lists_what_the_spoke_holds(web):
    spoke = studies(web.drop)
    client = web.client()
    patient = spoke[web.new]["patient_id"]
    found = client.search_for_studies(search_filters={"PatientID": patient})
    assert uids(found, "0020000D") == {u for u, r in spoke.items() if r["patient_id"] == patient}
    dates = sorted({row["study_date"] for row in spoke.values()})
    low, high = dates[1], dates[-2]
    ranged = client.search_for_studies(search_filters={"StudyDate": f"{low}-{high}"})
    expected = {u for u, r in spoke.items() if low <= r["study_date"] <= high}
    assert uids(ranged, "0020000D") == expected and 0 < len(expected) < len(spoke)
    page = client.search_for_studies(search_filters={"StudyDate": f"{low}-{high}"}, limit=1)
    assert len(page) == 1
    fixed = client.search_for_studies(search_filters={"StudyInstanceUID": web.old})
    assert [a["0020000D"]["Value"][0] for a in fixed] == [web.new]
    assert fixed[0]["00081030"]["Value"] == ["CORRECTED"]


def test_series_and_instance_searches_list_the_current_study_by_its_old_uid_too(web):
    rows = [r for r in sim.manifest_of(web.drop).to_pylist() if r["study_instance_uid"] == web.new]
    client = web.client()
    series = client.search_for_series(web.new)
    assert uids(series, "0020000E") == {r["series_instance_uid"] for r in rows}
    assert uids(client.search_for_series(web.old), "0020000E") == uids(series, "0020000E")
    one = rows[0]["series_instance_uid"]
    instances = client.search_for_instances(web.new, one)
    assert uids(instances, "00080018") == {
        r["sop_instance_uid"] for r in rows if r["series_instance_uid"] == one
    }
    everywhere = web.get("/instances", params={"SOPInstanceUID": rows[0]["sop_instance_uid"]})
    assert uids(everywhere.json(), "0020000D") == {web.new}


def test_wado_of_a_study_by_its_old_uid_equals_retrieve_out_object_by_object(web):
    out = web.work / "retrieve-out"
    run = cli("retrieve", web.new, "--out", str(out), "--config", str(web.config.file))
    assert run.exit_code == 0, run.output
    expected = {p.stem: dataset_of(p) for p in out.rglob("*.dcm")}
    answer = web.get(f"/studies/{web.old}", headers={"Accept": "multipart/related; "
                                                     'type="application/dicom"'})  # fmt: skip
    assert answer.status_code == 200, answer.text
    arrived = _parts(answer)
    assert set(arrived) == set(expected) and expected
    assert differences(arrived, expected) == []
    assert f"old study UID {web.old} resolved to {web.new}" in web.log.read_text()
    decoded = web.client().retrieve_study(web.new)  # dicomweb-client reads the same body
    assert {ds.SOPInstanceUID for ds in decoded} == set(expected)


IMPLICIT, EXPLICIT, JPEG = "1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.4.50"


def wado_in(web: Web, study: str, syntax: str) -> requests.Response:
    """WADO-RS of a study, asking for its objects in one transfer syntax (or `*`)."""
    accept = f'multipart/related; type="application/dicom"; transfer-syntax={syntax}'
    return web.get(f"/studies/{study}", headers={"Accept": accept})


def test_wado_sends_the_transfer_syntax_asked_and_refuses_one_needing_transcoding(web):
    rows = sim.manifest_of(web.drop).to_pylist()
    study = next(r["study_instance_uid"] for r in rows if r["transfer_syntax_uid"] == IMPLICIT)
    stored = {r["sop_instance_uid"]: r["transfer_syntax_uid"] for r in rows
              if r["study_instance_uid"] == study}  # fmt: skip
    assert set(stored.values()) == {IMPLICIT, EXPLICIT}  # RT objects implicit, images explicit
    out = web.work / "retrieve-syntaxes"
    run = cli("retrieve", study, "--out", str(out), "--config", str(web.config.file))
    assert run.exit_code == 0, run.output
    expected = {p.stem: dataset_of(p) for p in out.rglob("*.dcm")}

    as_stored = wado_in(web, study, "*")
    assert as_stored.status_code == 200, as_stored.text
    arrived = _parts(as_stored)
    assert {sop: syntax for sop, (syntax, _) in arrived.items()} == stored
    assert differences(arrived, expected) == []

    explicit = wado_in(web, study, EXPLICIT)  # implicit VR re-encoded: no value changes
    assert explicit.status_code == 200, explicit.text
    arrived = _parts(explicit)
    assert {syntax for syntax, _ in arrived.values()} == {EXPLICIT} and set(arrived) == set(stored)
    assert explicit.content.count(f"transfer-syntax={EXPLICIT}\r\n".encode()) == len(stored)
    assert differences(arrived, expected, syntax_too=False) == []
    decoded = web.client().retrieve_study(study, media_types=(("application/dicom", EXPLICIT),))
    assert {ds.file_meta.TransferSyntaxUID for ds in decoded} == {EXPLICIT}

    for refused in (JPEG, IMPLICIT):  # JPEG would lose data; explicit to implicit is not made
        answer = wado_in(web, study, refused)
        assert answer.status_code == 406, answer.text
        assert f"transfer syntax {refused} without transcoding" in answer.text
        assert f"{EXPLICIT} (Explicit VR Little Endian)" in answer.text
        assert f"{IMPLICIT} (Implicit VR Little Endian)" in answer.text
    both = web.get(f"/studies/{study}", headers={"Accept": ", ".join(
        f'multipart/related; type="application/dicom"; transfer-syntax={s}'
        for s in (IMPLICIT, EXPLICIT))})  # fmt: skip
    assert both.status_code == 200 and _parts(both).keys() == stored.keys()
    assert {syntax for syntax, _ in _parts(both).values()} == set(stored.values())


def _parts(answer: requests.Response) -> dict:
    parts = split_related(answer.content, answer.headers["Content-Type"])
    return {ds.SOPInstanceUID: (syntax, ds) for syntax, ds in map(_read, parts)}


def test_metadata_has_the_corrected_headers_without_pixel_data(web):
    answer = web.get(f"/studies/{web.new}/metadata")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith(
        "application/dicom+json"
    )
    headers = answer.json()
    rows = sim.instances_of(sim.manifest_of(web.drop), web.new)
    assert len(headers) == len(rows) and all("7FE00010" not in h for h in headers)
    assert {h["00081030"]["Value"][0] for h in headers} == {"CORRECTED"}
    assert {h["0020000D"]["Value"][0] for h in headers} == {web.new}


def test_requests_without_credentials_or_for_unknown_studies_or_bad_keys_are_refused(web):
    assert web.get("/studies", auth=None).status_code == 401
    assert web.get("/studies", auth=(USER, "wrong")).status_code == 401
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    assert web.get("/studies", auth=None, headers=bearer).status_code == 200
    assert web.get("/studies/1.2.3.999999").status_code == 404
    assert web.get("/studies/1.2.3.999999/metadata").status_code == 404
    bad = web.get("/studies", params={"PatientBirthDate": "19xx0101"})
    assert bad.status_code == 400 and "PatientBirthDate" in bad.text and "19xx" not in bad.text
    assert web.get("/studies", params={"NoSuchKeyword": "1"}).status_code == 400
    assert "19xx" not in web.log.read_text()
    assert web.get("/studies").status_code == 200  # the server keeps serving


def _read(part: bytes):
    return dataset_of(io.BytesIO(part))


class _OrthancAskingTheHub(Orthanc):
    """An Orthanc with the hub registered under DicomWeb.Servers (basic auth)."""

    hub_url: str = ""

    def _configuration(self, storage: Path) -> dict:
        config = super()._configuration(storage)
        config["DicomWeb"]["Servers"] = {"hub": [self.hub_url + "/", USER, PASSWORD]}
        return config


def test_orthanc_dicomweb_client_finds_and_retrieves_a_study_equal_to_retrieve_out(web):
    if not shutil.which("Orthanc") or not PLUGIN.exists():
        pytest.skip("Orthanc with its DICOMweb plugin is missing")
    orthanc = _OrthancAskingTheHub(web.work / "orthanc")
    orthanc.hub_url = web.url
    orthanc.start()
    try:
        asked = {"Uri": "/studies", "Arguments": {"StudyInstanceUID": web.old}}
        found = orthanc.rest("POST", "/dicom-web/servers/hub/qido", json=asked)
        assert [a["0020000D"]["Value"] for a in found] in ([web.new], [[web.new]]), found
        orthanc.rest("POST", "/dicom-web/servers/hub/retrieve",
                     json={"Resources": [{"Study": web.new}], "Synchronous": True})  # fmt: skip
        landed = {sop: dataset_of(p) for sop, p in orthanc.files(web.work / "landed").items()}
    finally:
        orthanc.stop()
    out = web.work / "retrieve-orthanc"
    run = cli("retrieve", web.new, "--out", str(out), "--config", str(web.config.file))
    assert run.exit_code == 0, run.output
    expected = {p.stem: dataset_of(p) for p in out.rglob("*.dcm")}
    assert set(landed) == set(expected) and expected
    assert differences(landed, expected) == []


def test_serve_refuses_to_start_dicomweb_without_the_credentials_it_names(web):
    document = read_document(web.config.file)
    document["serve"]["port"], document["serve"]["dicomweb"]["port"] = free_port(), free_port()
    other = web.config.file.with_name("spokesync-no-credentials.toml")
    write_document(other, document)
    bare = {k: v for k, v in os.environ.items() if k not in ENV}
    command = [str(spokesync_command()), "serve", "--config", str(other)]
    run = subprocess.run(command, capture_output=True, text=True, env=bare, timeout=120)
    assert run.returncode == 2, run.stdout + run.stderr
    said = " ".join((run.stdout + run.stderr).split())
    assert "HUB_WEB_USER, HUB_WEB_PASSWORD" in said and "check [serve.dicomweb] in" in said
