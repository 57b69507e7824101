"""C-STORE to a real DCMTK storescp on loopback: everything arrives, equal to the folder output."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import pydicom
import pytest
from pydicom.dataset import Dataset
from typer.testing import CliRunner

import simulator as sim
from spokesync.catalog import open_catalog
from spokesync.catalog.review import approve, open_reviews
from spokesync.flows.cli.main import app
from tests.support.builders import system_tool
from tests.support.detection import copy_hub
from tests.support.retrieve import reconcile


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def storescp(tmp_path):
    """A storescp started on a free loopback port; stopped by its PID, waiting for it to exit."""
    tool = system_tool("storescp")  # DCMTK's, not pynetdicom's script of the same name
    if not tool:
        pytest.skip("storescp is missing (Debian package dcmtk)")
    port, received = free_port(), tmp_path / "received"
    received.mkdir()
    log = open(tmp_path / "storescp.log", "wb")  # noqa: SIM115  closed below
    proc = subprocess.Popen(
        [tool, "--aetitle", "STORESCP", "--output-directory", str(received), str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=os.environ | {"TCP_NODELAY": "1"},  # DCMTK leaves Nagle on unless asked
    )
    try:
        wait_for_port(port, proc)
        yield f"STORESCP@127.0.0.1:{port}", received
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        log.close()


def wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"storescp exited with {proc.returncode} before listening")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"storescp did not listen on port {port} within {timeout} s")


def dataset_of(path: Path) -> tuple[str, Dataset]:
    """The transfer syntax and every element and value, pixel data included, but not what may
    legitimately differ between two retrievals to two destinations: the preamble and file meta
    (storescp writes its own), Data Set Trailing Padding (media only, never on the network,
    PS3.10 7.2) and the time of the modification (each retrieval stamps its own)."""
    ds = pydicom.dcmread(path)
    plain = Dataset(ds)
    plain.pop(0xFFFCFFFC, None)
    for item in plain.get("OriginalAttributesSequence", []):
        if item.ModifyingSystem == "spokesync":
            item.AttributeModificationDateTime = "19700101"
    return ds.file_meta.TransferSyntaxUID, plain


def cli(*args: str):
    return CliRunner().invoke(app, list(args), terminal_width=250)


def test_c_store_to_storescp_delivers_every_instance_equal_to_the_folder_output(
    archived, sample_drops, tmp_path, storescp
):
    node, received = storescp
    source = sample_drops["north"]
    table = sim.manifest_of(source)
    study = sim.study_uids(table)[0]
    patient = next(r["patient_id"] for r in table.to_pylist() if r["study_instance_uid"] == study)
    _, with_pr, _ = reconcile(archived, tmp_path, source, [sim.AddObject(study, "PR")], "pr")
    fix = sim.Correct("patient", patient, "patient_name", "FAKE^X", "orthanc")
    config, _, truth = reconcile(archived, tmp_path, with_pr, [fix], "corrected")
    [current] = next(r.target_study_uids for r in truth.records if r.source_study_uids == (study,))
    with open_catalog(config.catalog) as con:  # Orthanc's re-identified studies wait for review
        for record in open_reviews(con):
            approve(con, record["seq"], by="tester")
    out = tmp_path / "out"
    to_folder = cli("retrieve", current, "--out", str(out), "--config", str(config.file))
    to_node = cli("retrieve", current, "--to", node, "--config", str(config.file))
    assert to_folder.exit_code == 0 and to_node.exit_code == 0, to_node.output
    written = {p.stem: dataset_of(p) for p in out.rglob("*.dcm")}
    stored = {ds.SOPInstanceUID: (syntax, ds) for syntax, ds in map(dataset_of, received.iterdir())}
    assert len(stored) == len(written) > 40 and stored.keys() == written.keys()
    assert all(stored[sop] == written[sop] for sop in written)
    assert any("OriginalAttributesSequence" in ds for _, ds in stored.values())
    assert any(ds.Modality == "PR" for _, ds in stored.values())
    assert re.search(rf"instances sent +│ +{len(written)} of {len(written)} ", to_node.output)


def test_an_unreachable_node_is_an_error_that_names_it(archived, sample_drops, tmp_path):
    study = sim.study_uids(sim.manifest_of(sample_drops["north"]))[0]
    config = copy_hub(archived, tmp_path / "hub", "north", sample_drops["north"])
    node = f"NOBODY@127.0.0.1:{free_port()}"
    run = cli("retrieve", study, "--to", node, "--config", str(config.file))
    assert run.exit_code == 2 and node in run.output and "association" in run.output
