"""The spoke simulator writes valid drops that match its ground truth, the same bytes every time."""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

import pyarrow.parquet as pq
import pydicom
import pytest

import simulator as sim
from simulator.views import DropIndex
from spokesync.tasks.manifest.dicom_headers import TEXT_COLUMNS
from spokesync.tasks.manifest.fingerprints import fingerprint_file

CONVENTIONS = ("impax", "orthanc")


@pytest.fixture(scope="module")
def run(tmp_path_factory, sample_drops):
    """Apply operations once per key: run(key, spoke, make_ops) -> (before, after, out, truth)."""
    done: dict[str, tuple] = {}
    root = tmp_path_factory.mktemp("simulated")

    def apply(key: str, spoke: str, make_ops) -> tuple:
        if key not in done:
            before = sim.manifest_of(sample_drops[spoke])
            truth = sim.apply_operations(sample_drops[spoke], make_ops(before), root / key)
            done[key] = (before, sim.manifest_of(root / key), root / key, truth)
        return done[key]

    return apply


def by_sop(table) -> dict[str, dict]:
    return {row["sop_instance_uid"]: row for row in table.to_pylist()}


def study_with(index: DropIndex, modality: str, skip: tuple[str, ...] = ()) -> str:
    """The first study holding an object of `modality` (the samples' SR or RT objects)."""
    for study in index.studies():
        if study not in skip and any(r["modality"] == modality for r in index.rows[study]):
            return study
    raise LookupError(modality)


def assert_truth_holds(before, after, truth: sim.GroundTruth) -> None:
    """Every record agrees with the two manifests: moves keep fingerprints, deletions are gone."""
    old, new = by_sop(before), by_sop(after)
    studies = {row["study_instance_uid"] for row in new.values()}
    for record in truth.records:
        assert set(record.target_study_uids) <= studies
        for sop, copies in record.moved.items():
            for copy in copies:
                assert new[copy]["fingerprint"] == old[sop]["fingerprint"]
                assert new[copy]["study_instance_uid"] in record.target_study_uids
            if sop not in copies:
                assert sop not in new
        sources = set(record.source_study_uids)
        emptied = all(
            s in record.moved for s, r in old.items() if r["study_instance_uid"] in sources
        )
        stays = record.kind in ("SPLIT", "AMBIGUOUS") or (record.kind == "DELETE" and not emptied)
        assert sources & studies == {s for s in sources if stays or s in record.target_study_uids}


def batch_a(convention: str):
    """North: split, merge, segment with duplicates, UID fix: one study each."""

    def make(table):
        s = DropIndex(table).studies()
        return [
            sim.split_half(table, s[0], convention),
            sim.merge_studies(table, [s[1], s[2]], convention),
            sim.segment_in_two(table, s[3], convention, duplicates=2),
            sim.fix_uid(table, s[4], convention),
        ]

    return make


def batch_b(convention: str):
    """South: a patient-level name correction (two studies), study and series corrections."""

    def make(table):
        index = DropIndex(table)
        owner = index.studies_of("S-2001")
        report = study_with(index, "SR", skip=tuple(owner))
        rest = [s for s in index.studies() if s not in owner and s != report]
        return [
            sim.Correct("patient", "S-2001", "patient_name", "FAKE^RENAMED", convention),
            sim.Correct("study", report, "study_description", "Corrected", convention),
            sim.Correct(
                "series", index.series(rest[0])[0], "series_description", "Fixed", convention
            ),
            sim.delete_last_series(table, rest[1]),
        ]

    return make


def batch_c(convention: str):
    """North: new objects and studies, deletions."""

    def make(table):
        s = DropIndex(table).studies()
        return [
            sim.AddObject(s[0], "PR", convention),
            sim.AddObject(s[1], "SC", convention),
            sim.NewStudy(sim.PatientRef("SIM-NEW", "FAKE^NEW", "20000101", "O"), 2, convention),
            sim.NewStudy(sim.PatientRef("N-1003"), 1, convention),
            sim.DeleteStudy(s[2], reason_code="113037"),
            sim.Delete(s[3], sop_uids=tuple(DropIndex(table).instances(s[3])[:2])),
        ]

    return make


BATCHES = {"a": batch_a, "b": batch_b, "c": batch_c}


@pytest.mark.parametrize("convention", CONVENTIONS)
@pytest.mark.parametrize("batch", sorted(BATCHES))
def test_every_operation_gives_a_valid_drop_whose_truth_holds(run, sample_drops, batch, convention):
    spoke = "south" if batch == "b" else "north"
    before, after, out, truth = run(f"{batch}-{convention}", spoke, BATCHES[batch](convention))
    assert_truth_holds(before, after, truth)
    assert sim.GroundTruth.read(out / "ground_truth.json") == truth
    for row in after.to_pylist():
        if row["object_uri"].startswith("objects/sim/"):  # rewritten or new: row = file
            assert fingerprint_file(out / row["object_uri"]) == row["fingerprint"]
            assert (out / row["object_uri"]).stat().st_size == row["object_size"]
    stamps = [json.loads((d / "manifest.json").read_text())["generated_at"]
              for d in (sample_drops[spoke], out)]  # fmt: skip
    assert stamps[0] < stamps[1] == truth.generated_at


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_split_moves_half_the_study_to_a_new_patient_with_uids_as_the_convention_says(
    run, convention
):
    before, after, _, truth = run(f"a-{convention}", "north", batch_a(convention))
    split = truth.records[0]
    assert (split.kind, split.status) == ("SPLIT", "applied")
    old, new = by_sop(before), by_sop(after)
    for sop, (moved,) in split.moved.items():
        assert (moved == sop) is (convention == "impax")
        assert new[moved]["series_instance_uid"] != old[sop]["series_instance_uid"]
        assert new[moved]["patient_id"].startswith("SIM-")
    kept = [s for s in old if old[s]["study_instance_uid"] == split.source_study_uids[0]
            and s not in split.moved]  # fmt: skip
    assert kept and all(new[s] == old[s] for s in kept)


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_merge_gives_moved_images_new_sop_uids_and_the_target_values(run, convention):
    before, after, _, truth = run(f"a-{convention}", "north", batch_a(convention))
    merge = truth.records[1]
    target = merge.target_study_uids[0]
    assert merge.kind == "MERGE" and target not in merge.source_study_uids
    new = by_sop(after)
    for sop, (moved,) in merge.moved.items():
        assert moved != sop and new[moved]["study_instance_uid"] == target
    accessions = {r["accession_number"] for r in new.values() if r["study_instance_uid"] == target}
    assert len(accessions) == 1 and len(merge.moved) > 0


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_segment_duplicates_are_new_instances_that_share_a_fingerprint(run, convention):
    _, after, _, truth = run(f"a-{convention}", "north", batch_a(convention))
    segment = truth.records[2]
    source = segment.source_study_uids[0]
    assert segment.kind == "SEGMENT" and source in segment.target_study_uids
    assert len(segment.target_study_uids) == 2
    duplicated = {sop: copies for sop, copies in segment.moved.items() if len(copies) == 2}
    assert len(duplicated) == 2
    new = by_sop(after)
    for sop, (kept, copy) in duplicated.items():
        assert kept == sop and new[kept]["study_instance_uid"] == source
        assert new[copy]["fingerprint"] == new[kept]["fingerprint"] and copy != sop


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_uid_fix_waits_for_review_and_keeps_series_and_sops_only_under_impax(run, convention):
    before, after, _, truth = run(f"a-{convention}", "north", batch_a(convention))
    fix = truth.records[3]
    assert (fix.kind, fix.status) == ("UID_FIX", "pending_review")
    assert fix.attributes["accession_number"][1].startswith("FIX")
    old, new = by_sop(before), by_sop(after)
    for sop, (moved,) in fix.moved.items():
        same_series = new[moved]["series_instance_uid"] == old[sop]["series_instance_uid"]
        assert (moved == sop) is same_series is (convention == "impax")
        assert new[moved]["accession_number"].startswith("FIX")


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_corrections_write_the_value_to_manifest_and_object(run, convention):
    _, after, out, truth = run(f"b-{convention}", "south", batch_b(convention))
    kinds = truth.kinds()
    fixed = "ATTRIBUTES" if convention == "impax" else "UID_FIX"  # Orthanc re-identifies
    assert kinds == [fixed] * 4 + ["DELETE"]  # the patient has two studies: two records
    for record in truth.records[:4]:
        ((name, (old, value)),) = record.attributes.items()
        assert old != value
        (target,) = record.target_study_uids
        assert (target == record.source_study_uids[0]) is (convention == "impax")
        assert bool(record.moved) is (convention == "orthanc")
        rows = [r for r in after.to_pylist() if r["study_instance_uid"] == target]
        changed = [r for r in rows if r[name] == value]
        assert changed
        header = pydicom.dcmread(out / changed[0]["object_uri"], stop_before_pixels=True)
        assert str(header.get(TEXT_COLUMNS[name])) == value


def test_orthanc_modify_keeps_the_reports_references_inside_the_new_study(run):
    _, after, out, truth = run("b-orthanc", "south", batch_b("orthanc"))
    target = truth.records[2].target_study_uids[0]
    rows = [r for r in after.to_pylist() if r["study_instance_uid"] == target]
    report = next(r for r in rows if r["modality"] == "SR")
    ds = pydicom.dcmread(out / report["object_uri"])
    referenced = {e.value for e in ds.iterall() if e.keyword == "ReferencedSOPInstanceUID"}
    assert referenced and referenced <= {r["sop_instance_uid"] for r in rows}


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_new_objects_are_valid_dicom_in_new_series_with_the_study_values(run, convention):
    before, after, out, truth = run(f"c-{convention}", "north", batch_c(convention))
    assert truth.kinds() == ["NEW_OBJECTS"] * 4 + ["DELETE", "DELETE"]
    old_sops = set(by_sop(before))
    added = [r for r in after.to_pylist() if r["sop_instance_uid"] not in old_sops]
    assert sorted(r["modality"] for r in added) == ["OT", "OT", "OT", "OT", "PR"]
    current = set(by_sop(after))
    for row in added:
        ds = pydicom.dcmread(out / row["object_uri"])
        assert ds.file_meta.MediaStorageSOPClassUID == ds.SOPClassUID
        refs = [e.value for e in ds.iterall() if e.keyword == "ReferencedSOPInstanceUID"]
        assert set(refs) <= current and (refs or row["modality"] == "OT")
        study = [
            r for r in before.to_pylist() if r["study_instance_uid"] == row["study_instance_uid"]
        ]
        for column in ("patient_name", "accession_number", "study_date", "study_status"):
            assert all(r[column] == row[column] for r in study)
    deletions = pq.read_table(out / "deletions.parquet").to_pylist()
    deleted = truth.records[4].source_study_uids[0]
    reason = "Rejected for Patient Safety Reasons"
    assert deletions == [
        {"level": "study", "uid": deleted, "reason_code": "113037", "reason_text": reason}
    ]


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_split_into_an_existing_study_and_merge_into_a_new_one(run, convention):
    def make(table):
        index = DropIndex(table)
        s = index.studies()
        other = next(x for x in s[1:] if index.patient_of(x) != index.patient_of(s[0]))
        rest = [x for x in s if x not in (s[0], other)]
        patient = sim.PatientRef(index.patient_of(other))
        return [sim.split_half(table, s[0], convention, to_patient=patient, target_study=other),
                sim.merge_studies(table, rest, convention, into_first=False)]  # fmt: skip

    before, after, _, truth = run(f"d-{convention}", "south", make)
    assert_truth_holds(before, after, truth)
    split, merge = truth.records
    (other,) = split.target_study_uids
    values = {(r["patient_id"], r["accession_number"]) for r in after.to_pylist()
              if r["study_instance_uid"] == other}  # fmt: skip
    assert len(values) == 1
    assert len(merge.source_study_uids) == 3
    assert merge.target_study_uids[0] not in set(before.column("study_instance_uid").to_pylist())


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_segment_may_let_the_source_vanish_and_patient_ids_can_be_corrected(run, convention):
    def make(table):
        index = DropIndex(table)
        lone = next(p for p in index.patients() if len(index.studies_of(p)) == 1)
        study = next(s for s in index.studies() if index.patient_of(s) != lone)
        return [sim.segment_in_two(table, study, convention, duplicates=0, keep_first=False),
                sim.Correct("patient", lone, "patient_id", "N-9999", convention)]  # fmt: skip

    before, after, _, truth = run(f"e-{convention}", "north", make)
    assert_truth_holds(before, after, truth)
    segment, correct = truth.records
    assert segment.source_study_uids[0] not in segment.target_study_uids
    assert correct.attributes["patient_id"][1] == "N-9999"
    assert "N-9999" in set(after.column("patient_id").to_pylist())


def test_ambiguous_twins_cannot_be_told_apart_by_anything_in_the_manifest(tmp_path, sample_drops):
    study = DropIndex(sim.manifest_of(sample_drops["north"])).studies()[0]
    first, second = sim.make_ambiguous(sample_drops["north"], tmp_path / "b", tmp_path / "a", study)
    assert first.kinds() == ["NEW_OBJECTS"]
    (record,) = second.records
    assert (record.kind, record.status) == ("AMBIGUOUS", "pending_review")
    before, after = by_sop(sim.manifest_of(tmp_path / "b")), by_sop(sim.manifest_of(tmp_path / "a"))
    (candidates,) = {tuple(c) for c in record.moved.values()}
    assert len(record.moved) == len(candidates) == 2
    for side, sops in ((before, list(record.moved)), (after, list(candidates))):
        a, b = (dict(side[s], sop_instance_uid=None, object_uri=None) for s in sops)
        assert a == b  # same fingerprint, numbers, size: nothing resolves the pairing
    with pytest.raises(sim.OperationInvalid, match="ambiguous"):
        other = next(s for s in DropIndex(sim.manifest_of(tmp_path / "b")).studies() if s != study)
        sim.apply_operations(tmp_path / "b", [sim.Merge((study, other))], tmp_path / "refused")
    assert not (tmp_path / "refused").exists()


def digests(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}  # fmt: skip


def test_same_input_and_operations_give_identical_bytes(run, tmp_path, sample_drops):
    _, _, out, _ = run("a-orthanc", "north", batch_a("orthanc"))
    ops = batch_a("orthanc")(sim.manifest_of(sample_drops["north"]))
    sim.apply_operations(sample_drops["north"], ops, tmp_path / "again")
    assert digests(tmp_path / "again") == digests(out)


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_random_operations_give_valid_drops_and_leave_the_input_unchanged(tmp_path, sample_drops,
                                                                          seed):  # fmt: skip
    drop = sample_drops["north" if seed % 2 else "south"]
    snapshot = digests(drop)
    before = sim.manifest_of(drop)
    ops = sim.random_operations(before, random.Random(seed), 5)
    truth = sim.apply_operations(drop, ops, tmp_path / "out", seed=f"random-{seed}")
    assert len(ops) == 5 and len(truth.records) >= 5
    assert_truth_holds(before, sim.manifest_of(tmp_path / "out"), truth)
    assert digests(drop) == snapshot


def test_an_operation_on_a_study_changed_earlier_is_refused_unless_overlap_is_allowed(
    tmp_path, sample_drops
):
    drop = sample_drops["south"]
    study = DropIndex(sim.manifest_of(drop)).studies()[0]
    ops = [sim.Correct("study", study, "study_id", "77"), sim.AddObject(study, "SC")]
    with pytest.raises(sim.OperationInvalid, match="operation 1 .*allow_overlap"):
        sim.apply_operations(drop, ops, tmp_path / "refused")
    truth = sim.apply_operations(drop, ops, tmp_path / "out", allow_overlap=True)
    assert truth.kinds() == ["ATTRIBUTES", "NEW_OBJECTS"]
    assert not (tmp_path / "refused").exists()


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda i, s: sim.Delete(s, sop_uids=tuple(i.instances(s))), "DeleteStudy"),
        (lambda i, s: sim.Split(s, sim.PatientRef("X"), series_uids=tuple(i.series(s))), "all of"),
        (lambda i, s: sim.Segment(s, ((i.instances(s)[0],), (i.instances(s)[1],))), "every"),
        (lambda i, s: sim.FixUid("2.25.1", "A1"), "not in the drop"),
    ],
)
def test_operations_that_would_break_the_truth_are_refused(tmp_path, sample_drops, make, message):
    index = DropIndex(sim.manifest_of(sample_drops["north"]))
    with pytest.raises(sim.OperationInvalid, match=message):
        sim.apply_operations(
            sample_drops["north"], [make(index, index.studies()[0])], tmp_path / "o"
        )


def test_a_correction_at_the_wrong_level_is_refused_when_built():
    with pytest.raises(sim.OperationInvalid, match="cannot correct 'patient_name' at study level"):
        sim.Correct("study", "2.25.1", "patient_name", "FAKE^X")
