"""C-STORE to a DICOM node with pynetdicom: one association per study, stored syntaxes first.

A retrieved object keeps the transfer syntax it was stored in, so the association proposes
exactly the (SOP class, transfer syntax) pairs the study's objects are stored in; Implicit VR
Little Endian, which every storage SCP accepts, is added as a fallback for uncompressed data.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pydicom.dataset import Dataset
from pydicom.uid import UID, ImplicitVRLittleEndian
from pynetdicom import AE, _config, build_context
from pynetdicom.association import Association
from pynetdicom.presentation import PresentationContext

from spokesync.catalog.errors import SpokesyncError

CALLING_AET = "SPOKESYNC"
REACTOR_DELAY = 0.0001  # seconds between pynetdicom's polls of its event queue (default 0.001)
MAX_CONTEXTS = 128  # PS3.8: presentation context IDs are odd numbers 1-255
_SUCCESS_OR_WARNING = {0x0000, 0x0001, 0xB000, 0xB006, 0xB007}
QUICKACK = getattr(socket, "TCP_QUICKACK", None)  # Linux only
_AET = re.compile(r"[\x20-\x5b\x5d-\x7e]{1,16}")  # 16 printable characters, no backslash

Send = Callable[..., None]  # send(dataset, encoded: Path | None = None)
# Send a file by path in chunks, never decoded or held whole: memory stays bounded.
_config.STORE_SEND_CHUNKED_DATASET = True


class NodeUnavailable(SpokesyncError):
    """The DICOM node refused or dropped the association; retrying later may succeed."""


class StoreRefused(SpokesyncError):
    """The DICOM node answered one C-STORE with a failure status, or cannot take the object."""


@dataclass(frozen=True)
class DicomNode:
    """A DICOM application entity reached over TCP: `AET@HOST:PORT`."""

    aet: str
    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.aet}@{host}:{self.port}"


def parse_node(text: str) -> DicomNode:
    """Parse `AET@HOST:PORT` (an IPv6 host in brackets), naming the part that is wrong."""
    aet, at, address = text.partition("@")
    host, colon, port = address.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    problem = None
    if not at or not colon or not host:
        problem = "expected AET@HOST:PORT, for example STORESCP@127.0.0.1:11112"
    elif not _AET.fullmatch(aet) or aet.strip() != aet:
        problem = f"AE title {aet!r} must be 1 to 16 printable characters without '\\'"
    elif not port.isdigit() or not 0 < int(port) < 65536:
        problem = f"port {port!r} must be a number from 1 to 65535"
    if problem:
        raise ValueError(f"DICOM node {text!r}: {problem}")
    return DicomNode(aet, host, int(port))


def presentation_contexts(stored: Iterable[tuple[str, str | None]]) -> list[PresentationContext]:
    """One context per stored (SOP class, transfer syntax), so each object goes as stored.

    An uncompressed one also offers Implicit VR Little Endian, which pynetdicom can re-encode
    to; a compressed object goes in its own syntax or not at all.
    """
    pairs = sorted({(sop_class, syntax or ImplicitVRLittleEndian) for sop_class, syntax in stored})
    if len(pairs) > MAX_CONTEXTS:
        raise StoreRefused(
            f"the study holds {len(pairs)} combinations of SOP class and transfer syntax, more "
            f"than one association can propose ({MAX_CONTEXTS}); retrieve it with --out instead"
        )
    contexts = []
    for sop_class, syntax in pairs:
        proposed = [syntax]
        if not UID(syntax).is_compressed and syntax != ImplicitVRLittleEndian:
            proposed.append(ImplicitVRLittleEndian)
        contexts.append(build_context(sop_class, proposed))
    return contexts


def tune_for_throughput(assoc: Association) -> None:
    """Send each small PDU at once, acknowledge each received one at once, poll the reactor
    more often, and keep replies safe.

    Without TCP_NODELAY, Nagle's algorithm and the peer's delayed ACK hold every C-STORE for
    about 40 ms; the shorter reactor delay doubles the rate for objects of tens of kB. These
    reach into pynetdicom internals (no public option), so a missing attribute is ignored.
    """
    send_at_once(assoc)
    _leave_responses_to_the_sender(assoc)


def send_at_once(assoc: Association) -> None:
    """TCP_NODELAY and a shorter reactor delay, so each small PDU (a C-STORE response, a
    C-FIND request) leaves at once instead of waiting out the peer's delayed ACK; and every
    PDU received is acknowledged at once (`ack_at_once`)."""
    socket_at_once(assoc)
    if hasattr(assoc.dul, "_run_loop_delay"):
        assoc.dul._run_loop_delay = REACTOR_DELAY


def socket_at_once(assoc: Association) -> None:
    """TCP_NODELAY and TCP_QUICKACK on the association's socket, its reactor left as it is: for
    a server's associations, which may sit idle, so their reactors should not poll faster."""
    transport = getattr(assoc.dul, "socket", None)
    sock = getattr(transport, "socket", None)
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        ack_at_once(transport)


@contextmanager
def fast_reactor(assoc: Association) -> Iterator[None]:
    """The shorter reactor delay for the length of the block (a C-GET's sends), then back."""
    dul = assoc.dul
    before = getattr(dul, "_run_loop_delay", None)
    if before is not None:
        dul._run_loop_delay = REACTOR_DELAY
    try:
        yield
    finally:
        if before is not None:
            dul._run_loop_delay = before


def ack_at_once(transport: object) -> None:
    """Keep TCP_QUICKACK armed on an association's socket (Linux; elsewhere nothing happens).

    A peer that leaves Nagle's algorithm on (DCMTK's storescp does unless TCP_NODELAY=1 is in
    its environment) holds the second small write of a reply until its first is acknowledged,
    and a delayed ACK makes that about 40 ms per object. The kernel drops quick-ACK mode on its
    own, so it is set again after every read of pynetdicom's transport (`recv`).
    """
    if QUICKACK is None or not callable(getattr(transport, "recv", None)):
        return
    plain = transport.recv

    def recv(nr_bytes: int) -> bytearray:
        data = plain(nr_bytes)
        quick_ack(getattr(transport, "socket", None))
        return data

    transport.recv = recv
    quick_ack(getattr(transport, "socket", None))


def quick_ack(sock: socket.socket | None) -> None:
    """Ask the kernel to acknowledge the next segments at once; a closed socket is left be."""
    if sock is None or QUICKACK is None:
        return
    try:
        sock.setsockopt(socket.IPPROTO_TCP, QUICKACK, 1)
    except OSError:  # closed under us: the association's own error handling reports it
        return


def _leave_responses_to_the_sender(assoc: Association) -> None:
    """Keep pynetdicom's reactor thread from taking a C-STORE response off the queue.

    Its pause handshake with send_c_store has a window (pynetdicom issue #875, "Received
    unexpected ... service message"): a fast response read by the reactor is lost and the send
    waits for the DIMSE timeout. A storage SCU expects no requests from its peer, so the
    reactor's non-blocking reads find nothing; send_c_store's blocking read gets every reply.
    The same holds for a C-FIND or C-GET SCU: send_c_get's blocking read also takes the
    C-STORE requests of its sub-operations and serves them itself.
    """
    dimse = getattr(assoc, "dimse", None)
    get_msg = getattr(dimse, "get_msg", None)
    if get_msg is None:
        return

    def sender_only(block: bool = False) -> tuple:
        return get_msg(block=True) if block else (None, None)

    dimse.get_msg = sender_only


@contextmanager
def store_association(
    node: DicomNode,
    contexts: list[PresentationContext],
    *,
    calling_aet: str = CALLING_AET,
    timeout: float = 30,
) -> Iterator[Send]:
    """Open one association to `node` and yield `send(dataset, encoded)` for one object.

    `encoded` is the object as a Part 10 file; it goes out in chunks without re-encoding when
    the node accepted its transfer syntax, else the dataset is converted by pynetdicom.
    `send` raises StoreRefused for an object the node will not take (the association stays
    usable) and NodeUnavailable when the association is gone.
    """
    ae = AE(ae_title=calling_aet)
    ae.requested_contexts = contexts
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = timeout
    assoc = ae.associate(node.host, node.port, ae_title=node.aet)
    try:
        if not assoc.is_established:
            how = (
                "rejected" if assoc.is_rejected else "aborted" if assoc.is_aborted else "unanswered"
            )
            raise NodeUnavailable(
                f"association with {node} was {how}; check that the node is running and that it "
                f"accepts calling AE title {calling_aet}"
            )
        tune_for_throughput(assoc)
        yield lambda ds, encoded=None: _send_one(assoc, node, ds, encoded)
    finally:
        if assoc.is_established:
            assoc.release()
        ae.shutdown()


def _send_one(assoc: Association, node: DicomNode, ds: Dataset, encoded: Path | None) -> None:
    """C-STORE one object, from its encoded file when the stored syntax was accepted."""
    if not assoc.is_established:
        raise NodeUnavailable(f"the association with {node} was closed by the peer")
    status = None
    if encoded is not None:
        try:
            status = assoc.send_c_store(encoded)
        except (ValueError, AttributeError):  # its syntax was not accepted, or no file meta
            status = None
    if status is None:
        try:
            status = assoc.send_c_store(ds)
        except (ValueError, AttributeError) as exc:  # no accepted context, or not encodable
            raise StoreRefused(f"it cannot be sent to {node}: {exc}") from None
    if "Status" not in status:
        raise NodeUnavailable(f"{node} did not answer the C-STORE; the association is lost")
    if status.Status not in _SUCCESS_OR_WARNING:
        raise StoreRefused(f"{node} answered C-STORE status 0x{status.Status:04X}")
