"""Write the simulated drop: objects, manifest, deletions and ground truth, as one new folder.

Untouched objects are hard-linked (or copied) byte for byte; rewritten and new objects are
saved with pydicom and their manifest rows are read back from the written files, so every row
agrees with its object. The folder appears under its name only once it is complete.
"""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from simulator.ops import OperationInvalid
from simulator.state import KEYWORDS, DropState, Instance
from simulator.truth import GroundTruth
from spokesync.tasks.manifest.build import place_object, write_manifest
from spokesync.tasks.manifest.dicom_headers import manifest_row
from spokesync.tasks.manifest.fingerprints import read_with_fingerprint

LATER_BY = timedelta(seconds=1)  # the smallest step a stamp shows: later, and not in the future
DELETIONS_SCHEMA = pa.schema(
    [(name, pa.string()) for name in ("level", "uid", "reason_code", "reason_text")]
)


def new_generated_at(state: DropState, moment: datetime | None = None) -> datetime:
    """Return the new drop's generated_at: `moment`, by default the input's plus one second.

    The default keeps the output deterministic; it must be later than the input's either way.
    """
    moment = moment or state.generated_at + LATER_BY
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if moment <= state.generated_at:
        raise OperationInvalid("generated_at must be later than the input drop's")
    return moment


def check_target(drop: Path, out: Path) -> None:
    """Refuse an output folder that is not empty or that lies inside the input drop."""
    if out == drop or out.is_relative_to(drop) or drop.is_relative_to(out):
        raise OperationInvalid(f"write the new drop beside the input drop, not in it ({out.name})")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise OperationInvalid(f"{out.name} exists and is not empty; choose a new folder")


def write_result(state: DropState, out: Path, truth: GroundTruth, moment: datetime) -> None:
    """Write every object and the drop's files into a partial folder, then rename it to `out`."""
    partial = out.with_name(f".{out.name}.part")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        _write_files(state, partial, truth, moment)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    if out.exists():
        out.rmdir()
    os.replace(partial, out)


def _write_files(state: DropState, folder: Path, truth: GroundTruth, moment: datetime) -> None:
    """Write objects, manifest (rows sorted by UIDs), deletions and ground truth into `folder`."""
    rows = [_write_object(inst, folder) for inst in state.instances.values()]
    rows.sort(key=lambda r: (r["study_instance_uid"], r["series_instance_uid"],
                             r["sop_instance_uid"]))  # fmt: skip
    write_manifest(rows, folder, state.spoke, moment)
    if state.deletions:
        deletions = pa.Table.from_pylist(state.deletions, schema=DELETIONS_SCHEMA)
        pq.write_table(deletions, folder / "deletions.parquet")
    truth.write(folder / "ground_truth.json")


def _write_object(inst: Instance, out: Path) -> dict[str, Any]:
    """Place or write one object and return its manifest row."""
    if not inst.changed:
        place_object(inst.origin, out / inst.row["object_uri"])
        return dict(inst.row)
    uri = f"objects/sim/{inst.sop}.dcm"
    target = out / uri
    target.parent.mkdir(parents=True, exist_ok=True)
    inst.render().save_as(target, enforce_file_format=True)
    fingerprint, header = read_with_fingerprint(target)
    row = manifest_row(header, object_uri=uri, object_size=target.stat().st_size,
                       fingerprint=fingerprint)  # fmt: skip
    _check_row(inst, row)
    return row


def _check_row(inst: Instance, row: dict[str, Any]) -> None:
    """Fail loudly if the written object does not say what the simulation decided."""
    for column in KEYWORDS:
        if row.get(column) != inst.row.get(column):
            raise RuntimeError(
                f"simulator bug: object {inst.sop} was written with another {column} than planned"
            )
    expected = inst.row.get("fingerprint")
    if expected and row["fingerprint"] != expected:
        raise RuntimeError(f"simulator bug: object {inst.sop} changed its content fingerprint")
