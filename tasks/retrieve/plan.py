"""What retrieving a study needs from the catalog, read in one short read-only visit: its
resolution (an old UID names the study it became), its instances on their volumes, the current
values of the study, its series and each object that differs, and the UID map."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from spokesync.catalog import read_catalog
from spokesync.catalog import retrieve as queries
from spokesync.catalog.retrieve import StoredInstance, StudyResolution
from spokesync.catalog.values import own_values
from spokesync.tasks.manifest.dicom_headers import INT_COLUMNS, TEXT_COLUMNS
from spokesync.tasks.manifest.schema import PATIENT_COLUMNS, SERIES_COLUMNS, STUDY_COLUMNS
from spokesync.tasks.nearline.tars import volume_path
from spokesync.tasks.nearline.volumes import on_volume_paths
from spokesync.tasks.retrieve.edit import Target, UidMap

if TYPE_CHECKING:
    from spokesync.tasks.config import Config

KEYWORDS = {**TEXT_COLUMNS, **INT_COLUMNS}  # catalog column -> DICOM keyword
Progress = Callable[[int, int], None]  # told (objects handed on, objects of the study)
STUDY_LEVEL = (*PATIENT_COLUMNS, *STUDY_COLUMNS)  # the catalog keeps them per study


@dataclass
class StudyPlan:
    """Everything retrieval needs from the catalog, read in one short visit."""

    resolution: StudyResolution
    instances: list[StoredInstance]
    study_values: dict
    series_values: dict[str, dict]
    uid_map: UidMap
    skipped: dict[str, int]
    own_values: dict[str, dict] = field(default_factory=dict)  # SOP UID -> values it differs in
    progress: Progress | None = None

    def target(self, inst: StoredInstance) -> Target:
        """The instance's current UIDs and tracked values, by DICOM keyword: its study's and
        series', replaced by its own where the spoke's objects of the study disagree."""
        values = {KEYWORDS[c]: self.study_values[c] for c in STUDY_LEVEL if c in self.study_values}
        series = self.series_values.get(inst.series_instance_uid)
        if series is not None:
            values.update({KEYWORDS[c]: series[c] for c in SERIES_COLUMNS})
        for column, value in self.own_values.get(inst.sop_instance_uid, {}).items():
            if column in KEYWORDS and (column in self.study_values or column in SERIES_COLUMNS):
                values[KEYWORDS[column]] = int(value) if column in INT_COLUMNS and value else value
        values["InstanceNumber"] = inst.instance_number
        return Target(inst.study_instance_uid, inst.series_instance_uid, inst.sop_instance_uid,
                      values)  # fmt: skip


def plan_study(config: Config, uid: str) -> StudyPlan:
    """Read what retrieving `uid` (a current or old study UID) needs, then close the catalog."""
    with read_catalog(config.catalog) as con:  # read-only: never the writer lock
        return read_plan(con, config, uid)


def read_plan(con: duckdb.DuckDBPyConnection, config: Config, uid: str) -> StudyPlan:
    """The plan for `uid` (a current or old study UID), read through an open catalog."""
    study = (resolution := queries.resolve_study(con, uid)).study_uid
    return StudyPlan(
        resolution,
        on_volume_paths(config, queries.active_instances(con, study)),
        queries.study_values(con, study),
        queries.series_values(con, study),
        UidMap(queries.uid_map(con, study)),
        queries.skipped_instances(con, study),
        own_values(con, study),
    )


def tar_of(inst: StoredInstance) -> Path:
    """The TAR file that holds the instance's stored object."""
    return volume_path(Path(inst.volume), inst.tar_path)
