"""Right patient, right owner: patient ID domains, non-owners' deletions, unreadable objects.

Spokes are folders of DICOM files written from pydicom's test images without an Issuer of
Patient ID; the hub sees them only through `spokesync manifest build` (DESIGN §2, §6).
"""

from __future__ import annotations

import shutil

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from flows.config import read_document, write_document
from tests.truth.compare import by_sop, differences
from tests.truth.hub import Hub
from tests.truth.spoke import FileSpoke, Series

pytestmark = pytest.mark.integration
STUDY = {"AccessionNumber": "A1", "StudyID": "S1", "StudyDate": "20260101",
         "StudyTime": "101010", "StudyDescription": "MR head"}  # fmt: skip
JANE = {"PatientName": "Doe^Jane", "PatientSex": "F", "PatientBirthDate": "19700101"}
JOHN = {"PatientName": "Roe^John", "PatientSex": "M", "PatientBirthDate": "19650505"}


def night_of(hub: Hub, spoke_id: str, folder) -> dict:
    """Build and reconcile one spoke's drop on a hub that has several spokes."""
    hub.spoke = spoke_id
    return hub.night(folder)


def sent_as_held(hub: Hub, spoke: FileSpoke, study: str, out) -> list[str]:
    return differences(spoke.facts(study), by_sop(hub.retrieve(study, out).values()))


def test_the_same_mrn_at_two_hospitals_is_two_patients_each_sent_with_its_own_name(tmp_path):
    north, south = FileSpoke(tmp_path / "north", "north"), FileSpoke(tmp_path / "south", "south")
    hub = Hub(tmp_path)
    a = north.add_study("00123", JANE, STUDY, [Series("MR", 2)])
    b = south.add_study("00123", JOHN, STUDY, [Series("CT", 1)])
    night_of(hub, "north", north.folder)
    night_of(hub, "south", south.folder)

    assert sorted(hub.query("select patient_domain, patient_name from patients")) == [
        ("north", "Doe^Jane"),
        ("south", "Roe^John"),
    ]
    assert sent_as_held(hub, north, a, tmp_path / "a") == []
    assert sent_as_held(hub, south, b, tmp_path / "b") == []


def test_spokes_that_share_a_patient_id_domain_share_the_patient(tmp_path):
    north, south = FileSpoke(tmp_path / "north", "north"), FileSpoke(tmp_path / "south", "south")
    hub = Hub(tmp_path)
    north.add_study("00123", JANE, STUDY, [Series("MR", 1)])
    south.add_study("00123", JANE, STUDY, [Series("CT", 1)])
    night_of(hub, "north", north.folder)
    hub.spoke = "south"
    hub.build(south.folder)
    for spoke_id in ("north", "south"):
        document = read_document(hub.file)
        document["spokes"][spoke_id]["patient_id_domain"] = "REGION"
        write_document(hub.file, document)
    hub.reconcile()

    domains = hub.query("select distinct patient_domain from studies order by 1")
    assert domains == [("REGION",), ("north",)]  # north's study keeps the domain it came with
    assert hub.query("select count(*) from patients where patient_domain = 'REGION'") == [(1,)]


def test_a_non_owners_partial_copy_deletes_nothing_until_a_person_approves(tmp_path):
    north, south = FileSpoke(tmp_path / "north", "north"), FileSpoke(tmp_path / "south", "south")
    hub = Hub(tmp_path)
    study = north.add_study("P1", JANE, STUDY, [Series("MR", 2), Series("CT", 2)])
    night_of(hub, "north", north.folder)
    south.folder.mkdir(parents=True)
    for path in north.paths()[:2]:  # south keeps only half of north's study
        shutil.copy2(path, south.folder / path.name)

    run = night_of(hub, "south", south.folder)

    [record] = hub.records(run["run_id"])
    assert (record["kind"], record["status"]) == ("DELETE", "pending_review")
    assert sent_as_held(hub, north, study, tmp_path / "before") == []  # nothing deleted
    hub.approve(record["seq"])
    assert hub.query(
        "select count(*) from instances where study_instance_uid = ? and status = 'active'", study
    ) == [(2,)]


def test_another_spokes_deletions_file_naming_the_owners_study_waits_for_review(tmp_path):
    north, south = FileSpoke(tmp_path / "north", "north"), FileSpoke(tmp_path / "south", "south")
    hub = Hub(tmp_path)
    study = north.add_study("P1", JANE, STUDY, [Series("MR", 2)])
    night_of(hub, "north", north.folder)
    south.add_study("P2", JOHN, STUDY, [Series("CT", 1)])
    hub.spoke = "south"
    drop = hub.build(south.folder)
    pq.write_table(
        pa.table(
            {
                "level": ["STUDY"],
                "uid": [study],
                "reason_code": ["113039"],
                "reason_text": ["Data Retention Policy Expired"],
            }
        ),  # fmt: skip
        drop / "deletions.parquet",
    )
    run = hub.reconcile()

    held = [r for r in hub.records(run["run_id"]) if r["kind"] == "DELETE"]
    assert [(r["status"], r["source_study_uids"]) for r in held] == [("pending_review", [study])]
    assert sent_as_held(hub, north, study, tmp_path / "out") == []


@pytest.mark.parametrize("damage", ["truncated", "empty"])
def test_an_unreadable_file_of_a_known_study_deletes_nothing_of_it(tmp_path, damage):
    spoke, hub = FileSpoke(tmp_path / "spoke"), Hub(tmp_path)
    study = spoke.add_study("P1", JANE, STUDY, [Series("MR", 3)])
    hub.night(spoke.folder)
    victim = spoke.paths()[0]
    data = victim.read_bytes()
    victim.write_bytes(data[: len(data) // 3] if damage == "truncated" else b"")

    run = hub.night(spoke.folder)

    assert [r["kind"] for r in hub.records(run["run_id"])] == []
    assert hub.query(
        "select count(*) from instances where study_instance_uid = ? and status = 'active'", study
    ) == [(3,)]
    assert hub.reconcile()["cc_records"] == 0
