"""WADO-RS bodies: the objects of a study, series or instance, through the retrieval path of
`spokesync retrieve` (plan read via tasks.serve.lookup, tasks.retrieve.study.corrected_objects,
Part 10 bytes as tasks.retrieve.study.part10_bytes makes them), one object in memory at a time.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING

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


def multipart(plans: list[StudyPlan], boundary: str, what: str) -> Iterator[bytes]:
    """multipart/related; type="application/dicom" (PS3.18 §8.6.1.2), one part per object."""
    for item in _objects(plans, what):
        syntax = item.dataset.file_meta.get("TransferSyntaxUID", "")
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
