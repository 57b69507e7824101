"""WADO-RS requests for a pull: a whole series in one request where every instance of it is
wanted, one request per instance otherwise; a bounded window of them in flight at a time, and
each answer streamed part by part to disk under the object's SOP UID.
"""

from __future__ import annotations

import tempfile
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import BinaryIO, TypeVar

from pydicom import dcmread

from spokesync.catalog.errors import SpokeUnavailable
from spokesync.tasks.spokes.multipart import MultipartInvalid, stream_related
from spokesync.tasks.spokes.source import ObjectRef, object_path

T, R = TypeVar("T"), TypeVar("R")
CHUNK = 1 << 16  # bytes read from the answer at a time
META_BYTES = 4096  # enough for any file meta the hub needs the SOP UID from


@dataclass(frozen=True)
class WadoRequest:
    """One WADO-RS URL and the objects wanted from its answer (SOP UID -> ref)."""

    url: str
    wanted: dict[str, ObjectRef]
    single: bool  # an instance's URL: its answer must hold exactly that one object


def wado_requests(where: str, refs: Iterable[ObjectRef], listed: dict) -> list[WadoRequest]:
    """Group refs by series; a series whose listed instances are all wanted is one request.

    `listed` maps a series UID to the number of instances its listing held."""
    groups: dict[tuple[str, str], list[ObjectRef]] = {}
    for ref in refs:
        groups.setdefault((ref.study_instance_uid, ref.series_instance_uid), []).append(ref)
    out = []
    for (study, series), group in groups.items():
        base = f"{where}/studies/{study}/series/{series}"
        if len(group) > 1 and len(group) == listed.get(series):
            out.append(WadoRequest(base, {r.sop_instance_uid: r for r in group}, single=False))
        else:
            out += [_one(base, r) for r in group]
    return out


def _one(series_url: str, ref: ObjectRef) -> WadoRequest:
    url = f"{series_url}/instances/{ref.sop_instance_uid}"
    return WadoRequest(url, {ref.sop_instance_uid: ref}, single=True)


def windowed(call: Callable[[T], list[R]], items: Iterable[T], window: int) -> Iterator[R]:
    """Run `call` on `window` threads (at most `window` requests in flight, and as many done
    ones waiting to be taken), yielding results in order. When one fails, or the caller stops,
    nothing more is started and the running ones are waited for: no request outlives the fetch.
    """
    todo = iter(items)
    with ThreadPoolExecutor(window, thread_name_prefix="wado") as pool:
        running: deque[Future[list[R]]] = deque(
            pool.submit(call, i) for i in islice(todo, 2 * window)
        )
        try:
            while running:
                done = running.popleft().result()
                running.extend(pool.submit(call, i) for i in islice(todo, 1))
                yield from done
        finally:
            for future in running:
                future.cancel()


class PartWriter:
    """Where one answer's parts go: temp files in `objects`, each renamed to its SOP UID once
    complete, or removed when the part is not wanted; a broken answer leaves no part behind."""

    def __init__(self, request: WadoRequest, objects: Path, where: str) -> None:
        self.request, self.objects, self.where = request, objects, where
        self.arrived: list[tuple[str, Path]] = []
        self._open: BinaryIO | None = None

    def stream(self, chunks: Iterable[bytes], content_type: str) -> list[tuple[str, Path]]:
        try:
            parts = stream_related(chunks, content_type, self._new, self._done)
        except MultipartInvalid as exc:
            raise SpokeUnavailable(
                f"{self.request.url}: the WADO-RS answer is not usable ({exc})"
            ) from None
        finally:
            if self._open is not None:  # the answer broke off inside a part
                self._open.close()
                Path(self._open.name).unlink(missing_ok=True)
        if self.request.single and parts != 1:
            raise SpokeUnavailable(
                f"{self.request.url}: expected one object, the WADO-RS answer holds {parts}"
            )
        return self.arrived

    def _new(self) -> BinaryIO:
        self._open = tempfile.NamedTemporaryFile(  # noqa: SIM115 (closed in _done)
            dir=self.objects, prefix=".wado-", suffix=".part", delete=False
        )
        return self._open

    def _done(self, part: BinaryIO) -> None:
        part.close()
        self._open, temp = None, Path(part.name)
        sop_uid = next(iter(self.request.wanted)) if self.request.single else self._uid(temp)
        if sop_uid not in self.request.wanted:  # stored at the spoke after it was listed
            temp.unlink()
            return
        try:
            path = object_path(self.objects, sop_uid, self.where)
        except SpokeUnavailable:
            temp.unlink()
            raise
        temp.replace(path)
        self.arrived.append((sop_uid, path))

    def _uid(self, temp: Path) -> str:
        """The SOP UID a part of a series answer holds (its file meta, else its dataset)."""
        try:
            with temp.open("rb") as fp:
                uid = meta_sop_uid(fp.read(META_BYTES))
            if not uid:
                uid = dcmread(temp, stop_before_pixels=True, specific_tags=["SOPInstanceUID"]).get(
                    "SOPInstanceUID"
                )
        except Exception:  # noqa: BLE001 (any parse failure means the same to the pull)
            uid = None
        if not uid:
            temp.unlink()
            raise SpokeUnavailable(
                f"{self.request.url}: a part of the WADO-RS answer is not a DICOM object with a "
                "SOP instance UID; check the PACS's log. Nothing was changed"
            )
        return str(uid)


def meta_sop_uid(head: bytes) -> str | None:
    """Media Storage SOP Instance UID (0002,0003) from the start of a Part 10 file, read
    straight from its file meta (explicit VR little endian, PS3.10 §7.1), or None."""
    if head[128:132] != b"DICM":
        return None
    at = 132
    while at + 8 <= len(head) and head[at : at + 2] == b"\x02\x00":
        element, vr = int.from_bytes(head[at + 2 : at + 4], "little"), head[at + 4 : at + 6]
        if vr in (b"OB", b"OW", b"UN", b"SQ", b"UT", b"UC", b"UR"):
            length, start = int.from_bytes(head[at + 8 : at + 12], "little"), at + 12
        else:
            length, start = int.from_bytes(head[at + 6 : at + 8], "little"), at + 8
        if element == 0x0003:
            value = head[start : start + length]
            return (
                value.rstrip(b"\x00 ").decode("ascii", "replace") if len(value) == length else None
            )
        at = start + length
    return None
