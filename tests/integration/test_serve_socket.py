"""`spokesync serve` tunes its associations as `spokesync retrieve --to` does (issue 20): the
C-MOVE sub-association into a stock DCMTK storescp (Nagle left on) has TCP_NODELAY, the shorter
reactor delay and TCP_QUICKACK re-armed on every read; an association the hub accepts has
TCP_NODELAY, and a C-GET's sends shorten its reactor delay only while they last."""

from __future__ import annotations

import socket

from pydicom import dcmread
from pydicom.data import get_testdata_file
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian
from pynetdicom import AE, evt
from pynetdicom.sop_class import Verification

from spokesync.tasks.retrieve.dimse_send import (
    QUICKACK,
    REACTOR_DELAY,
    fast_reactor,
    presentation_contexts,
)
from spokesync.tasks.serve import scp
from spokesync.tasks.serve.handlers import SUB_TUNED
from tests.integration.test_cstore_socket import stock_storescp  # noqa: F401 (a fixture)
from tests.integration.test_retrieve_storescp import free_port


def _nodelay(sock: socket.socket) -> int:
    return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)


def test_the_c_move_sub_association_sends_and_acknowledges_each_object_at_once(
    stock_storescp,  # noqa: F811
):
    """Opened as pynetdicom's Move SCP opens it: `ae.associate(host, port, **kwargs)` with the
    event handlers handle_move yields; `recv` is the re-arming wrapper of `ack_at_once` (what
    it does per reply is tested in test_cstore_socket)."""
    port, received = stock_storescp
    ct = get_testdata_file("CT_small.dcm")
    ae = AE(ae_title="HUB")
    contexts = presentation_contexts([(CTImageStorage, ExplicitVRLittleEndian)])
    kwargs = {"ae_title": "STORESCP", "contexts": contexts, "evt_handlers": SUB_TUNED}
    assoc = ae.associate("127.0.0.1", port, **kwargs)
    try:
        assert assoc.is_established
        assert _nodelay(assoc.dul.socket.socket) == 1
        assert assoc.dul._run_loop_delay == REACTOR_DELAY
        if QUICKACK is not None:
            assert "recv" in vars(assoc.dul.socket)  # the instance's wrapper, not the method
        assert assoc.send_c_store(ct).Status == 0x0000
    finally:
        assoc.release()
        ae.shutdown()
    assert [dcmread(f).SOPInstanceUID for f in received.iterdir()] == [dcmread(ct).SOPInstanceUID]


def test_the_hub_accepts_with_nodelay_and_a_c_get_polls_faster_only_while_it_sends():
    server_ae = AE(ae_title="HUB")
    server_ae.add_supported_context(Verification)
    port = free_port()
    accepted = []
    events = [(evt.EVT_ACCEPTED, scp._accepted), (evt.EVT_ESTABLISHED, accepted.append)]
    server = server_ae.start_server(("127.0.0.1", port), block=False, evt_handlers=events)
    client = AE(ae_title="VIEWER")
    client.add_requested_context(Verification)
    assoc = client.associate("127.0.0.1", port, ae_title="HUB")
    try:
        assert assoc.is_established
        assert assoc.send_c_echo().Status == 0x0000
        hub_side = accepted[0].assoc
        assert _nodelay(hub_side.dul.socket.socket) == 1
        assert QUICKACK is None or "recv" in vars(hub_side.dul.socket)  # re-armed on each read
        idle = hub_side.dul._run_loop_delay
        assert idle > REACTOR_DELAY  # an idle association's reactor polls at pynetdicom's pace
        with fast_reactor(hub_side):
            assert hub_side.dul._run_loop_delay == REACTOR_DELAY
        assert hub_side.dul._run_loop_delay == idle
    finally:
        assoc.release()
        server.shutdown()
        client.shutdown()
