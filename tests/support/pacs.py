"""Hubs whose spoke north is the test Orthanc, over DICOMweb or DIMSE (C-GET or C-MOVE)."""

from __future__ import annotations

from pathlib import Path

from spokesync.tasks.config import init_config, load_config, set_spoke
from tests.support.orthanc import HUB_AET, ORTHANC_AET, Orthanc

PROTOCOLS = ("dicomweb", "dimse")
# Three of north's studies, the first five objects of each series (37 in all): two studies of
# one patient (merge), a single-study patient with four series (split, modify), an RT
# structure set and plan (objects without pixel data).
PACS_STUDIES = ("N0002", "N0003", "N0005")
PER_SERIES = 5
PACS_INSTANCES = 37


def pacs_files(north: Path) -> list[Path]:
    """The sample objects the test Orthanc is loaded with."""
    return sorted(f for study in PACS_STUDIES for f in (north / study).rglob("*.dcm")
                  if int(f.stem) <= PER_SERIES)  # fmt: skip


def spoke_body(orthanc: Orthanc, protocol: str, **overrides) -> dict:
    """spokes.north as an administrator would write it for this Orthanc."""
    if protocol == "dicomweb":
        body = {
            "source": "dicomweb",
            "url": orthanc.dicomweb,
            "username_env": "NORTH_PACS_USER",
            "password_env": "NORTH_PACS_PASSWORD",
            "page_size": 50,  # small pages, so paging is exercised by the sample spoke
        }
    else:
        body = {
            "source": "dimse",
            "host": "127.0.0.1",
            "port": orthanc.dicom_port,
            "called_aet": ORTHANC_AET,
            "calling_aet": HUB_AET,
            "storage_port": orthanc.hub_storage_port,
            "storage_bind": "127.0.0.1",
        }
    return {**body, "timeout_seconds": 20, **overrides}


def pacs_hub(folder: Path, orthanc: Orthanc, protocol: str, **overrides):
    """A fresh hub whose only spoke, north, is `orthanc` over `protocol`."""
    file = init_config(folder)
    set_spoke(file, "north", spoke_body(orthanc, protocol, **overrides))
    return load_config(file)
