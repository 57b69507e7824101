"""Retrieve a study as the catalog says it is now (DESIGN §8): to a folder or by C-STORE.

The catalog is read once (resolution, instances, current values, UID map) and closed; then
the objects stream one at a time: read by offset from their TAR with the SHA-256 check,
corrected by `tasks.retrieve.edit`, written or sent, and dropped. Memory stays flat whatever
the study's size. An object that cannot be read fails alone; the rest are still delivered.
"""

from __future__ import annotations

import io
import logging
import os
import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import pydicom
from prefect import task
from prefect.cache_policies import NO_CACHE
from pydicom.dataset import Dataset

from spokesync.catalog.errors import SpokesyncError
from spokesync.catalog.faults import kill_point
from spokesync.catalog.retrieve import StoredInstance
from spokesync.tasks.nearline.members import read_member
from spokesync.tasks.retrieve.ahead import running_ahead
from spokesync.tasks.retrieve.dimse_send import (
    NodeUnavailable,
    StoreRefused,
    parse_node,
    presentation_contexts,
    store_association,
)
from spokesync.tasks.retrieve.edit import Edits, correct_dataset
from spokesync.tasks.retrieve.plan import Progress, StudyPlan, plan_study, tar_of

if TYPE_CHECKING:
    from spokesync.tasks.config import Config

log = logging.getLogger("spokesync.retrieve")
T = TypeVar("T")


@dataclass(frozen=True)
class FailedObject:
    """An object that was not delivered, and why (naming its SOP UID and TAR)."""

    sop_instance_uid: str
    tar: str
    error: str


@dataclass
class RetrieveResult:
    """What one retrieval delivered: counts, change kinds and UIDs only, never demographics."""

    requested_uid: str
    study_uid: str
    resolved: bool
    destination: str
    instances: int = 0
    sent: int = 0
    stored_bytes: int = 0  # of the objects delivered, as read from nearline
    corrected: Counter = field(default_factory=Counter)  # keyword -> instances corrected
    remapped_uids: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    failed: list[FailedObject] = field(default_factory=list)

    def as_dict(self) -> dict:
        """Plain values for Prefect results and JSON."""
        return asdict(self) | {"corrected": dict(self.corrected)}

    def count(self, edits: Edits, size: int) -> None:
        """Add one delivered object and what was changed in it."""
        self.sent += 1
        self.stored_bytes += size
        self.corrected.update(edits.attributes)
        self.remapped_uids += edits.uids


@dataclass(frozen=True)
class Corrected:
    """One object ready to go out; `raw` holds its stored bytes when nothing changed."""

    instance: StoredInstance
    dataset: Dataset
    edits: Edits
    raw: bytes | None


def corrected_objects(plan: StudyPlan, now: datetime) -> Iterator[Corrected | FailedObject]:
    """Read, check, correct and encode each instance in turn; one at a time in memory."""
    for inst in plan.instances:
        try:
            item: Corrected | FailedObject = correct_one(plan, inst, now)
        except Exception as exc:  # one unreadable object must not stop the rest of the study
            item = failure(inst, exc)
        yield item


def _reported(plan: StudyPlan, items: Iterator[T]) -> Iterator[T]:
    """Tell the plan's progress of each object handed on, in the thread that writes or sends
    it: the caller has done so by the time it asks for the next."""
    for done, item in enumerate(items, 1):
        yield item
        if plan.progress:
            plan.progress(done, len(plan.instances))


def correct_one(plan: StudyPlan, inst: StoredInstance, now: datetime) -> Corrected:
    """Read one object by offset (SHA-256 checked) and correct it; keep its bytes if unchanged."""
    data = read_member(tar_of(inst), inst.data_offset, inst.size, inst.sha256)
    kill_point("object-read")
    ds = pydicom.dcmread(io.BytesIO(data), force=True)
    edits = correct_dataset(ds, plan.target(inst), plan.uid_map, now=now)
    return Corrected(inst, ds, edits, None if edits.changed or edits.meta else data)


def failure(inst: StoredInstance, exc: Exception) -> FailedObject:
    """Name the object and its TAR; nearline errors already say to run `spokesync verify`."""
    if isinstance(exc, SpokesyncError):  # says what to do itself (verify, the node's status)
        problem = str(exc)
    else:
        problem = f"{type(exc).__name__}: {exc}; run `spokesync verify` to check its TAR"
    error = f"SOP instance {inst.sop_instance_uid} (TAR {tar_of(inst)}): {problem}"
    log.warning("retrieve: SOP instance %s failed: %s", inst.sop_instance_uid, type(exc).__name__)
    return FailedObject(inst.sop_instance_uid, str(tar_of(inst)), error)


def new_result(plan: StudyPlan, destination: str) -> RetrieveResult:
    """An empty result for the plan's study and destination."""
    res = plan.resolution
    return RetrieveResult(res.requested, res.study_uid, res.resolved, destination,
                          instances=len(plan.instances), skipped=dict(plan.skipped))  # fmt: skip


def part10_bytes(item: Corrected) -> bytes:
    """One object as the Part 10 bytes `write_object` puts in its file (stored bytes as stored)."""
    if item.raw is not None:
        return item.raw
    out = io.BytesIO()
    item.dataset.save_as(out, enforce_file_format=True)
    return out.getvalue()


def write_object(item: Corrected, path: Path) -> Path:
    """Write one object as a Part 10 file in its stored transfer syntax (unchanged: as stored)."""
    if item.raw is not None:
        path.write_bytes(item.raw)
    else:
        item.dataset.save_as(path, enforce_file_format=True)
    return path


def _place(item: Corrected, final: Path) -> None:
    """Write under a temporary name, then rename: a reader never sees half a file."""
    temp = final.with_name(final.name + ".partial")
    try:
        write_object(item, temp)
        kill_point("object-written")
        os.replace(temp, final)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    kill_point("object-renamed")


def export_to_folder(plan: StudyPlan, out: Path, *, now: datetime | None = None) -> RetrieveResult:
    """Write each object as `<out>/<study>/<series>/<sop>.dcm` (temporary name, then rename)."""
    result = new_result(plan, str(out))
    for item in _reported(plan, corrected_objects(plan, now or datetime.now(UTC))):
        if isinstance(item, FailedObject):
            result.failed.append(item)
            continue
        inst = item.instance
        target = Path(out) / inst.study_instance_uid / inst.series_instance_uid
        target.mkdir(parents=True, exist_ok=True)
        try:
            _place(item, target / f"{inst.sop_instance_uid}.dcm")
        except OSError:
            raise  # the destination is the problem, not this object: stop
        except Exception as exc:  # this object cannot be encoded: it fails alone
            result.failed.append(failure(inst, exc))
            continue
        result.count(item.edits, inst.size)
    _log_result(result)
    return result


def export_to_node(plan: StudyPlan, node: str, *, now: datetime | None = None) -> RetrieveResult:
    """C-STORE each object over one association; a refused object fails alone."""
    peer = parse_node(node)
    result = new_result(plan, str(peer))
    if not plan.instances:
        return result
    stored = [(i.sop_class_uid, i.transfer_syntax_uid) for i in plan.instances]
    with (  # objects are read and corrected in a worker thread while the association sends
        running_ahead(corrected_objects(plan, now or datetime.now(UTC)), name="correct") as items,
        store_association(peer, presentation_contexts(stored)) as send,
        tempfile.TemporaryDirectory(prefix="spokesync-send-") as spool,
    ):
        for item in _reported(plan, items):
            if isinstance(item, FailedObject):
                result.failed.append(item)
                continue
            # Unchanged: the stored bytes go from a spool file, never re-encoded; changed: the
            # dataset, which pynetdicom encodes once in the negotiated transfer syntax.
            encoded = None if item.raw is None else write_object(item, Path(spool) / "o.dcm")
            try:
                send(item.dataset, encoded)
            except StoreRefused as exc:
                result.failed.append(failure(item.instance, exc))
                continue
            except NodeUnavailable as exc:
                _fail_rest(plan, result, item.instance, exc)
                break
            result.count(item.edits, item.instance.size)
    _log_result(result)
    return result


def _fail_rest(plan: StudyPlan, result: RetrieveResult, at: StoredInstance, exc: Exception) -> None:
    """The association is gone: this object and every one not yet sent fail with its error."""
    rest = plan.instances[plan.instances.index(at) :]
    done = {f.sop_instance_uid for f in result.failed}
    result.failed.extend(failure(i, exc) for i in rest if i.sop_instance_uid not in done)


def retrieve_study(config: Config, uid: str, *, out: Path | None = None, to: str | None = None,
                   progress: Progress | None = None) -> RetrieveResult:  # fmt: skip
    """Retrieve study `uid` (current or old) to a folder (`out`) or a DICOM node (`to`)."""
    if (out is None) == (to is None):
        raise ValueError("give exactly one destination: a folder (out) or a DICOM node (to)")
    if to is not None:
        parse_node(to)  # a malformed node fails before the catalog is opened
    plan = replace(plan_study(config, uid), progress=progress)
    if to is not None:
        return export_to_node(plan, to)
    return export_to_folder(plan, Path(out))


def _log_result(result: RetrieveResult) -> None:
    log.info("retrieve %s → %s: %d of %d instances sent, %d failed, %d corrected attributes, "
             "%d remapped UIDs, skipped %s",
        result.study_uid, result.destination, result.sent, result.instances, len(result.failed),
        sum(result.corrected.values()), result.remapped_uids, result.skipped or "none",
    )  # fmt: skip


@task(name="retrieve-study-objects", cache_policy=NO_CACHE)
def retrieve_study_task(
    config: Config, study_uid: str, out: str | None = None, to: str | None = None
) -> dict:
    """Stream one study out (I/O into a destination: not retried, a retry would send twice)."""
    return retrieve_study(config, study_uid, out=Path(out) if out else None, to=to).as_dict()
