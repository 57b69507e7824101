"""Helpers for retrieval tests: retrieve every study of a hub, and compare objects by content."""

from __future__ import annotations

import hashlib
import io
import re
import shutil
import subprocess
from pathlib import Path

import pyarrow.parquet as pq
import pydicom
from pydicom.dataset import Dataset

import simulator as sim
from spokesync.tasks.config import add_spoke, load_config
from spokesync.tasks.manifest.dicom_headers import manifest_row
from spokesync.tasks.reconcile.run import run_spoke
from spokesync.tasks.retrieve.study import retrieve_study
from tests.support.detection import catalog_view, copy_hub

_HISTORY = 0x04000561
_UID_TOKEN = re.compile(r"\b\d+(?:\.\d+){2,}\b")


def reconcile(archived, tmp_path: Path, source: Path, ops, name: str = "drop"):
    """Apply `ops` to `source` and reconcile a private hub copy; return config, drop, truth."""
    drop = tmp_path / name
    truth = sim.apply_operations(source, ops, drop)
    hub = tmp_path / "hub"
    if hub.exists():  # a second step on the same hub
        add_spoke(hub / "spokesync.toml", "north", drop)
        config = load_config(hub / "spokesync.toml")
    else:
        config = copy_hub(archived, hub, "north", drop)
    run_spoke(config, "north", allow_mass_delete=True)
    return config, drop, truth


def retrieve_all(config, out: Path) -> dict[str, Path]:
    """Retrieve every study with active instances to `out`; return {SOP UID: file}."""
    for study in sorted({row[2] for row in catalog_view(config)}):
        result = retrieve_study(config, study, out=out)
        assert not result.failed, result.failed
    return {f.stem: f for f in out.rglob("*.dcm")}


def spoke_files(drop: Path) -> dict[str, Path]:
    """{SOP UID: object file} for every row of a drop's manifest (what the spoke holds)."""
    rows = pq.read_table(drop / "manifest.parquet").to_pylist()
    return {r["sop_instance_uid"]: drop / r["object_uri"] for r in rows}


def content(ds: Dataset) -> tuple:
    """Identity, tracked values, pixel bytes (hashed) and every UID the object refers to."""
    row = manifest_row(ds, object_uri="", object_size=0, fingerprint=None)
    tracked = tuple(sorted((k, v) for k, v in row.items() if k not in ("object_uri",
                                                                      "object_size")))  # fmt: skip
    pixels = hashlib.sha256(ds.PixelData).hexdigest() if "PixelData" in ds else None
    return tracked, pixels, tuple(sorted(referenced_uids(ds)))


def referenced_uids(ds: Dataset) -> list[str]:
    """UID values inside sequences (references), outside Original Attributes Sequence."""
    found: list[str] = []
    for elem in ds:
        if elem.VR == "SQ" and elem.tag != _HISTORY:
            for item in elem.value:
                found.extend(str(e.value) for e in item.iterall() if e.VR == "UI" and e.value)
    return found


def contents(files: dict[str, Path]) -> dict[str, tuple]:
    """{SOP UID: content}; files with the same bytes are parsed once per test session."""
    return {sop: _content_of(path.read_bytes()) for sop, path in files.items()}


_PARSED: dict[bytes, tuple] = {}


def _content_of(data: bytes) -> tuple:
    key = hashlib.sha256(data).digest()
    if key not in _PARSED:
        _PARSED[key] = content(pydicom.dcmread(io.BytesIO(data)))
    return _PARSED[key]


def stored_sop_uid(ds: Dataset) -> str:
    """The SOP UID the object was stored under: the first recorded original, else its own."""
    for item in ds.get("OriginalAttributesSequence", []):
        for modified in item.ModifiedAttributesSequence:
            if "SOPInstanceUID" in modified:
                return modified.SOPInstanceUID
    return ds.SOPInstanceUID


def dciodvfy_errors(path: Path) -> list[str]:
    """dciodvfy's error lines, each UID replaced by <UID> (retrieval legitimately changes UIDs)."""
    tool = shutil.which("dciodvfy")
    assert tool, "dciodvfy (Debian package dicom3tools) is needed"
    run = subprocess.run([tool, str(path)], capture_output=True, text=True, check=False)
    lines = (run.stdout + run.stderr).splitlines()
    return sorted(_UID_TOKEN.sub("<UID>", line) for line in lines if line.startswith("Error"))
