"""The index member each series TAR carries, so a lost catalog can be rebuilt from nearline.

`spokesync-index.json` names the hub, the volume, the run and its spoke, and per object member
its identity and the values the catalog tracks (as the manifest row said them when the object
was archived) and its fingerprint. TARs from before the index are read from their DICOM
headers instead (tasks/rebuild_read.py).
"""

from __future__ import annotations

import json

from spokesync.tasks.manifest.schema import (
    PATIENT_COLUMNS,
    REQUIRED_COLUMNS,
    SERIES_COLUMNS,
    STUDY_COLUMNS,
)

INDEX_FORMAT = 1
# The manifest columns the catalog keeps about an object (DESIGN §2), in the index per member.
INDEX_COLUMNS = (
    *REQUIRED_COLUMNS[:4],
    *PATIENT_COLUMNS,
    *STUDY_COLUMNS,
    *SERIES_COLUMNS,
    "instance_number",
    "transfer_syntax_uid",
)


def spoke_of(run_id: str) -> str:
    """The spoke a run belongs to, from its id `<spoke>-<yyyymmddThhmmss>-<hex>`."""
    return run_id.rsplit("-", 2)[0]


def build_index(
    hub: str, volume: str, run_id: str, rows: dict[str, dict], prints: dict[str, str]
) -> bytes:
    """The index of one TAR: {member name: manifest row} plus each member's fingerprint."""
    objects = {
        name: {c: row.get(c) for c in INDEX_COLUMNS} | {"fingerprint": prints[name]}
        for name, row in rows.items()
    }
    body = {
        "format": INDEX_FORMAT,
        "hub_id": hub,
        "volume": volume,
        "run_id": run_id,
        "spoke_id": spoke_of(run_id),
        "objects": objects,
    }
    return json.dumps(body, indent=1, sort_keys=True, default=str).encode("utf-8")


def parse_index(data: bytes) -> dict:
    """Read an index member back; refuse a format this version does not know."""
    body = json.loads(data.decode("utf-8"))
    if body.get("format") != INDEX_FORMAT:
        raise ValueError(f"index format {body.get('format')!r}, expected {INDEX_FORMAT}")
    return body
