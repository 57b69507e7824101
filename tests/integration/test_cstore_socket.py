"""C-STORE into a stock DCMTK storescp (Nagle left on): the sending socket has TCP_NODELAY,
TCP_QUICKACK is set again after every reply, and correction runs ahead in a bounded thread."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading

import pytest
from pydicom import dcmread
from pydicom.data import get_testdata_file
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian
from pynetdicom import AE

from spokesync.tasks.retrieve import dimse_send
from spokesync.tasks.retrieve.ahead import ahead, running_ahead
from spokesync.tasks.retrieve.dimse_send import (
    QUICKACK,
    presentation_contexts,
    quick_ack,
    send_at_once,
)
from tests.integration.test_retrieve_storescp import free_port, wait_for_port
from tests.support.builders import system_tool


@pytest.fixture
def stock_storescp(tmp_path):
    """DCMTK's storescp as installed: no TCP_NODELAY in its environment."""
    tool = system_tool("storescp")
    if not tool:
        pytest.skip("storescp is missing (Debian package dcmtk)")
    port, received = free_port(), tmp_path / "received"
    received.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "TCP_NODELAY"}
    command = [tool, "--aetitle", "STORESCP", "--output-directory", str(received), str(port)]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        wait_for_port(port, proc)
        yield port, received
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


@pytest.mark.skipif(QUICKACK is None, reason="TCP_QUICKACK is Linux only")
def test_the_sending_socket_has_nodelay_and_quickack_set_again_after_every_reply(
    stock_storescp, monkeypatch
):
    """The kernel reports quick-ACK mode as on between replies whether or not it was set (and
    drops it on its own), so the test counts the settings themselves: at least one per reply,
    each on the association's own socket, through the real setsockopt."""
    port, received = stock_storescp
    armed: list[socket.socket] = []

    def counted(sock):
        armed.append(sock)
        quick_ack(sock)

    monkeypatch.setattr(dimse_send, "quick_ack", counted)
    ct = get_testdata_file("CT_small.dcm")
    ae = AE(ae_title="SPOKESYNC")
    ae.requested_contexts = presentation_contexts([(CTImageStorage, ExplicitVRLittleEndian)])
    assoc = ae.associate("127.0.0.1", port, ae_title="STORESCP")
    try:
        assert assoc.is_established
        send_at_once(assoc)
        dimse_send._leave_responses_to_the_sender(assoc)  # as store_association does (#875)
        sock = assoc.dul.socket.socket
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
        per_reply = []
        for _ in range(5):
            before = len(armed)
            assert assoc.send_c_store(ct).Status == 0x0000
            per_reply.append(len(armed) - before)
        assert min(per_reply) >= 1, per_reply
        assert all(s is sock for s in armed)
    finally:
        assoc.release()
        ae.shutdown()
    assert [dcmread(f).SOPInstanceUID for f in received.iterdir()] == [dcmread(ct).SOPInstanceUID]


def test_correction_ahead_yields_in_order_and_stays_within_its_bound():
    names = ("CT_small.dcm", "MR_small.dcm", "rtplan.dcm", "JPEG2000.dcm", "MR_small_implicit.dcm")
    produced, consumed = [], []

    def read_all():
        for name in names * 4:
            produced.append(name)
            yield dcmread(get_testdata_file(name)).SOPInstanceUID

    for uid in ahead(read_all(), depth=2):
        consumed.append(uid)
        assert len(produced) - len(consumed) <= 2 + 1  # the queue plus the one in the worker's hand
    expected = [dcmread(get_testdata_file(n)).SOPInstanceUID for n in names * 4]
    assert consumed == expected


def test_a_consumer_that_stops_early_stops_the_worker_and_an_error_arrives_in_order():
    def objects():
        yield dcmread(get_testdata_file("CT_small.dcm"))
        raise ValueError("the catalog went away")

    stream = ahead(objects(), depth=1, name="test-ahead")
    assert next(stream).Modality == "CT"
    with pytest.raises(ValueError, match="catalog went away"):
        next(stream)

    endless = ahead(iter(lambda: dcmread(get_testdata_file("CT_small.dcm")), None), 1, "endless")
    assert next(endless).Modality == "CT"
    endless.close()
    assert not [t for t in threading.enumerate() if t.name in ("endless", "test-ahead")]


def test_a_send_block_that_fails_stops_the_worker_that_corrects_ahead():
    ct = get_testdata_file("CT_small.dcm")
    endless = iter(lambda: dcmread(ct), None)
    with (  # noqa: PT012
        pytest.raises(ConnectionError, match="node went away"),
        running_ahead(endless, name="send-block") as items,
    ):
        assert next(items).Modality == "CT"
        raise ConnectionError("the node went away")
    assert not [t for t in threading.enumerate() if t.name == "send-block"]
