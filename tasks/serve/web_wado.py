"""WADO-RS bodies: the objects of a study, series or instance, through the retrieval path of
`spokesync retrieve` (plan read via tasks.serve.lookup, tasks.retrieve.study.corrected_objects,
Part 10 bytes as tasks.retrieve.study.part10_bytes makes them), one object in memory at a time.
Objects go in their stored transfer syntax unless the Accept header's `transfer-syntax` asks
for another: implicit VR little endian is sent as explicit VR little endian on request (no
loss); any other change would need transcoding, so the request is refused (406).
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from pydicom.uid import UID, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from spokesync.tasks.retrieve.plan import StudyPlan
from spokesync.tasks.retrieve.study import Corrected, FailedObject, corrected_objects, part10_bytes
from spokesync.tasks.serve.lookup import retrieval_plans
from spokesync.tasks.serve.web_query import identifier

if TYPE_CHECKING:
    from spokesync.tasks.config import Config

log = logging.getLogger("spokesync.serve")
BULK = {
    0x7FE00010,
    0x7FE00008,
    0x7FE00009,
    0x54000110,
    0x54001010,
    0x00420011,
}  # pixels, waves, PDF
_BINARY = {"OB", "OW", "OF", "OD", "OL", "OV", "UN"}
_LEVELS = ("STUDY", "SERIES", "IMAGE")
LOSSLESS = {ImplicitVRLittleEndian: ExplicitVRLittleEndian}  # stored: what it also goes out as
_DICOM_PARTS = {"multipart/related", "application/dicom"}


def accepted_syntaxes(accept: str) -> set[str] | None:
    """The transfer syntaxes the Accept header asks objects in (PS3.18 §8.7.3.5); None when
    each may go as stored: no `transfer-syntax` parameter, `transfer-syntax=*`, or no media
    range for DICOM objects at all (a bare `*/*`)."""
    asked: set[str] = set()
    for media_range in accept.split(","):
        kind, *pairs = [part.strip() for part in media_range.split(";")]
        params = {k.strip().lower(): v.strip().strip('"') for k, _, v in
                  (pair.partition("=") for pair in pairs)}  # fmt: skip
        inner = params.get("type", "application/dicom").lower()
        if kind.lower() not in _DICOM_PARTS or inner != "application/dicom":
            continue
        if params.get("q", "1").strip() in ("0", "0.0", "0.00", "0.000"):
            continue
        syntax = params.get("transfer-syntax", "*")
        if syntax == "*":
            return None
        asked.add(syntax)
    return asked or None


def sent_as(stored: str, asked: set[str] | None) -> str | None:
    """The syntax an object stored in `stored` goes out in; None when none asked is possible."""
    if asked is None or stored in asked:
        return stored
    converted = LOSSLESS.get(stored)
    return converted if converted in asked else None


def not_acceptable(plans: list[StudyPlan], asked: set[str] | None) -> str | None:
    """Why the objects cannot go in the syntaxes asked (406), naming those they can go in;
    None when every one can."""
    stored = {i.transfer_syntax_uid or "unknown" for p in plans for i in p.instances}
    if all(sent_as(s, asked) for s in stored):
        return None
    offered = sorted(stored | {LOSSLESS[s] for s in stored if s in LOSSLESS})
    return (
        f"the objects cannot be sent in transfer syntax {', '.join(sorted(asked or ()))} "
        "without transcoding; ask for one of "
        f"{', '.join(f'{s} ({UID(s).name})' for s in offered)} or transfer-syntax=*"
    )


def plans_for(config: Config, uids: list[str]) -> list[StudyPlan]:
    """The plans of [study, series?, sop?], narrowed; an old study UID gives the study now."""
    keywords = ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID")
    query = identifier(_LEVELS[len(uids) - 1], dict(zip(keywords, uids, strict=False)))
    return [p for p in retrieval_plans(config, query) if p.instances]


def _objects(plans: list[StudyPlan], what: str) -> Iterator[Corrected]:
    """Each corrected object in turn; an unreadable one is logged by UID and left out."""
    now, sent, failed = datetime.now(UTC), 0, 0
    for plan in plans:
        for item in corrected_objects(plan, now):
            if isinstance(item, FailedObject):
                failed += 1
                log.warning("serve: %s: SOP instance %s unreadable, left out",
                            what, item.sop_instance_uid)  # fmt: skip
                continue
            sent += 1
            yield item
    log.info("serve: %s done: %d objects sent, %d unreadable", what, sent, failed)


def multipart(
    plans: list[StudyPlan], boundary: str, what: str, asked: set[str] | None = None
) -> Iterator[bytes]:
    """multipart/related; type="application/dicom" (PS3.18 §8.6.1.2), one part per object,
    each in its stored syntax or the lossless one asked (checked by `not_acceptable` first)."""
    for item in _objects(plans, what):
        stored = str(item.dataset.file_meta.get("TransferSyntaxUID", ""))
        syntax = sent_as(stored, asked) or stored
        if syntax != stored:  # implicit to explicit VR little endian: re-encoded, values kept
            item.dataset.file_meta.TransferSyntaxUID = syntax
            item = replace(item, raw=None)
        head = f"--{boundary}\r\nContent-Type: application/dicom; transfer-syntax={syntax}\r\n\r\n"
        yield head.encode("ascii") + part10_bytes(item) + b"\r\n"
    yield f"--{boundary}--\r\n".encode("ascii")


def new_boundary() -> str:
    return f"spokesync-{secrets.token_hex(12)}"


def metadata(plans: list[StudyPlan], what: str) -> Iterator[bytes]:
    """application/dicom+json: a JSON array of each corrected header, without bulk data."""
    first = True
    yield b"["
    for item in _objects(plans, what):
        ds = item.dataset
        for tag in [e.tag for e in ds if e.tag in BULK or _large_binary(e)]:
            del ds[tag]
        yield (b"" if first else b",") + json.dumps(ds.to_json_dict(2**31)).encode()
        first = False
    yield b"]"


def _large_binary(elem) -> bool:
    return elem.VR in _BINARY and len(elem.value or b"") > 1024
