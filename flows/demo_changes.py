"""The demo's second act: one change of every kind at the sample spokes, made by the simulator."""

from __future__ import annotations

from pathlib import Path

from tasks import simulator as sim

TWINS_STUDY = 4  # south's study that holds identical twins from the start (for AMBIGUOUS)


def first_act_drop(spoke: str, built: Path, data_dir: Path) -> Path:
    """The drop the first night archives; south's carries twin objects for the ambiguous case."""
    if spoke != "south":
        return built
    out = data_dir / "drops" / "south-night1"
    if not (out / "manifest.json").exists():
        study = sim.study_uids(sim.manifest_of(built))[TWINS_STUDY]
        sim.apply_operations(built, [sim.AddTwins(study)], out, seed="demo-twins")
    return out


def second_act_ops(spoke: str, table) -> list:
    """North moves images between studies; south corrects, deletes, adds and blurs."""
    studies = sim.study_uids(table)
    if spoke == "north":
        return [
            sim.split_half(table, studies[0], "orthanc"),
            sim.merge_studies(table, studies[1:3], "impax"),
            sim.segment_in_two(table, studies[3], "orthanc"),
            sim.fix_uid(table, studies[4], "impax"),
        ]
    patient = sim.patient_ids(table)[0]
    return [
        sim.Correct("study", studies[0], "study_description", "CT CHEST (CORRECTED)", "impax"),
        sim.delete_last_series(table, studies[1]),
        sim.DeleteStudy(studies[2], "113039"),
        sim.AddObject(studies[3], "PR", "impax"),
        sim.NewStudy(sim.PatientRef(patient), 3, "impax"),
        sim.Ambiguous(studies[TWINS_STUDY]),
    ]


def second_act_drop(spoke: str, current: Path, data_dir: Path) -> tuple[Path, int]:
    """Write the changed drop (once) and return it with the number of expected records."""
    out = data_dir / "drops" / f"{spoke}-night2"
    if not (out / "manifest.json").exists():
        truth = sim.apply_operations(
            current, second_act_ops(spoke, sim.manifest_of(current)), out, seed=f"demo-{spoke}"
        )
        return out, len(truth.records)
    return out, 0
