"""A PACS over DIMSE: C-FIND (study root) lists studies and images, C-GET or C-MOVE fetches.

Objects arrive as C-STORE sub-operations and are written as the peer encoded them (file meta
plus the dataset bytes received, never decoded and re-encoded), one file per SOP instance.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import date
from functools import partial
from itertools import groupby
from pathlib import Path

from pydicom.dataset import Dataset
from pynetdicom import AE, _config, evt
from pynetdicom.association import Association
from pynetdicom.sop_class import (
    StudyRootQueryRetrieveInformationModelFind as FIND,
)
from pynetdicom.sop_class import (
    StudyRootQueryRetrieveInformationModelGet as GET,
)
from pynetdicom.sop_class import (
    StudyRootQueryRetrieveInformationModelMove as MOVE,
)

from spokesync.catalog.errors import SpokeUnavailable
from spokesync.tasks.retrieve.dimse_send import send_at_once, tune_for_throughput
from spokesync.tasks.spokes.dimse_store import ReceivedObjects, storage_contexts
from spokesync.tasks.spokes.source import (
    TRACKED_KEYWORDS,
    Listing,
    ObjectRef,
    StudyRef,
    as_int,
    instances_per,
    listing_of,
    since_value,
)

PENDING = (0xFF00, 0xFF01)
GET_DONE = (0x0000, 0xB000)  # success, or warning: some sub-operations failed (counted later)
# pynetdicom formats every identifier for its log whether or not anyone listens: a tenth of a
# pull's time, and C-FIND answers carry demographics the hub never logs.
_config.LOG_REQUEST_IDENTIFIERS = _config.LOG_RESPONSE_IDENTIFIERS = False


class DimseSource:
    """C-FIND and C-GET/C-MOVE against one PACS node (calling and called AE titles, host, port)."""

    def __init__(
        self,
        host: str,
        port: int,
        called_aet: str,
        *,
        calling_aet: str = "SPOKESYNC",
        timeout: float = 30,
        retrieve: str = "get",
        storage_port: int | None = None,
        storage_bind: str = "0.0.0.0",
        since_attribute: str | None = None,
    ) -> None:
        self.host, self.port, self.called_aet, self.calling_aet = (
            host,
            port,
            called_aet,
            calling_aet,
        )
        self.where = f"{called_aet}@{host}:{port}"
        self.timeout, self.retrieve, self.since_attribute = timeout, retrieve, since_attribute
        self.storage_port, self.storage_bind = storage_port, storage_bind
        if retrieve == "move" and storage_port is None:
            raise SpokeUnavailable(
                f"{self.where}: C-MOVE needs the hub's storage_port (and the PACS must know "
                f"{calling_aet} at that port)",
                retryable=False,
            )
        self._finder: Association | None = None
        self._retrieving: Association | None = None  # the C-GET/C-MOVE association under way
        self._listed: dict[str, int] = {}  # study UID -> instances listed, for whole-study GETs

    def _ae(self) -> AE:
        ae = AE(ae_title=self.calling_aet)
        ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = self.timeout
        ae.connection_timeout = self.timeout
        return ae

    def _open(self, ae: AE, what: str, **kwargs) -> Association:
        assoc = ae.associate(self.host, self.port, ae_title=self.called_aet, **kwargs)
        if not assoc.is_established:
            state = "rejected" if assoc.is_rejected else "aborted" if assoc.is_aborted else "failed"
            raise SpokeUnavailable(
                f"{what}: association with {self.where} {state} (calling AE {self.calling_aet}); "
                "check host, port and AE titles, and that the PACS allows this hub. "
                "Nothing was changed"
            )
        tune_for_throughput(assoc)  # no Nagle; replies only to the sender (pynetdicom #875)
        return assoc

    @contextmanager
    def _association(self, ae: AE, what: str, **kwargs) -> Iterator[Association]:
        assoc = self._open(ae, what, **kwargs)
        try:
            yield assoc
        finally:
            if assoc.is_established:
                assoc.release()

    def _find(self, query: Dataset, what: str) -> list[Dataset]:
        """One C-FIND on a kept association; every non-pending, non-success status fails."""
        if self._finder is None or not self._finder.is_established:
            ae = self._ae()
            ae.add_requested_context(FIND)
            self._finder = self._open(ae, f"C-FIND {what}")
        found = []
        for status, identifier in self._finder.send_c_find(query, FIND):
            code = status.get("Status") if status else None
            if code in PENDING and identifier is not None:
                found.append(identifier)
            elif code != 0x0000:
                self.close()
                raise SpokeUnavailable(
                    f"C-FIND {what} on {self.where}: {_status(code)}. Nothing was changed"
                )
        return found

    def studies(self, since: date | None) -> Iterator[StudyRef]:
        query = Dataset()
        query.QueryRetrieveLevel = "STUDY"
        query.StudyInstanceUID = ""
        query.NumberOfStudyRelatedInstances = ""
        if since and self.since_attribute:
            keyword, value = since_value(self.since_attribute, since)
            setattr(query, keyword, value)
        for ds in self._find(query, "studies"):
            yield StudyRef(
                str(ds.StudyInstanceUID), as_int(ds.get("NumberOfStudyRelatedInstances"))
            )

    def instances(self, study: StudyRef) -> Listing:
        query = Dataset()
        query.QueryRetrieveLevel = "IMAGE"
        for keyword in TRACKED_KEYWORDS:
            setattr(query, keyword, "")
        query.StudyInstanceUID = study.study_instance_uid
        listing = listing_of(self._find(query, f"images of study {study.study_instance_uid}"))
        self._listed.update(instances_per(listing, "study_instance_uid"))
        return listing

    def fetch(self, refs: Iterable[ObjectRef], objects: Path) -> Iterator[tuple[str, Path]]:
        refs = sorted(refs, key=lambda r: (r.study_instance_uid, r.series_instance_uid))
        received = ReceivedObjects(objects, self.where, {r.sop_instance_uid for r in refs})
        contexts = storage_contexts({r.sop_class_uid for r in refs})
        for classes in contexts:
            chosen = [r for r in refs if r.sop_class_uid in classes.sop_classes]
            how = self._get if self.retrieve == "get" else self._move
            yield from received.while_running(partial(how, chosen, classes, received), self._stop)

    def _stop(self) -> None:
        """Abort the retrieval under way (the pull stopped while objects were arriving), and
        wake the C-GET/C-MOVE waiting for its next answer, which then ends at once."""
        assoc = self._retrieving
        if assoc is not None and assoc.is_established:
            assoc.abort()
            queue = getattr(getattr(assoc, "dimse", None), "msg_queue", None)
            if queue is not None:
                queue.put((None, None))

    def _get(self, refs: list[ObjectRef], classes, received: ReceivedObjects) -> None:
        ae = self._ae()
        ae.add_requested_context(GET)
        classes.add_to(ae)
        handlers = [(evt.EVT_C_STORE, received.on_store)]
        with self._association(
            ae, "C-GET", ext_neg=classes.roles(), evt_handlers=handlers
        ) as assoc:
            self._retrieving = assoc
            for query in retrieve_queries(refs, self._listed):
                self._retrieve(assoc.send_c_get(query, GET), "C-GET")

    def _move(self, refs: list[ObjectRef], classes, received: ReceivedObjects) -> None:
        scp = self._ae()
        classes.add_to(scp, supported=True)
        server = scp.start_server(
            (self.storage_bind, self.storage_port),
            block=False,
            evt_handlers=[
                (evt.EVT_C_STORE, received.on_store),
                (evt.EVT_ESTABLISHED, lambda event: send_at_once(event.assoc)),
            ],
        )
        try:
            ae = self._ae()
            ae.add_requested_context(MOVE)
            with self._association(ae, "C-MOVE") as assoc:
                self._retrieving = assoc
                for query in retrieve_queries(refs, self._listed):
                    self._retrieve(assoc.send_c_move(query, self.calling_aet, MOVE), "C-MOVE")
        finally:
            server.shutdown()

    def _retrieve(self, responses, what: str) -> None:
        for status, _identifier in responses:
            code = status.get("Status") if status else None
            if code in PENDING:
                continue
            if code not in GET_DONE:
                raise SpokeUnavailable(
                    f"{what} from {self.where}: {_status(code)}. Nothing was changed"
                )

    def close(self) -> None:
        self._stop()
        if self._finder is not None and self._finder.is_established:
            self._finder.release()
        self._finder = None


def retrieve_queries(refs: list[ObjectRef], listed: dict) -> Iterator[Dataset]:
    """A STUDY-level identifier for a study whose listed instances are all wanted (one C-GET,
    many sub-operations); otherwise one IMAGE-level identifier per series listing its SOP
    instance UIDs (list matching). `refs` come sorted by study and series."""
    for study, in_study in groupby(refs, key=lambda r: r.study_instance_uid):
        wanted = list(in_study)
        if len(wanted) == listed.get(study):
            yield _identifier("STUDY", study)
            continue
        for series, group in groupby(wanted, key=lambda r: r.series_instance_uid):
            query = _identifier("IMAGE", study)
            query.SeriesInstanceUID = series
            query.SOPInstanceUID = [r.sop_instance_uid for r in group]
            yield query


def _identifier(level: str, study: str) -> Dataset:
    query = Dataset()
    query.QueryRetrieveLevel = level
    query.StudyInstanceUID = study
    return query


def _status(code: int | None) -> str:
    if code is None:
        return "no answer in time (the association timed out or was aborted)"
    return f"status 0x{code:04X}"
