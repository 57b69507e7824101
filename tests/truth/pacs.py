"""The oracle over a real Orthanc spoke: Orthanc's own REST operations, pulled by the hub over
DICOMweb or DIMSE, judged by the files Orthanc holds afterwards."""

from __future__ import annotations

from pathlib import Path

from tests.support import orthanc_ops
from tests.support.orthanc import Orthanc
from tests.support.pacs import spoke_body
from tests.truth.compare import by_sop
from tests.truth.hub import Hub
from tests.truth.moves import APPLIED, PENDING, Expected
from tests.truth.oracle import Night, check_objects, next_out, reconcile_night, verify_into


def modify_without_keep(orthanc: Orthanc) -> Expected:
    """Orthanc's study modify without Keep: new study, series and SOP UIDs and a corrected
    value. DESIGN §4: a study whose UID changed waits for review, whatever changed with it."""
    source = next(iter(orthanc_ops.studies_by_patient(orthanc).values()))[0]
    answer = orthanc.rest("POST", f"/studies/{orthanc.lookup(source)}/modify",
                          json={"Replace": {"StudyDescription": "Corrected by modify"},
                                "KeepSource": False})  # fmt: skip
    target = orthanc.rest("GET", answer["Path"])["MainDicomTags"]["StudyInstanceUID"]
    return "UID_FIX", PENDING, (source,), (target,)


def split_to_other_patient(orthanc: Orthanc) -> Expected:
    """Orthanc's /split of a study's first series to a new study of another patient, that
    patient's values replacing the moved objects' (and removing those it has none of)."""
    patients = list(orthanc_ops.studies_by_patient(orthanc).items())
    # A study that keeps a series: moving a whole study is a UID fix, not a split (DESIGN §4).
    source, other = next(
        (study, them)
        for patient, studies in patients
        for study in studies
        if len(orthanc.series_of(study)) >= 2
        for them, _ in patients
        if them != patient
    )
    found = orthanc.rest(
        "POST", "/tools/find", json={"Level": "Patient", "Query": {"PatientID": other}}
    )
    tags = orthanc.rest("GET", f"/patients/{found[0]}")["MainDicomTags"]
    keywords = ("PatientID", "PatientName", "PatientBirthDate", "PatientSex")
    answer = orthanc.rest("POST", f"/studies/{orthanc.lookup(source)}/split", json={
        "Series": [orthanc.series_of(source)[0]["ID"]], "KeepSource": False,
        "Replace": {k: tags[k] for k in keywords if tags.get(k)},
        "Remove": [k for k in keywords if not tags.get(k)],
    })  # fmt: skip
    return "SPLIT", APPLIED, (source,), (answer["TargetStudyUID"],)


def delete_series(orthanc: Orthanc) -> Expected:
    """Delete the last series of a study that keeps another (so the study is still reported)."""
    studies = [s for held in orthanc_ops.studies_by_patient(orthanc).values() for s in held]
    study = next(s for s in studies if len(orthanc.series_of(s)) >= 2)
    orthanc.rest("DELETE", f"/series/{orthanc.series_of(study)[-1]['ID']}")
    return "DELETE", APPLIED, (study,), ()


def _applied(operation):
    def run(orthanc: Orthanc) -> Expected:
        kind, sources, targets = operation(orthanc)
        return kind, APPLIED, sources, targets

    run.__name__ = operation.__name__
    return run


OPERATIONS = {
    "split": split_to_other_patient,
    "merge": _applied(orthanc_ops.merge_two_studies),
    "delete_instance": _applied(orthanc_ops.delete_instance),
    "delete_series": delete_series,
    "new_pr": _applied(orthanc_ops.store_presentation_state),
    "new_sc": _applied(orthanc_ops.store_secondary_capture),
    "modify_without_keep": modify_without_keep,
}


def start(hub: Hub, orthanc: Orthanc, files: list[Path], protocol: str) -> Night:
    """Load Orthanc with the spoke's files and let the hub archive it over `protocol`."""
    orthanc.reset()
    orthanc.upload(files)
    hub.use_pacs(spoke_body(orthanc, protocol))
    held = held_by(orthanc, hub.folder / "orthanc-0")
    night = Night(["initial"], expected=[("NEW_OBJECTS", APPLIED, (), (s,)) for s in held])
    return check(hub, orthanc, night)


def run_night(hub: Hub, orthanc: Orthanc, names: list[str]) -> Night:
    night = Night(list(names), expected=[OPERATIONS[name](orthanc) for name in names])
    return check(hub, orthanc, night)


def check(hub: Hub, orthanc: Orthanc, night: Night) -> Night:
    if reconcile_night(hub, night):
        out = next_out(hub)
        night.differing = check_objects(hub, held_by(orthanc, out / "orthanc"), out)
    verify_into(hub, night)
    return night


def held_by(orthanc: Orthanc, folder: Path) -> dict[str, dict[str, dict]]:
    """{study: {SOP UID: facts}} of what Orthanc holds now, read from its stored files."""
    studies: dict[str, dict[str, dict]] = {}
    for sop, found in by_sop(orthanc.files(folder).values()).items():
        studies.setdefault(found["study_instance_uid"], {})[sop] = found
    return studies
