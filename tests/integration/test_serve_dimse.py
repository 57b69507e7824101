"""`spokesync serve` answers real DCMTK clients (issue 20): echoscu, findscu, getscu, and movescu
into storescp, and a pynetdicom C-FIND SCU that negotiates combined date-time matching. What
leaves equals `spokesync retrieve --out`, object by object; bad requests get a clear status and
the server keeps serving."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pydicom
import pytest
from pydicom.dataset import Dataset
from pynetdicom import AE
from pynetdicom.pdu_primitives import SOPClassExtendedNegotiation
from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelFind

import simulator as sim
from spokesync.catalog import open_catalog
from tests.integration.test_retrieve_storescp import cli, dataset_of, free_port
from tests.support.builders import system_tool
from tests.support.serve import fixed_hub, serve_command, start

HUB = "HUB"
CALLERS = ["ECHOSCU", "FINDSCU", "GETSCU", "MOVESCU", "PYNETSCU"]


@dataclass
class Served:
    config: object
    drop: Path  # what the spoke holds now
    old: str  # a study UID the spoke replaced (an approved UID fix)
    new: str
    port: int
    log: Path
    moved: Path  # where storescp, the C-MOVE destination, writes
    work: Path


@pytest.fixture(scope="module")
def served(archived, sample_drops, tmp_path_factory):
    """North after a UID fix (approved) and a patient-name correction, served by `spokesync
    serve` in a subprocess, with a DCMTK storescp as C-MOVE destination; both stopped by PID."""
    for tool in ("storescp", "findscu", "getscu", "movescu", "echoscu"):
        if not system_tool(tool):
            pytest.skip(f"{tool} is missing (Debian package dcmtk)")
    work = tmp_path_factory.mktemp("serve")
    config, drop, old, new = fixed_hub(archived, sample_drops["north"], work)
    moved, port, store_port = work / "moved", free_port(), free_port()
    moved.mkdir()
    command = serve_command(config, {
        "ae_title": HUB,
        "port": port,
        "calling_aets": CALLERS,
        "destinations": {"STORESCP": {"host": "127.0.0.1", "port": store_port}},
    })  # fmt: skip
    store = start(
        [
            system_tool("storescp"),
            "--aetitle",
            "STORESCP",
            "--output-directory",
            str(moved),
            str(store_port),
        ],
        work / "storescp.log",
        store_port,
    )
    server = start(
        command,
        work / "serve.log",
        port,
        timeout=180,
    )
    yield Served(config, drop, old, new, port, work / "serve.log", moved, work)
    for proc in (server, store):
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    assert server.returncode == 143  # 128 + SIGTERM, as every spokesync command stops
    assert "spokesync serve: stopped (SIGTERM)" in (work / "serve.log").read_text()


def dcmtk(served: Served, tool: str, *args: str, aet: str | None = None):
    """Run a DCMTK client against the hub; its exit code and output."""
    calling = aet or {"findscu": "FINDSCU", "getscu": "GETSCU", "movescu": "MOVESCU"}.get(
        tool, "ECHOSCU"
    )
    command = [
        system_tool(tool),
        "-aet",
        calling,
        "-aec",
        HUB,
        *args,
        "127.0.0.1",
        str(served.port),
    ]
    run = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    return run.returncode, run.stdout + run.stderr


def find(served: Served, folder: str, *keys: str, root: str = "-S") -> list[pydicom.Dataset]:
    """C-FIND with findscu, every answer extracted to a file and read back."""
    out = served.work / folder
    out.mkdir()
    code, said = dcmtk(
        served, "findscu", root, "-X", "-od", str(out), *[a for k in keys for a in ("-k", k)]
    )
    assert code == 0, said
    return [pydicom.dcmread(p) for p in sorted(out.glob("rsp*.dcm"))]


def studies(drop: Path) -> dict[str, dict]:
    """{study UID: its first manifest row}: the values the spoke holds now."""
    found: dict[str, dict] = {}
    for row in sim.manifest_of(drop).to_pylist():
        found.setdefault(row["study_instance_uid"], row)
    return found


def retrieved(served: Served, study: str, folder: str) -> dict:
    """{SOP UID: (syntax, dataset)} of `spokesync retrieve --out` for the study."""
    out = served.work / folder
    run = cli("retrieve", study, "--out", str(out), "--config", str(served.config.file))
    assert run.exit_code == 0, run.output
    return {p.stem: dataset_of(p) for p in out.rglob("*.dcm")}


def received(files) -> dict:
    return {ds.SOPInstanceUID: (syntax, ds) for syntax, ds in map(dataset_of, files)}


def differences(arrived: dict, expected: dict, *, syntax_too: bool = True) -> list[str]:
    """Per differing object, its transfer syntaxes or the keywords whose values differ."""
    said = []
    for sop, (syntax, ds) in expected.items():
        got_syntax, got = arrived[sop]
        if syntax_too and got_syntax != syntax:
            said.append(f"{sop}: transfer syntax {got_syntax} instead of {syntax}")
        tags = {e.tag for e in ds} | {e.tag for e in got}
        wrong = [
            ds[t].keyword or str(t)
            for t in sorted(tags)
            if t not in ds or t not in got or ds[t] != got[t]
        ]
        if wrong:
            said.append(f"{sop}: {wrong}")
    return said


def test_the_server_reads_its_catalog_once_before_any_caller_asks(served):
    deadline = time.monotonic() + 30  # the warm-up runs beside the listening server
    while "serve: catalog readers ready in" not in served.log.read_text():
        assert time.monotonic() < deadline, served.log.read_text()[-2000:]
        time.sleep(0.2)
    assert "no current study" not in served.log.read_text()  # its probe matches nothing


def test_echo_answers_and_an_unknown_calling_ae_is_rejected_with_a_log_line(served):
    assert dcmtk(served, "echoscu")[0] == 0
    code, said = dcmtk(served, "echoscu", aet="STRANGER")
    assert code != 0 and "Calling AE Title Not Recognized" in said
    assert "association from STRANGER" in served.log.read_text()
    assert "not a configured spoke" in served.log.read_text()
    assert dcmtk(served, "echoscu")[0] == 0


def test_study_level_find_matches_wildcards_and_date_ranges_on_current_values(served):
    spoke = studies(served.drop)
    dates = sorted({row["study_date"] for row in spoke.values()})
    low, high = dates[1], dates[-2]
    answers = find(
        served,
        "by-date",
        "QueryRetrieveLevel=STUDY",
        "StudyInstanceUID",
        f"StudyDate={low}-{high}",
        "PatientName",
        "NumberOfStudyRelatedInstances",
    )
    expected = {uid for uid, row in spoke.items() if low <= row["study_date"] <= high}
    assert {a.StudyInstanceUID for a in answers} == expected and 0 < len(expected) < len(spoke)
    counts = {uid: len(sim.instances_of(sim.manifest_of(served.drop), uid)) for uid in expected}
    assert all(int(a.NumberOfStudyRelatedInstances) == counts[a.StudyInstanceUID] for a in answers)
    named = find(
        served,
        "by-name",
        "QueryRetrieveLevel=STUDY",
        "StudyInstanceUID",
        "PatientName=fake^corr*",
        "StudyDescription",
    )
    corrected = {u for u, row in spoke.items() if row["patient_name"] == "FAKE^CORRECTED"}
    assert {a.StudyInstanceUID for a in named} == corrected and corrected
    assert {str(a.PatientName) for a in named} == {"FAKE^CORRECTED"}
    [fixed] = find(
        served,
        "by-old-uid",
        "QueryRetrieveLevel=STUDY",
        f"StudyInstanceUID={served.old}",
        "StudyDescription",
    )
    assert (fixed.StudyInstanceUID, fixed.StudyDescription) == (served.new, "CORRECTED")


def test_series_image_and_patient_level_finds_list_what_the_spoke_holds(served):
    rows = [r for r in sim.manifest_of(served.drop).to_pylist()]
    mine = [r for r in rows if r["study_instance_uid"] == served.new]
    series = find(
        served,
        "series",
        "QueryRetrieveLevel=SERIES",
        f"StudyInstanceUID={served.new}",
        "SeriesInstanceUID",
        "Modality",
    )
    assert {(s.SeriesInstanceUID, s.Modality) for s in series} == {
        (r["series_instance_uid"], r["modality"]) for r in mine
    }
    one = mine[0]["series_instance_uid"]
    images = find(
        served,
        "images",
        "QueryRetrieveLevel=IMAGE",
        f"StudyInstanceUID={served.new}",
        f"SeriesInstanceUID={one}",
        "SOPInstanceUID",
        "SOPClassUID",
        "InstanceNumber",
    )
    assert {(i.SOPInstanceUID, i.SOPClassUID) for i in images} == {
        (r["sop_instance_uid"], r["sop_class_uid"]) for r in mine if r["series_instance_uid"] == one
    }
    patients = find(
        served,
        "patients",
        "QueryRetrieveLevel=PATIENT",
        "PatientID",
        "NumberOfPatientRelatedStudies",
        root="-P",
    )
    assert {p.PatientID for p in patients} == {r["patient_id"] for r in rows}
    for p in patients:
        held = {r["study_instance_uid"] for r in rows if r["patient_id"] == p.PatientID}
        assert int(p.NumberOfPatientRelatedStudies) == len(held)


def test_patient_root_finds_at_study_and_series_level_fill_the_keys_sent_empty(served):
    rows = sim.manifest_of(served.drop).to_pylist()
    spoke = studies(served.drop)
    patient = spoke[served.new]["patient_id"]
    answers = find(
        served,
        "patient-root-studies",
        "QueryRetrieveLevel=STUDY",
        f"PatientID={patient}",
        "StudyInstanceUID",
        "StudyDescription",
        "AccessionNumber",
        root="-P",
    )
    assert {a.StudyInstanceUID for a in answers} == {
        u for u, row in spoke.items() if row["patient_id"] == patient
    }
    for a in answers:  # a key sent empty matches everything and comes back with its value
        row = spoke[a.StudyInstanceUID]
        assert (a.StudyDescription or None, a.AccessionNumber or None) == (
            row["study_description"] or None,
            row["accession_number"] or None,
        )
    series = find(
        served,
        "patient-root-series",
        "QueryRetrieveLevel=SERIES",
        f"PatientID={patient}",
        f"StudyInstanceUID={served.new}",
        "SeriesInstanceUID",
        "Modality",
        root="-P",
    )
    assert {(s.SeriesInstanceUID, s.Modality, s.PatientID) for s in series} == {
        (r["series_instance_uid"], r["modality"], patient)
        for r in rows
        if r["study_instance_uid"] == served.new
    }
    other = next(r["patient_id"] for r in rows if r["patient_id"] != patient)
    assert not find(  # the patient's unique key narrows a lower level's query
        served,
        "patient-root-other",
        "QueryRetrieveLevel=SERIES",
        f"PatientID={other}",
        f"StudyInstanceUID={served.new}",
        "SeriesInstanceUID",
        root="-P",
    )


def date_time_keys(served: Served) -> tuple[dict, set[str], set[str]]:
    """Study Date over the spoke's first to last day with Study Time one HH:MM, and the
    studies each rule matches: independently (any day, that minute) and combined (PS3.4
    C.2.2.2.5: the first day from HH:MM, the days between whole, the last day up to it)."""
    spoke = studies(served.drop)
    when = sorted((row["study_date"], row["study_time"], uid) for uid, row in spoke.items())
    hhmm = when[len(when) // 2][1][:4]
    low, high = when[0][0] + hhmm, when[-1][0] + hhmm + "59.999999"
    keys = {"StudyDate": f"{when[0][0]}-{when[-1][0]}", "StudyTime": f"{hhmm}-{hhmm}"}
    combined = {uid for day, time, uid in when if low <= day + time <= high}
    independent = {uid for _, time, uid in when if time.startswith(hhmm)}
    assert combined > independent  # the keys tell the two rules apart
    return keys, independent, combined


def test_without_extended_negotiation_study_date_and_time_match_independently(served):
    """findscu negotiates nothing: each key is its own range (PS3.4 C.2.2.2.5)."""
    keys, independent, _ = date_time_keys(served)
    answers = find(
        served,
        "date-time",
        "QueryRetrieveLevel=STUDY",
        *[f"{keyword}={value}" for keyword, value in keys.items()],
        "StudyInstanceUID",
    )
    assert {a.StudyInstanceUID for a in answers} == independent


def test_a_caller_that_negotiates_combined_date_time_matching_gets_one_range(served):
    """A pynetdicom SCU sends the C-FIND SOP Class Extended Negotiation item asking for all
    four options: the hub agrees to combined date-time matching only, and matches so."""
    keys, _, combined = date_time_keys(served)
    ask = Dataset()
    ask.QueryRetrieveLevel, ask.StudyInstanceUID = "STUDY", ""
    ask.StudyDate, ask.StudyTime = keys["StudyDate"], keys["StudyTime"]
    item = SOPClassExtendedNegotiation()
    item.sop_class_uid = StudyRootQueryRetrieveInformationModelFind
    item.service_class_application_information = b"\x01\x01\x01\x01"
    ae = AE(ae_title="PYNETSCU")
    ae.add_requested_context(StudyRootQueryRetrieveInformationModelFind)
    assoc = ae.associate("127.0.0.1", served.port, ae_title=HUB, ext_neg=[item])
    assert assoc.is_established
    try:
        agreed = dict(assoc.acceptor.sop_class_extended)
        responses = list(assoc.send_c_find(ask, StudyRootQueryRetrieveInformationModelFind))
    finally:
        assoc.release()
    assert agreed == {StudyRootQueryRetrieveInformationModelFind: b"\x00\x01\x00\x00"}
    assert [s.Status for s, _ in responses][-1] == 0x0000
    assert {a.StudyInstanceUID for s, a in responses if s.Status == 0xFF00} == combined


def test_get_sends_the_study_equal_to_retrieve_out_object_by_object(served):
    expected = retrieved(served, served.new, "retrieve-get")
    got = served.work / "got"
    got.mkdir()
    code, said = dcmtk(
        served,
        "getscu",
        "-S",
        "-od",
        str(got),
        "-k",
        "QueryRetrieveLevel=STUDY",
        "-k",
        f"StudyInstanceUID={served.new}",
    )
    assert code == 0, said
    arrived = received(got.iterdir())
    assert arrived.keys() == expected.keys() and len(arrived) > 5
    # The caller's proposal picks the transfer syntax of a C-GET (getscu prefers its own):
    # the values are what must be equal.
    assert differences(arrived, expected, syntax_too=False) == []
    assert any("OriginalAttributesSequence" in ds for _, ds in arrived.values())


def test_move_by_the_old_study_uid_sends_the_study_as_it_is_now(served):
    expected = retrieved(served, served.new, "retrieve-move")
    before = set(served.moved.iterdir())
    code, said = dcmtk(
        served,
        "movescu",
        "-S",
        "-aem",
        "STORESCP",
        "-k",
        "QueryRetrieveLevel=STUDY",
        "-k",
        f"StudyInstanceUID={served.old}",
    )
    assert code == 0, said
    arrived = received(set(served.moved.iterdir()) - before)
    assert arrived.keys() == expected.keys() and len(arrived) > 5
    assert differences(arrived, expected) == []
    assert {ds.StudyInstanceUID for _, ds in arrived.values()} == {served.new}
    assert f"old study UID {served.old} resolved to {served.new}" in served.log.read_text()


def k(*keys: str) -> list[str]:
    """findscu/getscu/movescu `-k` arguments."""
    return [arg for key in keys for arg in ("-k", key)]


def move(served: Served, destination: str, study: str):
    return dcmtk(
        served,
        "movescu",
        "-S",
        "-aem",
        destination,
        *k("QueryRetrieveLevel=STUDY", f"StudyInstanceUID={study}"),
    )


def test_bad_retrieves_get_a_clear_status_send_nothing_and_the_server_keeps_serving(served):
    before = set(served.moved.iterdir())
    assert "MoveDestinationUnknown" in move(served, "NOBODY", served.new)[1]
    code, _ = move(served, "STORESCP", "1.2.3.4")  # no such study: no sub-operations
    assert code == 0
    assert "Move response with error status" in move(served, "STORESCP", "1.2.3.x")[1]
    code, said = dcmtk(
        served,
        "getscu",
        "-S",
        "-od",
        str(served.work),
        *k("QueryRetrieveLevel=SERIES", f"StudyInstanceUID={served.new}"),
    )
    assert "Failed" in said, said
    code, said = dcmtk(
        served, "getscu", "-P", "-od", str(served.work),
        *k("QueryRetrieveLevel=PATIENT", "PatientID=*"),
    )  # fmt: skip
    assert "Failed" in said, said  # a wildcard would send every patient's studies
    assert set(served.moved.iterdir()) == before  # nothing was sent for any of them
    log = served.log.read_text()
    assert "unknown destination NOBODY" in log
    assert "no current study for 1 requested UID(s): ['1.2.3.4']" in log
    assert "C-MOVE from MOVESCU refused (0xA900): StudyInstanceUID" in log
    assert "C-GET from GETSCU refused (0xA900): a SERIES level retrieve needs" in log
    assert "C-GET from GETSCU refused (0xA900): PatientID: a PATIENT level retrieve names" in log
    assert dcmtk(served, "echoscu")[0] == 0


def test_malformed_find_keys_are_refused_by_name_and_never_logged_by_value(served):
    _, said = dcmtk(
        served,
        "findscu",
        "-v",
        "-S",
        *k("QueryRetrieveLevel=STUDY", "StudyDate=2025-01", "StudyInstanceUID"),
    )
    assert "DataSetDoesNotMatchSOPClass" in said
    _, said = dcmtk(served, "findscu", "-v", "-S", *k("QueryRetrieveLevel=EVERYTHING"))
    assert "DataSetDoesNotMatchSOPClass" in said
    _, said = dcmtk(
        served,
        "findscu",
        "-v",
        "-P",
        *k("QueryRetrieveLevel=PATIENT", "PatientBirthDate=1970-0?", "PatientID"),
    )
    assert "DataSetDoesNotMatchSOPClass" in said
    assert dcmtk(served, "echoscu")[0] == 0
    log = served.log.read_text()
    assert "C-FIND from FINDSCU refused (0xA900): StudyDate" in log
    assert "PatientBirthDate: the key is not a YYYYMMDD" in log and "1970-0" not in log
    assert "FAKE^" not in log  # counts and UIDs only, never names or birth dates


def test_a_find_during_a_catalog_write_waits_for_the_commit_and_then_answers(served):
    """While a run holds the writer lock the request queues; once it is released, it answers."""
    out = served.work / "during-write"
    out.mkdir()
    command = [
        system_tool("findscu"),
        "-aet",
        "FINDSCU",
        "-aec",
        HUB,
        "-S",
        "-X",
        "-od",
        str(out),
        *k("QueryRetrieveLevel=STUDY", "StudyInstanceUID"),
        "127.0.0.1",
        str(served.port),
    ]
    with open_catalog(served.config.catalog):  # as a nightly run does while it commits
        client = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(3)
        assert client.poll() is None and not list(out.iterdir())  # queued, not refused
    assert client.wait(timeout=60) == 0
    assert len(list(out.glob("rsp*.dcm"))) == len(studies(served.drop))
