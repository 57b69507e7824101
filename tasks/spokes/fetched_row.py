"""The manifest row of an object a pull fetched, from one read of its file where it can be.

A usual object (see tasks.manifest.scan_walk) is read once into memory and its row made from the
Part 10 walk, the pixel data hashed where it lies; anything else, and any file the walk refuses,
is parsed by pydicom as before. Both give the same row (tests/unit/test_spoke_fetched_row.py)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from spokesync.catalog.errors import ObjectRefused
from spokesync.tasks.manifest.dicom_headers import manifest_row
from spokesync.tasks.manifest.fingerprints import read_with_fingerprint
from spokesync.tasks.manifest.part10 import MAP_ABOVE
from spokesync.tasks.manifest.scan_walk import walked_row


def fetched_row(path: Path, object_uri: str) -> dict[str, Any]:
    """The MANIFEST_SCHEMA row of the object at `path` (its object_size is the file's size)."""
    walked = _walked(path, object_uri)
    if walked is not None:
        return walked
    fingerprint, ds = read_with_fingerprint(path)  # refuses a bad file, naming its path
    size = path.stat().st_size
    return manifest_row(ds, object_uri=object_uri, object_size=size, fingerprint=fingerprint)


def _walked(path: Path, object_uri: str) -> dict[str, Any] | None:
    """The walked row, or None: a file too large to hold, unreadable, unusual or refused."""
    try:
        with open(path, "rb", buffering=0) as handle:
            if os.fstat(handle.fileno()).st_size > MAP_ABOVE:
                return None  # pydicom streams its pixel data instead of holding it
            data = handle.readall()
        found = walked_row(memoryview(data), os.fspath(path), object_uri)
    except (OSError, ObjectRefused):  # pydicom reads it again, to word the refusal as always
        return None
    return None if found is None else found[0]
