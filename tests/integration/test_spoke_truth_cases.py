"""Issue 15's five defects, each as the spoke's own DICOM files show it (acceptance tests).

Every spoke here is a folder of files written with pydicom from pydicom's bundled test images,
with no Issuer of Patient ID; the hub sees it only through `spokesync manifest build`, and what
`spokesync retrieve` sends is compared object by object with the spoke's files.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from spokesync.catalog.errors import SpokesyncError
from tests.support.pacs import spoke_body
from tests.truth.compare import by_sop, differences, files_of
from tests.truth.hub import Hub
from tests.truth.moves import segment
from tests.truth.objects import read
from tests.truth.spoke import FileSpoke, Series, series_of

pytestmark = pytest.mark.integration
JANE = {"PatientName": "Doe^Jane", "PatientSex": "F", "PatientBirthDate": "19700101"}
STUDY = {"AccessionNumber": "A1", "StudyID": "S1", "StudyDate": "20260101",
         "StudyTime": "101010", "StudyDescription": "MR head"}  # fmt: skip


def retrieved_differences(hub: Hub, spoke: FileSpoke, study: str, out) -> list[str]:
    return differences(spoke.facts(study), by_sop(hub.retrieve(study, out).values()))


def kinds(records: list[dict]) -> list[tuple]:
    return sorted((r["kind"], r["status"], tuple(r["source_study_uids"]),
                   tuple(r["target_study_uids"])) for r in records)  # fmt: skip


def test_a_patient_name_corrected_in_every_file_is_applied_sent_and_recorded_once(tmp_path):
    spoke, hub = FileSpoke(tmp_path / "spoke"), Hub(tmp_path)
    study = spoke.add_study("P1", JANE, STUDY, [Series("MR", 2)])
    hub.night(spoke.folder)
    for path, ds in spoke.objects():
        ds.PatientName = "Doe^Janet"
        spoke.rewrite(path, ds)

    corrected = hub.night(spoke.folder)

    records = hub.records(corrected["run_id"])
    assert [(r["kind"], r["attributes"]) for r in records] == [
        ("ATTRIBUTES", {"patient_name": ["Doe^Jane", "Doe^Janet"]})
    ]
    # DESIGN §2: a missing issuer and an empty one are the same patient
    assert hub.query("select patient_name from patients where patient_id = 'P1'") == [
        ("Doe^Janet",)
    ]
    assert retrieved_differences(hub, spoke, study, tmp_path / "out") == []
    assert hub.reconcile()["cc_records"] == 0  # DESIGN §4 safety rule 1


def test_a_patient_whose_studies_disagree_on_sex_reconciles_again_without_a_record(tmp_path):
    spoke, hub = FileSpoke(tmp_path / "spoke"), Hub(tmp_path)
    spoke.add_study("P1", JANE, STUDY, [Series("MR", 2)])
    spoke.add_study("P1", {**JANE, "PatientSex": "O"}, {**STUDY, "AccessionNumber": "A2"},
                    [Series("CT", 2)])  # fmt: skip
    hub.night(spoke.folder)

    again = [hub.night(spoke.folder)["cc_records"], hub.reconcile()["cc_records"]]

    assert again == [0, 0], kinds(hub.records())  # DESIGN §4 safety rule 1


@pytest.mark.parametrize("gone", ["MR", "CT"])
def test_deleting_a_series_records_only_the_deletion_when_series_disagreed(tmp_path, gone):
    spoke, hub = FileSpoke(tmp_path / "spoke"), Hub(tmp_path)
    study = spoke.add_study("P1", JANE, STUDY, [
        Series("MR", 2, {"StudyDate": "20260101", "StudyDescription": "MR part"}),
        Series("CT", 2, {"StudyDate": "20260102", "StudyDescription": "CT part"}),
    ])  # fmt: skip
    hub.night(spoke.folder)
    for path, ds in spoke.objects():
        if ds.Modality == gone:
            spoke.delete(path)

    deleted = hub.night(spoke.folder)

    records = hub.records(deleted["run_id"])
    assert kinds(records) == [("DELETE", "applied", (study,), ())], records
    assert hub.reconcile()["cc_records"] == 0
    assert retrieved_differences(hub, spoke, study, tmp_path / "out") == []


def test_a_study_whose_series_disagree_on_study_date_is_sent_as_the_spoke_holds_it(tmp_path):
    spoke, hub = FileSpoke(tmp_path / "spoke"), Hub(tmp_path)
    study = spoke.add_study("P1", JANE, STUDY, [
        Series("CT", 2, {"StudyDate": "20260101"}),
        Series("MR", 2, {"StudyDate": "20260103", "StudyDescription": "MR added later"}),
    ])  # fmt: skip
    hub.night(spoke.folder)

    assert retrieved_differences(hub, spoke, study, tmp_path / "out") == []  # DESIGN §8


def test_a_merged_object_keeping_its_accession_number_is_sent_with_it(tmp_path):
    spoke, hub = FileSpoke(tmp_path / "spoke"), Hub(tmp_path)
    target = spoke.add_study("P1", JANE, STUDY, [Series("MR", 2)])
    source = spoke.add_study("P1", JANE, {**STUDY, "AccessionNumber": "A9", "StudyID": "S9"},
                             [Series("CT", 1)])  # fmt: skip
    hub.night(spoke.folder)
    for path, ds in spoke.objects(source):  # IMPAX-style merge: new SOP UID, own study values
        ds.StudyInstanceUID, ds.SeriesInstanceUID = target, spoke.mint("series")
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = spoke.mint("sop")
        spoke.rewrite(path, ds)

    merged = hub.night(spoke.folder)

    assert kinds(hub.records(merged["run_id"])) == [("MERGE", "applied", (source,), (target,))]
    assert retrieved_differences(hub, spoke, target, tmp_path / "out") == []  # DESIGN §8
    assert hub.reconcile()["cc_records"] == 0


def test_an_orthanc_study_modified_without_keep_waits_for_review_with_its_changes(
    tmp_path, orthanc
):
    spoke, hub = FileSpoke(tmp_path / "spoke"), Hub(tmp_path)
    old = spoke.add_study("P1", JANE, STUDY, [Series("MR", 2)])
    orthanc.reset()
    orthanc.upload(spoke.paths())
    hub.use_pacs(spoke_body(orthanc, "dicomweb"))
    hub.reconcile()
    answer = orthanc.rest("POST", f"/studies/{orthanc.lookup(old)}/modify",
                          json={"Replace": {"StudyDescription": "MR head corrected"},
                                "KeepSource": False})  # fmt: skip
    new = orthanc.rest("GET", answer["Path"])["MainDicomTags"]["StudyInstanceUID"]

    fixed = hub.reconcile()

    records = hub.records(fixed["run_id"])
    # DESIGN §4: a re-identified study waits for review, whatever changed with it
    assert kinds(records) == [("UID_FIX", "pending_review", (old,), (new,))], records
    assert records[0]["attributes"] == {"study_description": ["MR head", "MR head corrected"]}
    assert hub.query("select study_description, status from studies") == [("MR head", "active")]
    assert (
        differences(spoke.facts(old), by_sop(hub.retrieve(old, tmp_path / "before").values())) == []
    )
    hub.approve(records[0]["seq"])
    held = by_sop(orthanc.files(tmp_path / "orthanc").values())
    assert differences(held, by_sop(hub.retrieve(new, tmp_path / "after").values())) == []


def write_deletions(drop, rows: list[dict]) -> None:
    pq.write_table(pa.Table.from_pylist(rows), drop / "deletions.parquet")


@pytest.mark.parametrize("level", ["STUDY", "Study", "study"])
def test_a_study_deletion_is_accepted_in_dicom_spelling_and_any_case(tmp_path, level):
    spoke, hub = FileSpoke(tmp_path / "spoke"), Hub(tmp_path)
    kept = spoke.add_study("P1", JANE, STUDY, [Series("MR", 1)])
    gone = spoke.add_study("P2", JANE, {**STUDY, "AccessionNumber": "A2"}, [Series("CT", 1)])
    hub.night(spoke.folder)
    for path, _ds in spoke.objects(gone):
        spoke.delete(path)
    drop = hub.build(spoke.folder)
    write_deletions(drop, [{"level": level, "uid": gone, "reason_code": "113039",
                            "reason_text": "wrong patient"}])  # fmt: skip

    deleted = hub.reconcile()

    assert kinds(hub.records(deleted["run_id"])) == [("DELETE", "applied", (gone,), ())]
    assert hub.query(
        "select distinct study_instance_uid from instances where status = 'active'"
    ) == [(kept,)]


@pytest.mark.parametrize("level", ["series", "SERIES", "instance", "IMAGE"])
def test_a_deletion_naming_a_study_uid_below_study_level_is_refused_by_row(tmp_path, level):
    spoke, hub = FileSpoke(tmp_path / "spoke"), Hub(tmp_path)
    spoke.add_study("P1", JANE, STUDY, [Series("MR", 1)])
    gone = spoke.add_study("P2", JANE, {**STUDY, "AccessionNumber": "A2"}, [Series("CT", 1)])
    hub.night(spoke.folder)
    for path, _ds in spoke.objects(gone):
        spoke.delete(path)
    drop = hub.build(spoke.folder)
    write_deletions(drop, [
        {"level": "study", "uid": gone, "reason_code": "113039", "reason_text": "wrong patient"},
        {"level": level, "uid": gone, "reason_code": "113039", "reason_text": "wrong level"},
    ])  # fmt: skip
    before = hub.query("select * from instances order by all")

    # DESIGN §2: a deletion row that names a UID at the wrong level is refused by row
    with pytest.raises(SpokesyncError) as refused:
        hub.reconcile()

    message = str(refused.value)
    assert "deletions.parquet" in message and "row 2" in message and gone in message, message
    assert hub.query("select * from instances order by all") == before
    assert hub.records() and all(r["kind"] == "NEW_OBJECTS" for r in hub.records())


def test_every_file_of_a_night_is_sent_back_as_written(tmp_path):
    """The harness itself: a spoke with absent sex and birth date, two character sets."""
    spoke, hub = FileSpoke(tmp_path / "spoke"), Hub(tmp_path)
    first = spoke.add_study("P1", {"PatientName": "Müller^Jürgen", "PatientSex": None,
                                   "PatientBirthDate": None}, STUDY, [Series("MR", 2)])  # fmt: skip
    second = spoke.add_study("P2", {"PatientName": "山田^太郎", "PatientSex": ""},
                             {**STUDY, "StudyDescription": ""}, [Series("CT", 1)])  # fmt: skip
    hub.night(spoke.folder)

    for n, study in enumerate((first, second)):
        assert retrieved_differences(hub, spoke, study, tmp_path / f"out{n}") == []
    hub.verify()  # exits 1 on any finding
    assert {read(p).SpecificCharacterSet for p in spoke.paths()} >= {"ISO_IR 100", "ISO_IR 192"}
    assert not any("IssuerOfPatientID" in read(p) for p in files_of(spoke.folder))


def test_segmenting_a_study_made_by_segmenting_is_a_segment_not_a_merge(tmp_path):
    # Found by the spoke-truth property: the image Y holds as a copy of X's came from X, but
    # copying it on into Z is Y's doing; a MERGE (X, Y) -> Z would re-parent X's instances.
    spoke, hub = FileSpoke(tmp_path / "spoke"), Hub(tmp_path)
    x = spoke.add_study("P1", JANE, STUDY, [Series("MR", 2), Series("CT", 2)])
    hub.night(spoke.folder)
    [(_, _, _, first)] = segment(spoke, 0)
    [y] = [s for s in first if s != x]
    hub.night(spoke.folder)
    candidates = sorted(s for s, objs in spoke.held().items() if len(series_of(objs)) >= 2)
    [(kind, status, sources, targets)] = segment(spoke, candidates.index(y))
    assert sources == (y,)

    run = hub.night(spoke.folder)

    assert kinds(hub.records(run["run_id"])) == [(kind, status, sources, targets)]
    for study in spoke.held():
        assert retrieved_differences(hub, spoke, study, tmp_path / f"out-{study}") == []
    assert hub.reconcile()["cc_records"] == 0
