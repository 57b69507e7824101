"""Receiving objects over C-STORE for C-GET and C-MOVE: contexts offered, files written as sent.

Each SOP class is offered once per transfer syntax, so the PACS can send every object in the
syntax it stored it in instead of converting it to the one syntax a shared context accepted.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
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
POLL_SECONDS = 0.02  # how often objects received are handed on while a retrieval runs
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
    """The C-STORE handler: writes each object under objects/ and remembers what arrived; an
    object not wanted (stored at the spoke after it was listed) is refused, never written."""

    def __init__(self, objects: Path, where: str, wanted: set[str] | None = None) -> None:
        self.objects, self.where, self.wanted = objects, where, wanted
        self._arrived: list[tuple[str, Path]] = []
        self._lock = threading.Lock()

    def on_store(self, event) -> int:
        sop_uid = event.request.AffectedSOPInstanceUID
        try:
            path = object_path(self.objects, sop_uid, self.where)
        except SpokeUnavailable:
            return CANNOT_UNDERSTAND
        if self.wanted is not None and str(sop_uid) not in self.wanted:
            return 0x0000  # taken and dropped: the PACS need not retry it
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

    def while_running(
        self, retrieve: Callable[[], None], stop: Callable[[], None]
    ) -> Iterator[tuple[str, Path]]:
        """Run `retrieve` on a thread and yield objects as they arrive, so the caller reads
        and fingerprints one while the next is on the wire. Its failure is raised here once
        the objects that came before it are yielded; if the caller stops, `stop` ends it."""
        failed: list[BaseException] = []

        def run() -> None:
            try:
                retrieve()
            except BaseException as exc:  # noqa: BLE001 (raised again on the caller's thread)
                failed.append(exc)

        worker = threading.Thread(target=run, name="dimse-retrieve", daemon=True)
        worker.start()
        try:
            while worker.is_alive():
                worker.join(POLL_SECONDS)
                yield from self.take()
            yield from self.take()
        finally:
            if worker.is_alive():
                stop()
                worker.join()
        if failed:
            raise failed[0]
