"""A real Orthanc changed through its REST API: the hub records the change and serves what
Orthanc now holds, over DICOMweb and over DIMSE."""

from __future__ import annotations

import shutil

import pytest

from spokesync.catalog import open_catalog
from spokesync.catalog.review import approve, open_reviews
from spokesync.tasks.config import load_config, set_spoke
from spokesync.tasks.reconcile.run import run_spoke
from tests.support.detection import records_of_run
from tests.support.orthanc import Proxy
from tests.support.orthanc_ops import OPERATIONS, store_secondary_capture
from tests.support.pacs import PACS_INSTANCES, PROTOCOLS, spoke_body
from tests.support.retrieve import contents, retrieve_all

pytestmark = pytest.mark.integration


def copy_template(template, to):
    shutil.copytree(template, to)
    return load_config(to / "spokesync.toml")


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("name", sorted(OPERATIONS))
def test_an_orthanc_change_is_recorded_and_retrieved_as_orthanc_now_holds_it(
    pacs_templates, orthanc_north, tmp_path, name, protocol
):
    config = copy_template(pacs_templates[protocol], tmp_path / "hub")
    kind, sources, targets = OPERATIONS[name](orthanc_north)

    result = run_spoke(config, "north", allow_mass_delete=True)  # a series is 5 of 37 objects

    found = [(r[0], r[1], r[2], r[3]) for r in records_of_run(config, result["run_id"])]
    status = "pending_review" if kind == "UID_FIX" else "applied"
    assert found == [(kind, status, sources, targets)]
    if kind == "UID_FIX":  # a re-identified study waits for a person (DESIGN §4): approve it
        with open_catalog(config.catalog) as con:
            for record in open_reviews(con):
                approve(con, record["seq"], by="tester")
    retrieved = contents(retrieve_all(config, tmp_path / "retrieved"))
    held = contents(orthanc_north.files(tmp_path / "orthanc"))
    assert without_references(retrieved) == without_references(held)


def without_references(found: dict[str, tuple]) -> dict[str, tuple]:
    """UIDs, tracked values and pixel hash per SOP instance: what Orthanc and the hub share.

    References differ on purpose: Orthanc's split and modify leave an SR or a presentation
    state pointing at the old UIDs of images they re-identified; the hub remaps them
    (tests/integration/test_retrieve.py checks the remapping).
    """
    return {sop: (tracked, pixels) for sop, (tracked, pixels, _refs) in found.items()}


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_quiet_night_downloads_no_object(pacs_templates, orthanc_north, tmp_path, protocol):
    config = copy_template(pacs_templates[protocol], tmp_path / "hub")

    result = run_spoke(config, "north")

    assert result["manifest_rows"] == PACS_INSTANCES
    assert (result["fetched"], result["new_instances"], result["cc_records"]) == (0, 0, 0)


def test_a_quiet_night_sends_no_wado_request_to_the_pacs(pacs_templates, orthanc_north, tmp_path):
    """Counted at the wire, by a proxy in front of Orthanc, not by the hub's own bookkeeping."""
    folder = tmp_path / "hub"
    shutil.copytree(pacs_templates["dicomweb"], folder)
    proxy = Proxy(orthanc_north.url)
    try:
        set_spoke(folder / "spokesync.toml", "north",
                  spoke_body(orthanc_north, "dicomweb", url=f"{proxy.url}/dicom-web"))  # fmt: skip
        quiet = run_spoke(load_config(folder / "spokesync.toml"), "north")
        queries, objects = proxy.qido_requests, proxy.wado_requests
        store_secondary_capture(orthanc_north)
        one_new = run_spoke(load_config(folder / "spokesync.toml"), "north")
    finally:
        proxy.stop()
    assert quiet["manifest_rows"] == PACS_INSTANCES and queries > 3 and objects == 0
    assert one_new["fetched"] == 1 and proxy.wado_requests == 1
