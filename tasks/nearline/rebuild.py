"""Rebuild a lost catalog from nearline alone (DESIGN §7: the nearline is self-describing).

Every TAR names its run (its file name) and carries SHA256SUMS; TARs written since the index
member also carry each object's identity and tracked values (`spokesync-index.json`), older ones
are read from the members' DICOM headers. Runs are indexed in the order they ran, through the
same SQL that archives a run, so the first archive of a patient or study sets its values as it
did then. What only lived in the change log (corrections, moves, deletions) comes back with the
spokes' next manifests.
"""

from __future__ import annotations

import io
import logging
import os
import secrets
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pydicom

from spokesync.catalog import open_catalog
from spokesync.catalog.errors import NearlineUnsafe
from spokesync.catalog.rebuild import insert_run_objects, record_hub, rows_table
from spokesync.tasks.manifest.dicom_headers import manifest_row
from spokesync.tasks.manifest.fingerprints import fingerprint_bytes
from spokesync.tasks.nearline.archive import STORED_SCHEMA
from spokesync.tasks.nearline.index import INDEX_COLUMNS, parse_index, spoke_of
from spokesync.tasks.nearline.listing import list_tars
from spokesync.tasks.nearline.members import read_member
from spokesync.tasks.nearline.tars import INDEX_NAME, SUMS_NAME
from spokesync.tasks.nearline.volume_check import read_headers, read_sha256sums
from spokesync.tasks.nearline.volumes import Marker, read_marker, write_marker

if TYPE_CHECKING:
    from spokesync.tasks.config import Config

log = logging.getLogger("spokesync.rebuild")


@dataclass
class RunObjects:
    """What nearline holds of one run: manifest-shaped rows and stored-object rows."""

    run_id: str
    rows: list[dict] = field(default_factory=list)
    stored: list[dict] = field(default_factory=list)
    tars: int = 0


def nearline_hub(config: Config) -> str | None:
    """The hub id the configured volumes' markers agree on (None: volumes from before markers)."""
    hubs = set()
    for name, path in config.named_volumes().items():
        if not Path(path).is_dir():
            raise NearlineUnsafe(f"volume {name!r} at {path} does not exist; mount it first")
        marker = read_marker(path)
        if marker is not None:
            hubs.add(marker.hub_id)
    if len(hubs) > 1:
        raise NearlineUnsafe(
            f"the configured volumes belong to several hubs ({', '.join(sorted(hubs))}); "
            "configure only this hub's volumes, then rebuild"
        )
    return hubs.pop() if hubs else None


def read_nearline(config: Config, *, use_index: bool = True) -> list[RunObjects]:
    """Every run found on the configured volumes, in the order the runs started."""
    runs: dict[str, RunObjects] = {}
    for name, path in config.named_volumes().items():
        for relpath in list_tars(path):
            run_id, objects = read_tar(name, Path(path), relpath, use_index=use_index)
            run = runs.setdefault(run_id, RunObjects(run_id))
            run.tars += 1
            for row, stored in objects:
                run.rows.append(row)
                run.stored.append(stored)
    return sorted(runs.values(), key=lambda r: (r.run_id.rsplit("-", 2)[1], r.run_id))


def read_tar(
    volume: str, root: Path, relpath: str, *, use_index: bool = True
) -> tuple[str, list[tuple[dict, dict]]]:
    """One TAR's run id and, per object member, its manifest-shaped row and stored row
    (`use_index=False` reads the members' DICOM headers, as for TARs from before the index)."""
    path = root / relpath
    layout = {name: (offset, size) for name, offset, size in read_headers(path)}
    sums = read_sha256sums(path)
    index = None
    if INDEX_NAME in layout and use_index:
        index = parse_index(read_member(path, *layout[INDEX_NAME], sums.get(INDEX_NAME)))
    run_id = index["run_id"] if index else Path(relpath).stem
    objects = []
    for name, (offset, size) in layout.items():
        if name in (SUMS_NAME, INDEX_NAME):
            continue
        row = index["objects"][name] if index else _from_headers(path, offset, size, sums[name])
        where = {"volume": volume, "tar_path": relpath, "member_name": name}
        stored = where | {"sop_instance_uid": row["sop_instance_uid"], "data_offset": offset,
                          "size": size, "sha256": sums[name]}  # fmt: skip
        stored["fingerprint"] = row["fingerprint"]
        objects.append((row, stored))
    return run_id, objects


def _from_headers(path: Path, offset: int, size: int, sha256: str) -> dict:
    """An object's row from its own DICOM header, for TARs written before the index member."""
    data = read_member(path, offset, size, sha256)
    ds = pydicom.dcmread(io.BytesIO(data), force=True, stop_before_pixels=False)
    row = manifest_row(ds, object_uri=None, object_size=size, fingerprint=fingerprint_bytes(data))
    return {c: row.get(c) for c in (*INDEX_COLUMNS, "fingerprint")}


def counts(runs: list[RunObjects]) -> dict[str, int]:
    """Runs, TARs and objects found, for the command's summary."""
    per = defaultdict(int)
    for run in runs:
        per["runs"] += 1
        per["tars"] += run.tars
        per["objects"] += len(run.stored)
    return dict(per)


def rebuild_catalog(config: Config, *, use_index: bool = True) -> dict:
    """Index every TAR of the configured volumes into a new catalog at the configured path;
    an existing catalog file is moved aside first (never deleted). Returns counts."""
    hub = nearline_hub(config)
    aside = move_catalog_aside(Path(config.catalog))
    runs = read_nearline(config, use_index=use_index)
    with open_catalog(config.catalog) as con:
        for run in runs:
            started = datetime.strptime(run.run_id.rsplit("-", 2)[1], "%Y%m%dT%H%M%S")
            insert_run_objects(
                con, run.run_id, spoke_of(run.run_id), started.replace(tzinfo=UTC),
                rows_table(run.rows, (*INDEX_COLUMNS, "fingerprint")),
                pa.Table.from_pylist(run.stored, schema=STORED_SCHEMA), run.tars,
            )  # fmt: skip
        hub = hub or f"hub-{secrets.token_hex(8)}"
        record_hub(con, hub, list(config.named_volumes()))
    for name, path in config.named_volumes().items():
        if read_marker(path) is None:  # volumes from before markers are marked now
            write_marker(path, Marker(hub, name))
    return counts(runs) | {"hub_id": hub, "moved_aside": str(aside) if aside else None}


def move_catalog_aside(catalog: Path) -> Path | None:
    """Rename an existing catalog (and its WAL) to `<name>.before-rebuild-<time>`."""
    if not catalog.exists():
        return None
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    target = catalog.with_name(f"{catalog.name}.before-rebuild-{stamp}")
    for suffix in ("", ".wal"):
        source = catalog.with_name(catalog.name + suffix)
        if source.exists():
            os.rename(source, target.with_name(target.name + suffix))
    return target
