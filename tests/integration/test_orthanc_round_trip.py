"""A real Orthanc changed through its REST API: the hub records the change and serves what
Orthanc now holds, over DICOMweb and over DIMSE."""

from __future__ import annotations

import shutil

import pytest

from flows.config import load_config
from tasks.reconcile import run_spoke
from tests.detection_support import records_of_run
from tests.orthanc_ops import OPERATIONS
from tests.pacs_support import PACS_INSTANCES, PROTOCOLS
from tests.retrieve_support import contents, retrieve_all

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

    result = run_spoke(config, "north", allow_mass_delete=True)  # a series is 12 of 74 objects

    found = [(r[0], r[1], r[2], r[3]) for r in records_of_run(config, result["run_id"])]
    assert found == [(kind, "applied", sources, targets)]
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
