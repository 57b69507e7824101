"""`spokesync demo --orthanc URL`: a third sample spoke, east, pulled from a running PACS.

The first time, east's sample objects are stored into the PACS with STOW-RS and east is
registered as a DICOMweb spoke; every night then pulls it like any PACS. The demo never changes
what the PACS holds after that: split, merge, modify or delete studies in the PACS (Orthanc
Explorer, or its REST API) and run the demo again to watch the hub record the changes.
"""

from __future__ import annotations

import os
from pathlib import Path

import pydicom
import requests
from rich.console import Console

from spokesync.catalog.errors import SpokeUnavailable
from spokesync.tasks import config as cfg

USER_ENV, PASSWORD_ENV = "ORTHANC_USER", "ORTHANC_PASSWORD"


def attach_pacs(console: Console, data_dir: Path, file: Path, url: str) -> None:
    """Store east's sample objects into the PACS once, and register east as a DICOMweb spoke."""
    from simulator.samples import PACS_SAMPLE, write_sample_spoke
    from spokesync.tasks.spokes.hub import open_source

    body = {"source": "dicomweb", "url": url.rstrip("/")}
    if os.environ.get(USER_ENV) and os.environ.get(PASSWORD_ENV):
        body |= {"username_env": USER_ENV, "password_env": PASSWORD_ENV}
    if PACS_SAMPLE in cfg.load_config(file).spokes:
        return
    source_dir = data_dir / "sources" / PACS_SAMPLE
    if not source_dir.exists():
        write_sample_spoke(PACS_SAMPLE, source_dir)
    cfg.set_spoke(file, PACS_SAMPLE, body)
    files = sorted(source_dir.rglob("*.dcm"))
    with open_source(PACS_SAMPLE, cfg.load_config(file).spokes[PACS_SAMPLE]) as pacs:
        try:
            pacs.client.store_instances([pydicom.dcmread(f) for f in files])
        except requests.RequestException as exc:  # the PACS's own answer, e.g. HTTP 401
            cfg.remove_spoke(file, PACS_SAMPLE)
            raise SpokeUnavailable(f"storing the demo's objects into {url} failed: {exc}") from None
    console.print(f"{PACS_SAMPLE}: stored {len(files)} sample DICOM objects into {url} (STOW-RS)")
