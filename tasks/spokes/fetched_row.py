"""The manifest row of an object a pull fetched, from one read of its file where it can be.

A usual object (see tasks.manifest.scan_walk) is read once into memory and its row made from the
Part 10 walk, the pixel data hashed where it lies; anything else, and any file the walk refuses,
is parsed by pydicom as before. Both give the same row (tests/unit/test_spoke_fetched_row.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from spokesync.tasks.manifest.dicom_headers import manifest_row
from spokesync.tasks.manifest.fingerprints import read_with_fingerprint
from spokesync.tasks.manifest.scan_walk import walked_file


def fetched_row(path: Path, object_uri: str) -> dict[str, Any]:
    """The MANIFEST_SCHEMA row of the object at `path` (its object_size is the file's size)."""
    walked = walked_file(path, object_uri)
    if walked is not None:
        return walked[0]
    fingerprint, ds = read_with_fingerprint(path)  # refuses a bad file, naming its path
    size = path.stat().st_size
    return manifest_row(ds, object_uri=object_uri, object_size=size, fingerprint=fingerprint)
