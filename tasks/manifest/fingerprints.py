"""Content fingerprints (DESIGN §3, v1) that recognise an object after a PACS gave it new UIDs.

The exact algorithm, its rationale and its limits are in docs/fingerprints.md; keep the two in
step. Pure functions: the only I/O is reading the bytes or the file that is passed in.
"""

from __future__ import annotations

import hashlib
import io
import os
import warnings
from typing import BinaryIO

import pydicom
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset
from pydicom.sequence import Sequence
from pydicom.tag import BaseTag, Tag
from pydicom.uid import DeflatedExplicitVRLittleEndian

from spokesync.catalog.errors import ObjectRefused
from spokesync.tasks.manifest.part10 import UNDEFINED, check_complete

PIXEL_PREFIX = "px1:"
DATASET_PREFIX = "ds1:"

# Checked in this order; an IOD holds at most one of them.
PIXEL_TAGS = (Tag(0x7FE0, 0x0010), Tag(0x7FE0, 0x0008), Tag(0x7FE0, 0x0009))

# Patient, study and series identity: what a PACS rewrites when it splits, merges, corrects or
# matches a study to an order. All of group 0010 (the patient, incl. patient-study demographics),
# these study-level attributes (General Study module, order context, and Orthanc's study "main
# tags", which it copies into merged objects) and the §2 series columns.
PATIENT_GROUP = 0x0010
# fmt: off
STUDY_TAGS = frozenset(Tag(t) for t in (
    0x00080020, 0x00080030, 0x00080050, 0x00080051,  # study date/time, accession (+ issuer)
    0x00080080, 0x00080090, 0x00080096, 0x0008009C,  # institution, referring, consulting
    0x0008009D, 0x00080201, 0x00081030, 0x00081032,  # ..., time zone, description, procedure
    0x00081048, 0x00081049, 0x00081060, 0x00081062,  # physicians of record / reading
    0x00081080, 0x00081084, 0x00081110, 0x00200010,  # admitting diagnoses, ref. study, study ID
    0x0032000A, 0x00321032, 0x00321033, 0x00321034,  # status, requesting physician/service
    0x00321060, 0x00321064, 0x00380010, 0x00380014,  # requested procedure, admission ID
    0x00400275, 0x00401001, 0x00401012, 0x0040A370,  # request attributes, requested proc. ID
))
SERIES_TAGS = frozenset(Tag(t) for t in (0x00080060, 0x0008103E, 0x00200011))

# Bookkeeping that changes while the content does not: audit trails of corrections (the hub adds
# Original Attributes itself on retrieval), signatures that edits void, trailing padding.
BOOKKEEPING_TAGS = frozenset(Tag(t) for t in (
    0x04000561, 0x0018A001, 0x4FFE0001, 0xFFFAFFFA, 0xFFFCFFFC))
# fmt: on
DROPPED_TAGS = STUDY_TAGS | SERIES_TAGS | BOOKKEEPING_TAGS

# Large values are left in the file while parsing and hashed by streaming them.
DEFER_SIZE = 64 * 1024
_CHUNK = 1024 * 1024


def fingerprint_dataset(ds: Dataset) -> str:
    """Return the v1 fingerprint of a parsed dataset without changing it or decoding pixels."""
    tag = pixel_tag(ds)
    if tag is not None:
        return PIXEL_PREFIX + hashlib.sha256(_pixel_value(ds, tag)).hexdigest()
    return DATASET_PREFIX + hashlib.sha256(canonical_bytes(ds)).hexdigest()


def fingerprint_bytes(data: bytes, *, name: str = "<bytes>") -> str:
    """Return the v1 fingerprint of a DICOM Part 10 file held in memory; `name` labels errors."""
    return parse_with_fingerprint(data, name)[0]


def parse_with_fingerprint(data: bytes | memoryview, name: str) -> tuple[str, Dataset]:
    """Parse a Part 10 file held in memory whole; return its fingerprint and its dataset."""
    ds = _parse(io.BytesIO(data), name, len(data))
    return _named(name, ds), ds


def fingerprint_file(path: str | os.PathLike[str]) -> str:
    """Return the v1 fingerprint of a DICOM Part 10 file, streaming its pixel data from disk."""
    return read_with_fingerprint(path)[0]


def read_with_fingerprint(path: str | os.PathLike[str]) -> tuple[str, Dataset]:
    """Read a file once and return its fingerprint and its dataset (large values left deferred).

    Pixel data is hashed straight from the file in chunks, so it is never decoded nor held in
    memory whole (except encapsulated pixel data, which pydicom always loads).
    """
    name = os.fspath(path)
    try:
        size = os.path.getsize(name)
        with open(name, "rb") as fp:
            ds = _parse(fp, name, size, defer=True)
            tag = pixel_tag(ds)
            if tag is not None and not _deflated(ds):
                return PIXEL_PREFIX + _hash_pixels(fp, ds, tag, name), ds
    except OSError as exc:
        raise ObjectRefused(f"{name}: cannot be read ({exc.strerror or exc})") from exc
    if _has_deferred(ds):
        with open(name, "rb") as fp:  # a big non-pixel value: read it all for the canonical form
            ds = _parse(fp, name, size)
    return _named(name, ds), ds


def pixel_tag(ds: Dataset) -> BaseTag | None:
    """Return the top-level pixel data tag that decides a px1 fingerprint, if there is one."""
    return next((tag for tag in PIXEL_TAGS if tag in ds), None)


def canonical_bytes(ds: Dataset) -> bytes:
    """Encode the identity-free copy of `ds` as Explicit VR Little Endian, the ds1 hash input."""
    fp = DicomBytesIO()
    fp.is_little_endian = True
    fp.is_implicit_VR = False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom's value-validation chatter is not our business
        try:
            write_dataset(fp, _strip(ds))
        except Exception as exc:  # a value pydicom cannot encode: no fingerprint is possible
            problem = f"the dataset cannot be encoded for its fingerprint ({exc})"
            raise ObjectRefused(problem) from exc
    return fp.getvalue()


def kept_in_canonical_form(elem: DataElement) -> bool:
    """Tell whether an element stays in the ds1 canonical form (see docs/fingerprints.md)."""
    tag = elem.tag
    return not (
        tag.group in (0x0002, PATIENT_GROUP)
        or tag.element == 0x0000
        or tag.is_private
        or elem.VR == "UI"
        or tag in DROPPED_TAGS
    )


def _strip(ds: Dataset) -> Dataset:
    """Build a new dataset without the dropped elements; every sequence gets undefined length."""
    out = Dataset()
    for elem in ds:  # iteration converts raw elements; the caller's values are never changed
        if not kept_in_canonical_form(elem):
            continue
        if elem.VR == "SQ":
            items = [_strip(item) for item in elem.value]
            for item in items:
                item.is_undefined_length_sequence_item = True
            out.add(DataElement(elem.tag, "SQ", Sequence(items), is_undefined_length=True))
        else:
            out.add(DataElement(elem.tag, elem.VR, elem.value))
    return out


def _named(name: str, ds: Dataset) -> str:
    """Fingerprint a dataset read from `name`, naming the file if that fails."""
    try:
        return fingerprint_dataset(ds)
    except ObjectRefused as exc:
        raise ObjectRefused(f"{name}: {exc}") from exc


def _pixel_value(ds: Dataset, tag: BaseTag) -> bytes:
    """Return the pixel element's value bytes exactly as stored (never decoded)."""
    value = ds.get_item(tag).value  # a deferred value is read back from the file here
    return bytes(value or b"")


def _parse(fp: BinaryIO, name: str, size: int, *, defer: bool = False) -> Dataset:
    """Parse a Part 10 file and refuse it when it is not DICOM or was cut short."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # truncation is judged below, not from pydicom's chatter
        try:
            ds = pydicom.dcmread(fp, defer_size=DEFER_SIZE if defer else None)
        except InvalidDicomError as exc:
            raise ObjectRefused(
                f"{name}: not a DICOM Part 10 file (no 'DICM' marker after a 128-byte preamble)"
            ) from exc
        except Exception as exc:  # pydicom raises many types on cut or garbled data
            raise ObjectRefused(f"{name}: truncated or malformed DICOM file ({exc})") from exc
    if len(ds) == 0:
        raise ObjectRefused(f"{name}: DICOM file has file meta but no dataset (truncated?)")
    if not _deflated(ds):
        implicit, little = ds.original_encoding
        check_complete(fp, size, name, little=bool(little), implicit=bool(implicit))
    if pixel_tag(ds) is None and _expects_pixels(ds):
        raise ObjectRefused(
            f"{name}: an image object without Pixel Data; the file is probably truncated"
        )
    return ds


def _deflated(ds: Dataset) -> bool:
    """Tell whether the dataset is zlib-deflated, so file offsets do not address its values."""
    return ds.file_meta.get("TransferSyntaxUID") == DeflatedExplicitVRLittleEndian


def _expects_pixels(ds: Dataset) -> bool:
    """Tell whether the object is an image that must carry pixel data (cut off if it does not)."""
    if all(k in ds for k in ("Rows", "Columns", "BitsAllocated")):
        return True
    sop_class = ds.get("SOPClassUID") or ds.file_meta.get("MediaStorageSOPClassUID")
    return sop_class is not None and "Image Storage" in getattr(sop_class, "name", "")


def _has_deferred(ds: Dataset) -> bool:
    """Tell whether any top-level value was left in the file (keys() avoids converting)."""
    return any(_is_deferred(ds.get_item(t, keep_deferred=True)) for t in ds.keys())  # noqa: SIM118


def _is_deferred(elem: DataElement | RawDataElement | None) -> bool:
    """Tell whether pydicom left this value in the file (defer_size)."""
    return (
        isinstance(elem, RawDataElement)
        and elem.value is None
        and elem.length not in (0, UNDEFINED)
    )


def _hash_pixels(fp: BinaryIO, ds: Dataset, tag: BaseTag, name: str) -> str:
    """Hash the pixel value bytes, streaming them from `fp` when pydicom deferred them."""
    raw = ds.get_item(tag, keep_deferred=True)
    if not _is_deferred(raw):
        return hashlib.sha256(_pixel_value(ds, tag)).hexdigest()
    digest, left = hashlib.sha256(), raw.length
    fp.seek(raw.value_tell)
    while left:
        chunk = fp.read(min(left, _CHUNK))
        if not chunk:
            raise ObjectRefused(f"{name}: truncated DICOM file (pixel data is short)")
        digest.update(chunk)
        left -= len(chunk)
    return digest.hexdigest()
