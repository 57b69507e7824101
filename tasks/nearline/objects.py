"""One new object on its way into a series TAR: found in the drop, read once, checked against
its manifest row (DESIGN §2, §3) and hashed, ready for the TAR writer.

`prepare` runs in the worker threads of tasks.nearline.read_ahead: the object is read into a
reused buffer, its header walked once for completeness, identity and pixel data, and both its
SHA-256 and its fingerprint computed there (hashlib releases the GIL on large buffers), while
the writer copies the objects before it into the TAR.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from spokesync.catalog.errors import ObjectRefused
from spokesync.tasks.manifest.dicom_headers import identity_disagreements
from spokesync.tasks.manifest.fingerprint_buffer import inspect_object
from spokesync.tasks.manifest.fingerprints import read_with_fingerprint
from spokesync.tasks.nearline.read_ahead import read_into
from spokesync.tasks.nearline.tars import Hashed, Source


@dataclass(frozen=True)
class Ready:
    """One object read, checked against its manifest row and hashed: ready for its TAR."""

    name: str
    source: Hashed | Path
    fingerprint: str


def object_of(row: dict) -> str:
    """Name a manifest row's object for an error: its SOP UID and row (1 = first data row)."""
    where = f"SOP instance {row['sop_instance_uid']}"
    if row.get("row_id") is not None:
        where += f" (manifest row {row['row_id'] + 1})"
    return where


def resolve_object(drop: Path, row: dict, root: Path | None = None) -> Path:
    """The object's file inside the drop; refuse a missing URI, web URIs (not yet) and escapes.
    `root` is the drop's resolved path, when the caller already has it."""
    uri, what = row.get("object_uri"), object_of(row)
    if not uri:
        raise ObjectRefused(
            f"{what} is new to the hub but its manifest row has no object_uri; send the "
            "object with the drop"
        )
    if uri.startswith(("http://", "https://")):
        raise ObjectRefused(
            f"{what}: fetching {uri} over the web is not supported "
            "for drop spokes; put the file in the drop's objects/ folder"
        )
    root = root or drop.resolve()
    plain = _plain_file(root, uri)
    if plain is not None:
        return plain
    path = (drop / uri).resolve()
    if not path.is_relative_to(root):
        raise ObjectRefused(
            f"{what}: object_uri {uri!r} leads outside the drop "
            "folder (through a symlink?); keep objects inside the drop"
        )
    if not path.is_file():
        raise ObjectRefused(f"{what}: object file {uri!r} is missing from the drop")
    return path


def _plain_file(root: Path, uri: str) -> Path | None:
    """The regular file `uri` names below `root` when no part of it is a link, '.' or '..'
    (a few lstat calls instead of a full resolve); None when it needs the full check."""
    parts = uri.split("/")
    if any(part in ("", ".", "..") for part in parts):
        return None
    current = str(root)
    for part in parts:
        current = os.path.join(current, part)
        try:
            mode = os.lstat(current).st_mode
        except OSError:
            return None
        if stat.S_ISLNK(mode):
            return None
    return Path(current) if stat.S_ISREG(mode) else None


def prepare(job: tuple[str, tuple[dict, Path]], buffer: bytearray) -> tuple[Ready, bytearray]:
    """In a worker thread: read the object once, walk and check it, hash it and its pixels."""
    name, (row, path) = job
    try:
        data, buffer = read_into(path, buffer)
        found = None if data is None else inspect_object(data, str(path))
    except OSError as exc:  # vanished or unreadable since the drop was listed
        raise _refused(row, ObjectRefused(f"cannot be read ({exc.strerror or exc})")) from exc
    except ObjectRefused as exc:
        raise _refused(row, exc) from exc
    if data is None or found is None:  # too large to hold: checked from its file, then copied
        return Ready(name, path, verified_fingerprint(row, path)), buffer
    computed = found.fingerprint_now()
    _check_against_row(row, found.header, computed)
    return Ready(name, Hashed(data, hashlib.sha256(data).hexdigest()), computed), buffer


def recorded(ready: Iterator[Ready], prints: dict[str, str]) -> Iterator[tuple[str, Source]]:
    """The members for the TAR writer, each one's fingerprint noted for the index and catalog."""
    for item in ready:
        prints[item.name] = item.fingerprint
        yield item.name, item.source


def verified_fingerprint(row: dict, path: Path) -> str:
    """Read the object once; refuse it when its header names another object than its manifest
    row (DESIGN §2, checked even for a null fingerprint) or its bytes another fingerprint."""
    try:
        computed, ds = read_with_fingerprint(path)
    except ObjectRefused as exc:  # the file's problem, said for the manifest row that sent it
        raise _refused(row, exc) from exc
    _check_against_row(row, ds, computed)
    return computed


def _refused(row: dict, exc: ObjectRefused) -> ObjectRefused:
    return ObjectRefused(
        f"{object_of(row)}, {row['object_uri']}: {exc}; the object was not archived. "
        "Resend the object as the spoke holds it"
    )


def _check_against_row(row: dict, header: object, computed: str) -> None:
    """Refuse an object whose header or fingerprint disagrees with its manifest row."""
    differing = identity_disagreements(header, row)
    if differing:
        raise ObjectRefused(
            f"{object_of(row)}, {row['object_uri']}: the object's header disagrees with its "
            f"manifest row on {', '.join(differing)}; the object was not archived. Rebuild "
            "the manifest from the objects (spokesync manifest build), or resend the object "
            "the row names"
        )
    promised = row.get("fingerprint")
    if promised and promised != computed:
        raise ObjectRefused(
            f"{object_of(row)}, {row['object_uri']}: the object's fingerprint is"
            f" {computed} but the manifest says {promised}; the object was not "
            "archived. Rebuild the manifest from the objects, or resend the object"
        )
