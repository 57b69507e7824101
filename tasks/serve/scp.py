"""The hub's Query/Retrieve SCP (pynetdicom): one server, an association per thread.

Callers are known AE titles only (as Orthanc's DicomModalities): the spokes' own AE titles,
the C-MOVE destinations and `[serve] calling_aets`; any other is rejected at association.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from pydicom.uid import AllTransferSyntaxes
from pynetdicom import AE, StoragePresentationContexts, _config, evt, sop_class
from pynetdicom.transport import ThreadedAssociationServer

from spokesync.tasks.retrieve.dimse_send import socket_at_once
from spokesync.tasks.serve import handlers
from spokesync.tasks.serve.lookup import warm_up

if TYPE_CHECKING:
    from spokesync.tasks.config import Config

log = logging.getLogger("spokesync.serve")
QUERY_RETRIEVE = [
    getattr(sop_class, f"{root}RootQueryRetrieveInformationModel{service}")
    for root in ("Patient", "Study")
    for service in ("Find", "Get", "Move")
]
TIMEOUT_SECONDS = 60

# pynetdicom logs request identifiers (names, birth dates) at INFO unless told not to.
_config.LOG_REQUEST_IDENTIFIERS = False
_config.LOG_RESPONSE_IDENTIFIERS = False


def known_callers(config: Config) -> list[str]:
    """The AE titles allowed to call: spokes' own, destinations' and `[serve] calling_aets`."""
    spokes = [s.called_aet for s in config.spokes.values() if getattr(s, "called_aet", None)]
    return sorted({*spokes, *config.serve.destinations, *config.serve.calling_aets})


def build_ae(config: Config) -> AE:
    """The application entity: Verification and both Query/Retrieve models as SCP, and every
    storage class in the SCP role a C-GET caller takes, in any transfer syntax."""
    ae = AE(ae_title=config.serve.ae_title)
    ae.maximum_associations = 16
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = TIMEOUT_SECONDS
    ae.require_calling_aet = known_callers(config)
    ae.require_called_aet = True
    ae.add_supported_context(sop_class.Verification)
    for model in QUERY_RETRIEVE:
        ae.add_supported_context(model)
    for context in StoragePresentationContexts:
        ae.add_supported_context(
            context.abstract_syntax, AllTransferSyntaxes, scu_role=False, scp_role=True
        )
    return ae


def start_server(config: Config) -> ThreadedAssociationServer:
    """Listen on `[serve] bind`:`port` in the background; stop it with `.shutdown()`."""
    serve = config.serve
    ae = build_ae(config)
    events = [
        (evt.EVT_SOP_EXTENDED, handlers.handle_extended),
        (evt.EVT_C_ECHO, handlers.handle_echo),
        (evt.EVT_C_FIND, handlers.handle_find, [config]),
        (evt.EVT_C_GET, handlers.handle_get, [config]),
        (evt.EVT_C_MOVE, handlers.handle_move, [config]),
        (evt.EVT_ACCEPTED, _accepted),
        (evt.EVT_REJECTED, _rejected, [ae.require_calling_aet, serve.ae_title]),
        (evt.EVT_RELEASED, _released),
        (evt.EVT_ABORTED, _released),
    ]
    server = ae.start_server((serve.bind, serve.port), block=False, evt_handlers=events)
    threading.Thread(target=warm_up, args=(config,), name="serve-warm-up", daemon=True).start()
    log.info("serve: %s listening on %s:%d; %d known callers, %d move destinations",
             serve.ae_title, serve.bind, serve.port, len(ae.require_calling_aet),
             len(serve.destinations))  # fmt: skip
    return server


def _peer(event) -> str:
    requestor = event.assoc.requestor
    return f"{requestor.ae_title} at {requestor.address}:{requestor.port}"


def _accepted(event) -> None:
    """Small PDUs (C-FIND answers, a C-GET's C-STORE requests) leave at once and what the
    caller sends is acknowledged at once: without it a DCMTK caller, which leaves Nagle's
    algorithm on, waits out a delayed ACK (about 40 ms) per object it takes."""
    socket_at_once(event.assoc)
    log.info("serve: association from %s accepted", _peer(event))


def _rejected(event, known: list[str], own: str) -> None:
    primitive = event.assoc.requestor.primitive
    if event.assoc.requestor.ae_title not in known:
        why = ("calling AE title is not a configured spoke, move destination or "
               "[serve] calling_aets")  # fmt: skip
    elif primitive is not None and primitive.called_ae_title != own:
        why = f"called AE title {primitive.called_ae_title!r} is not the hub's ({own})"
    else:
        why = "no presentation context was acceptable"
    log.warning("serve: association from %s rejected: %s", _peer(event), why)


def _released(event) -> None:
    log.info("serve: association from %s closed", _peer(event))
