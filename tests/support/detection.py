"""Helpers for detection tests: an archived hub to copy, the catalog's view, records found."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pyarrow.parquet as pq

from spokesync.catalog import open_catalog
from spokesync.catalog.changes import list_changes
from spokesync.tasks.config import add_spoke, load_config

VIEW_COLUMNS = (
    "sop_instance_uid",
    "series_instance_uid",
    "study_instance_uid",
    "patient_id",
    "patient_name",
    "accession_number",
    "study_id",
    "study_description",
    "series_description",
    "series_number",
)
VIEW_SQL = """
select i.sop_instance_uid, i.series_instance_uid, i.study_instance_uid, st.patient_id,
       p.patient_name, st.accession_number, st.study_id, st.study_description,
       se.series_description, se.series_number
from instances i join studies st using (study_instance_uid)
join series se using (series_instance_uid)
left join patients p
  on p.patient_id = st.patient_id and p.issuer_of_patient_id = st.issuer_of_patient_id
where i.status = 'active'
"""
# Every writer of a UID keeps its lookup key (catalog/sql/0004_lookup_keys.sql) in step.
STALE_KEYS_SQL = """
select instance_id from instances
where sop_key is distinct from uid_key(sop_instance_uid)
   or study_key is distinct from uid_key(study_instance_uid)
   or fp_key is distinct from uid_key(fingerprint)
"""


def copy_hub(template: Path, to: Path, spoke: str, drop: Path):
    """A private copy of an archived hub (relative paths make it relocatable), re-pointed."""
    shutil.copytree(template, to)
    add_spoke(to / "spokesync.toml", spoke, drop)
    return load_config(to / "spokesync.toml")


def export(config) -> dict[str, list]:
    """Every table of the catalog, fully, in a stable order."""
    with open_catalog(config.catalog) as con:
        names = [r[0] for r in con.execute("show tables").fetchall()]
        return {n: con.execute(f"select * from {n} order by all").fetchall() for n in names}


def nearline_files(config) -> dict[str, str]:
    """Every file on the configured volumes (temporary ones too) with its SHA-256."""
    found = {}
    for volume in config.volumes:
        found.update(file_hashes(Path(volume)))
    return found


def file_hashes(root: Path) -> dict[str, str]:
    """Every file and link under `root` with the SHA-256 of its bytes (a link's: its target)."""
    found = {}
    for path in sorted(root.rglob("*")):
        if path.is_symlink():
            found[str(path)] = "-> " + os.readlink(path)
        elif path.is_file():
            found[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def catalog_view(config) -> set[tuple]:
    """Every active instance as the catalog says it is now (its lookup keys checked on the way)."""
    with open_catalog(config.catalog) as con:
        assert con.execute(STALE_KEYS_SQL).fetchall() == []
        return set(con.execute(VIEW_SQL).fetchall())


def drop_view(drop: Path, studies: set[str] | None = None) -> set[tuple]:
    """Every manifest row of a drop, in the same shape as catalog_view."""
    rows = pq.read_table(drop / "manifest.parquet").to_pylist()
    return {
        tuple(r[c] for c in VIEW_COLUMNS)
        for r in rows
        if studies is None or r["study_instance_uid"] in studies
    }


def records_of_run(config, run_id: str) -> list[tuple]:
    """The run's cc records as comparable tuples (kind, status, sources, targets, attributes)."""
    with open_catalog(config.catalog) as con:
        found = [r for r in list_changes(con) if r["run_id"] == run_id]
    return sorted(
        _key(
            r["kind"], r["status"], r["source_study_uids"], r["target_study_uids"], r["attributes"]
        )
        for r in found
    )


def expected_records(truth) -> list[tuple]:
    return sorted(
        _key(r.kind, r.status, r.source_study_uids, r.target_study_uids, r.attributes or {})
        for r in truth.records
    )


def _key(kind, status, sources, targets, attributes) -> tuple:
    attrs = tuple(sorted((k, tuple(v)) for k, v in (attributes or {}).items()))
    return kind, status, tuple(sources), tuple(targets), attrs


def split_delete_correct(table) -> list:
    """A split, a deleted series and a corrected study description on north's first studies."""
    import simulator as sim

    studies = sim.study_uids(table)
    return [
        sim.split_half(table, studies[0], "orthanc"),
        sim.delete_last_series(table, studies[2]),
        sim.Correct("study", studies[3], "study_description", "CHANGED", "impax"),
    ]
