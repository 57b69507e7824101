"""The demo's second act: one change of every kind at the sample spokes, made by the simulator.

South also holds copies of two north studies: north splits one of them on night 2, so south's
copy turns stale; south corrects the other, a change to a study north owns.
"""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

import simulator as sim
from spokesync.tasks.manifest.build import write_manifest

TWINS_STUDY = 4  # south's study that holds identical twins from the start (for AMBIGUOUS)
COPIED = (0, 4)  # north studies that south also holds: split by north / corrected by south


def north_copies(north_drop: Path) -> list[str]:
    return [sim.study_uids(sim.manifest_of(north_drop))[i] for i in COPIED]


def first_act_drop(spoke: str, built: Path, data_dir: Path, north_drop: Path) -> Path:
    """The drop night 1 archives; south's carries twins and copies of two north studies."""
    if spoke != "south":
        return built
    out = data_dir / "drops" / "south-night1"
    if not (out / "manifest.json").exists():
        twins = data_dir / "drops" / "south-twins"
        if not (twins / "manifest.json").exists():
            study = sim.study_uids(sim.manifest_of(built))[TWINS_STUDY]
            sim.apply_operations(built, [sim.AddTwins(study)], twins, seed="demo-twins")
        _with_copies(twins, north_drop, north_copies(north_drop), out)
    return out


def _with_copies(drop: Path, other: Path, studies: list[str], out: Path) -> None:
    """A drop holding `drop` plus the rows (and object files) of `studies` from `other`."""
    theirs = sim.manifest_of(other)
    theirs = theirs.filter(pc.is_in(theirs.column("study_instance_uid"), pa.array(studies)))
    for uri in (
        theirs.column("object_uri").to_pylist()
        + sim.manifest_of(drop).column("object_uri").to_pylist()
    ):
        source = (other if (other / uri).exists() else drop) / uri
        target = out / uri
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            os.link(source, target)
    rows = pa.concat_tables([sim.manifest_of(drop).select(theirs.column_names), theirs])
    write_manifest(rows, out, "south")


def second_act_ops(spoke: str, table, copies: list[str]) -> list:
    """North moves images between studies; south corrects, deletes, adds and blurs."""
    if spoke == "north":
        studies = sim.study_uids(table)
        return [
            sim.split_half(table, studies[0], "orthanc"),
            sim.merge_studies(table, studies[1:3], "impax"),
            sim.segment_in_two(table, studies[3], "orthanc"),
            sim.fix_uid(table, studies[4], "impax"),
        ]
    studies = [s for s in sim.study_uids(table) if s not in copies]
    patient = sim.patient_ids(
        table.filter(pc.is_in(table.column("study_instance_uid"), pa.array(studies)))
    )[0]
    return [
        sim.Correct("study", studies[0], "study_description", "CT CHEST (CORRECTED)", "impax"),
        sim.delete_last_series(table, studies[1]),
        sim.DeleteStudy(studies[2], "113039"),
        sim.AddObject(studies[3], "PR", "impax"),
        sim.NewStudy(sim.PatientRef(patient), 3, "impax"),
        sim.Ambiguous(studies[TWINS_STUDY]),
        sim.Correct("study", copies[1], "study_description", "SOUTH'S READING", "impax"),
    ]


def second_act_drop(
    spoke: str, current: Path, data_dir: Path, copies: list[str]
) -> tuple[Path, int]:
    """Write the changed drop (once) and return it with the number of expected records."""
    out = data_dir / "drops" / f"{spoke}-night2"
    if not (out / "manifest.json").exists():
        ops = second_act_ops(spoke, sim.manifest_of(current), copies)
        truth = sim.apply_operations(current, ops, out, seed=f"demo-{spoke}")
        return out, len(truth.records)
    return out, 0
