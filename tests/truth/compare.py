"""Object-by-object comparison of what the hub sends with what the spoke holds (DESIGN §8)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pydicom
from pydicom.dataset import Dataset

from spokesync.tasks.manifest.dicom_headers import manifest_row

UNCOMPARED = ("object_uri", "object_size", "fingerprint")


def facts(ds: Dataset) -> dict[str, object]:
    """Every manifest column the hub keeps, the file meta's SOP UID and the pixel bytes' hash."""
    row = manifest_row(ds, object_uri=None, object_size=None, fingerprint=None)
    found = {k: v for k, v in row.items() if k not in UNCOMPARED}
    meta = getattr(ds, "file_meta", None)
    found["media_storage_sop_instance_uid"] = (
        meta.get("MediaStorageSOPInstanceUID") if meta else None
    )
    found["pixel_sha256"] = hashlib.sha256(ds.PixelData).hexdigest() if "PixelData" in ds else None
    return found


def by_sop(files) -> dict[str, dict[str, object]]:
    """{SOP UID as the object says: facts} for a collection of DICOM files."""
    out = {}
    for path in files:
        ds = pydicom.dcmread(path)
        out[str(ds.SOPInstanceUID)] = facts(ds)
    return out


def differences(spoke: dict[str, dict], hub: dict[str, dict]) -> list[str]:
    """Every way the hub's objects differ from the spoke's: missing, extra, value by value."""
    found = [
        f"{sop}: held by the spoke, not sent by the hub"
        for sop in sorted(spoke.keys() - hub.keys())
    ]
    found += [
        f"{sop}: sent by the hub, not held by the spoke"
        for sop in sorted(hub.keys() - spoke.keys())
    ]
    for sop in sorted(spoke.keys() & hub.keys()):
        for name, value in spoke[sop].items():
            if hub[sop].get(name) != value:
                found.append(f"{sop}: {name} spoke={value!r} hub={hub[sop].get(name)!r}")
    return found


def files_of(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())
