"""Receiving objects over C-STORE for C-GET and C-MOVE: contexts offered, files written as sent.

Each SOP class is offered once per transfer syntax, so the PACS can send every object in the
syntax it stored it in instead of converting it to the one syntax a shared context accepted.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pydicom.uid import (
    JPEG2000,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLosslessSV1,
    JPEGLSLossless,
    JPEGLSNearLossless,
    RLELossless,
)
from pynetdicom import AE, build_role

from spokesync.catalog.errors import SpokeUnavailable
from spokesync.tasks.spokes.source import object_path

STORED_SYNTAXES = (
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLosslessSV1,
    JPEGLSLossless,
    JPEGLSNearLossless,
    JPEG2000Lossless,
    JPEG2000,
    RLELossless,
)
MAX_CONTEXTS = 128  # presentation contexts one association may propose (PS3.8 §9.3.2.2)
OUT_OF_RESOURCES = 0xA700
CANNOT_UNDERSTAND = 0xC000


@dataclass(frozen=True)
class StorageClasses:
    """SOP classes offered together on one association, each with every stored syntax."""

    sop_classes: frozenset[str]

    def add_to(self, ae: AE, *, supported: bool = False) -> None:
        add = ae.add_supported_context if supported else ae.add_requested_context
        for sop_class in sorted(self.sop_classes):
            if supported:
                add(sop_class, list(STORED_SYNTAXES))
            else:
                for syntax in STORED_SYNTAXES:
                    add(sop_class, [syntax])

    def roles(self) -> list:
        """C-GET: the hub takes the SCP role for storage (PS3.7 §D.3.3.4)."""
        return [build_role(sop_class, scp_role=True) for sop_class in sorted(self.sop_classes)]


def storage_contexts(sop_classes: Iterable[str | None]) -> list[StorageClasses]:
    """Split the SOP classes to fetch into groups that fit one association each."""
    classes = sorted(c for c in set(sop_classes) if c)
    per_association = (MAX_CONTEXTS - 1) // len(STORED_SYNTAXES)  # one context is the Q/R one
    return [
        StorageClasses(frozenset(classes[i : i + per_association]))
        for i in range(0, len(classes), per_association)
    ]


class ReceivedObjects:
    """The C-STORE handler: writes each object under objects/ and remembers what arrived."""

    def __init__(self, objects: Path, where: str) -> None:
        self.objects, self.where = objects, where
        self._arrived: list[tuple[str, Path]] = []
        self._lock = threading.Lock()

    def on_store(self, event) -> int:
        sop_uid = event.request.AffectedSOPInstanceUID
        try:
            path = object_path(self.objects, sop_uid, self.where)
        except SpokeUnavailable:
            return CANNOT_UNDERSTAND
        try:
            path.write_bytes(event.encoded_dataset(include_meta=True))
        except OSError:
            return OUT_OF_RESOURCES
        with self._lock:
            self._arrived.append((str(sop_uid), path))
        return 0x0000

    def take(self) -> list[tuple[str, Path]]:
        with self._lock:
            arrived, self._arrived = self._arrived, []
        return arrived
