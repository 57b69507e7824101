"""The DIMSE requests `spokesync serve` answers: C-ECHO, C-FIND, C-GET and C-MOVE.

Every object leaves through the retrieval path of `spokesync retrieve` (DESIGN §8): read by
offset from its TAR with the SHA-256 check, corrected, its UIDs and references remapped;
deleted objects are not planned at all. Logs name the calling AE, counts and UIDs, never a
key's value (a patient's name or birth date may be one).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from pydicom.dataset import Dataset
from pynetdicom import build_context, evt
from pynetdicom.sop_class import Verification

from spokesync.catalog.errors import SpokesyncError
from spokesync.tasks.retrieve.ahead import running_ahead
from spokesync.tasks.retrieve.dimse_send import (
    StoreRefused,
    fast_reactor,
    presentation_contexts,
    tune_for_throughput,
)
from spokesync.tasks.retrieve.plan import StudyPlan
from spokesync.tasks.retrieve.study import FailedObject, corrected_objects
from spokesync.tasks.serve.answers import answer
from spokesync.tasks.serve.keys import (
    LEVELS,
    MalformedKey,
    Query,
    check_one_patient,
    parse_identifier,
)
from spokesync.tasks.serve.lookup import TooManyMatches, find_matches, retrieval_plans

if TYPE_CHECKING:
    from spokesync.tasks.config import Config

log = logging.getLogger("spokesync.serve")
PATIENT_ROOT, STUDY_ROOT = "1.2.840.10008.5.1.4.1.2.1", "1.2.840.10008.5.1.4.1.2.2"
FIND_MODELS = (f"{PATIENT_ROOT}.1", f"{STUDY_ROOT}.1")
COMBINED_BYTE = 1  # byte 2 of the C-FIND extended negotiation: combined date-time matching
PENDING, CANCEL, SUCCESS = 0xFF00, 0xFE00, 0x0000
IDENTIFIER_WRONG, OUT_OF_RESOURCES, UNABLE = 0xA900, 0xA700, 0xC001


def model_levels(sop_class: str) -> tuple[str, str, tuple[str, ...]]:
    """(model name, service, levels) of a Query/Retrieve SOP class (PS3.4 C.6)."""
    root, _, service = str(sop_class).rpartition(".")
    name = {PATIENT_ROOT: "Patient Root", STUDY_ROOT: "Study Root"}.get(root, "unknown model")
    levels = LEVELS if root == PATIENT_ROOT else LEVELS[1:]
    return name, {"1": "C-FIND", "2": "C-MOVE", "3": "C-GET"}.get(service, "?"), levels


def extended_answer(app_info: dict) -> dict[str, bytes]:
    """The hub's answer to C-FIND SOP Class Extended Negotiation (PS3.4 C.5.1.1.4): per Find
    SOP class asked, as many bytes as asked (at most 4: relational queries, combined
    date-time, fuzzy person names, timezone adjustment), 1 only for combined date-time
    matching when asked; other SOP classes get no answer (not agreed)."""
    answers = {}
    for uid, info in app_info.items():
        if str(uid) in FIND_MODELS and info:
            asked = bytes(info[:4])
            answers[uid] = bytes(int(i == COMBINED_BYTE and b == 1) for i, b in enumerate(asked))
    return answers


def handle_extended(event) -> dict[str, bytes]:
    """EVT_SOP_EXTENDED: pynetdicom sends the answer in the A-ASSOCIATE-AC and keeps it
    on the association's acceptor, where `combined_agreed` reads it back."""
    answers = extended_answer(event.app_info)
    log.info("serve: %s asked for extended negotiation of %d SOP classes; combined "
             "date-time matching agreed for %d", caller(event), len(event.app_info),
             sum(combined_in(a) for a in answers.values()))  # fmt: skip
    return answers


def combined_in(info: bytes | None) -> bool:
    return bool(info) and len(info) > COMBINED_BYTE and info[COMBINED_BYTE] == 1


def combined_agreed(event) -> bool:
    """Did this association agree to combined date-time matching for the request's class?"""
    agreed = event.assoc.acceptor.sop_class_extended
    return combined_in(agreed.get(str(event.request.AffectedSOPClassUID)))


def read_query(event, levels: tuple[str, ...], combined: bool = False) -> Query:
    """The request's identifier as a Query; one that cannot be decoded is a malformed key."""
    try:
        return parse_identifier(event.identifier, levels, combined=combined)
    except MalformedKey:
        raise
    except Exception as exc:  # pydicom decodes lazily: any error is the identifier's encoding
        raise MalformedKey(f"the identifier cannot be decoded ({type(exc).__name__})") from None


def failure(status: int, comment: str) -> Dataset:
    """A failure status with its Error Comment (LO: 64 characters at most)."""
    ds = Dataset()
    ds.Status = status
    ds.ErrorComment = comment[:64]
    return ds


def caller(event) -> str:
    return event.assoc.requestor.ae_title


def handle_echo(event) -> int:
    log.info("serve: C-ECHO from %s", caller(event))
    return SUCCESS


def handle_find(event, config: Config) -> Iterator[tuple]:
    """Answer a C-FIND from the catalog's current values, one pending response per match."""
    model, _, levels = model_levels(event.request.AffectedSOPClassUID)
    try:
        query = read_query(event, levels, combined_agreed(event))
        rows = find_matches(config, query)
    except SpokesyncError as exc:
        status = refusal_status(exc)
        log.warning("serve: C-FIND from %s refused (0x%04X): %s", caller(event), status, exc)
        yield failure(status, str(exc)), None
        return
    log.info("serve: C-FIND %s %s from %s: %d matches; keys %s", model, query.level,
             caller(event), len(rows), ", ".join(query.asked) or "none")  # fmt: skip
    for row in rows:
        if event.is_cancelled:
            yield CANCEL, None
            return
        yield PENDING, answer(query, row, config.serve.ae_title, levels)


def refusal_status(exc: Exception) -> int:
    """The DIMSE status for a request the hub will not answer (PS3.4 C.4.1.1.4)."""
    if isinstance(exc, TooManyMatches):
        return OUT_OF_RESOURCES
    return IDENTIFIER_WRONG if isinstance(exc, MalformedKey) else UNABLE


def planned(event, config: Config, what: str) -> list[StudyPlan] | Dataset:
    """The plans a C-GET or C-MOVE sends, or the failure status that refuses it."""
    _, _, levels = model_levels(event.request.AffectedSOPClassUID)
    try:
        query = read_query(event, levels)
        if query.level == "PATIENT":
            check_one_patient(event.identifier)
        return retrieval_plans(config, query)
    except SpokesyncError as exc:
        status = refusal_status(exc)
        log.warning("serve: %s from %s refused (0x%04X): %s", what, caller(event), status, exc)
        return failure(status, str(exc))


def handle_get(event, config: Config) -> Iterator:
    """Send the requested objects back over the caller's own association (C-GET)."""
    plans = planned(event, config, "C-GET")
    if isinstance(plans, Dataset):  # one failed sub-operation carries the refusal's status
        yield 1
        yield plans, None
        return
    yield sum(len(p.instances) for p in plans)
    with fast_reactor(event.assoc):  # the caller's responses are read at once while it takes
        yield from outgoing(event, plans, f"C-GET from {caller(event)}")


def handle_move(event, config: Config) -> Iterator:
    """Send the requested objects to a destination configured by its AE title (C-MOVE)."""
    name = str(event.move_destination).strip()
    destination = config.serve.destinations.get(name)
    if destination is None:
        log.warning(
            "serve: C-MOVE from %s to unknown destination %s refused (0xA801); add "
            "[serve.destinations.%s] with host and port",
            *(caller(event), name, name),
        )
        yield None, None
        return
    plans = planned(event, config, "C-MOVE")
    if isinstance(plans, Dataset):
        yield from _refused_move(destination, plans)
        return
    stored = [(i.sop_class_uid, i.transfer_syntax_uid) for p in plans for i in p.instances]
    try:
        contexts = presentation_contexts(stored) if stored else []
    except StoreRefused as exc:  # more SOP class and syntax pairs than one association holds
        log.warning("serve: C-MOVE from %s refused: %s", caller(event), exc)
        yield from _refused_move(destination, failure(UNABLE, str(exc)))
        return
    # pynetdicom opens the sub-association from these; tuned as `retrieve --to` tunes its own
    yield destination.host, destination.port, {"contexts": contexts, "evt_handlers": SUB_TUNED}
    yield len(stored)
    yield from outgoing(event, plans, f"C-MOVE from {caller(event)} to {name}")


def _tuned(event) -> None:
    """The C-MOVE sub-association, once established: each PDU leaves and is acknowledged at
    once (no 40 ms delayed-ACK stall per object against a DCMTK-based destination such as
    Orthanc), and only the sender reads the C-STORE responses (dimse_send)."""
    tune_for_throughput(event.assoc)


SUB_TUNED = [(evt.EVT_ESTABLISHED, _tuned)]  # the C-MOVE sub-association's event handlers


def _refused_move(destination, status: Dataset) -> Iterator:
    """pynetdicom asks for the destination before the count: the refusal is one failed
    sub-operation carrying the status and its comment (the destination is only greeted)."""
    yield destination.host, destination.port, {"contexts": [build_context(Verification)]}
    yield 1
    yield status, None


def outgoing(event, plans: list[StudyPlan], what: str) -> Iterator[tuple]:
    """(pending, dataset) per object, corrected on the way; an unreadable object goes as a
    dataset naming only its SOP UID, which pynetdicom counts as a failed sub-operation."""
    now, sent, failed, corrected = datetime.now(UTC), 0, 0, 0
    studies = [p.resolution.study_uid for p in plans]
    log.info("serve: %s: %d objects of %d studies %s", what,
             sum(len(p.instances) for p in plans), len(plans), studies)  # fmt: skip
    for plan in plans:  # corrected in a worker thread, a few ahead of the one being sent
        with running_ahead(corrected_objects(plan, now), name="serve-correct") as items:
            for item in items:
                if event.is_cancelled:
                    log.info("serve: %s cancelled after %d objects", what, sent + failed)
                    yield CANCEL, None
                    return
                if isinstance(item, FailedObject):
                    failed += 1
                    yield PENDING, _named_only(item.sop_instance_uid)
                    continue
                sent += 1
                corrected += bool(item.edits.changed)
                yield PENDING, item.dataset
    log.info("serve: %s done: %d objects handed over (%d corrected), %d unreadable",
             what, sent, corrected, failed)  # fmt: skip


def _named_only(sop_uid: str) -> Dataset:
    ds = Dataset()
    ds.SOPInstanceUID = sop_uid
    return ds
