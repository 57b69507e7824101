"""Small builders the tests share: synthetic manifest rows and drops written to folders."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from spokesync.tasks.manifest.schema import MANIFEST_SCHEMA


def uid(*parts: object) -> str:
    """A deterministic valid DICOM UID from any seed."""
    digest = hashlib.sha256("/".join(map(str, parts)).encode()).digest()
    return "2.25." + str(int.from_bytes(digest[:16], "big"))


def rows(count: int, *, studies: int = 1, series_per_study: int = 1, seed: str = "s") -> list[dict]:
    """`count` valid manifest rows spread over studies and series (no object files)."""
    out = []
    for n in range(count):
        study = n % studies
        series = (n // studies) % series_per_study
        out.append(
            {
                "sop_instance_uid": uid(seed, "sop", n),
                "sop_class_uid": "1.2.840.10008.5.1.4.1.1.2",
                "series_instance_uid": uid(seed, "series", study, series),
                "study_instance_uid": uid(seed, "study", study),
                "patient_id": f"P{study:04d}",
                "fingerprint": "px1:" + hashlib.sha256(f"{seed}{n}".encode()).hexdigest(),
                "series_number": series + 1,
                "instance_number": n + 1,
                "modality": "CT",
                "object_uri": f"objects/{n}.dcm",
            }
        )
    return out


def table(data: list[dict]) -> pa.Table:
    return pa.Table.from_pylist(data, schema=MANIFEST_SCHEMA)


def write_drop(
    folder: Path,
    data: list[dict] | pa.Table,
    *,
    spoke: str = "north",
    generated_at: str = "2026-11-27T23:00:00Z",
    fmt: str = "parquet",
) -> Path:
    """Write manifest.json and manifest.parquet (or .csv) into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    meta = {"spoke": spoke, "generated_at": generated_at, "format": 1, "fingerprint": "v1"}
    (folder / "manifest.json").write_text(json.dumps(meta))
    data = data if isinstance(data, pa.Table) else table(data)
    if fmt == "parquet":
        pq.write_table(data, folder / "manifest.parquet")
    else:
        import pyarrow.csv as pacsv

        pacsv.write_csv(data, folder / "manifest.csv")
    return folder


def system_tool(name: str) -> str | None:
    """A program from the system, e.g. DCMTK's storescp, never pynetdicom's same-named script
    that `uv run` puts first on PATH from the virtual environment."""
    import os
    import shutil
    import sys

    venv_bin = os.path.realpath(os.path.join(sys.prefix, "bin"))
    path = os.pathsep.join(
        p
        for p in os.environ.get("PATH", "").split(os.pathsep)
        if p and os.path.realpath(p) != venv_bin
    )
    return shutil.which(name, path=path)


def flip_byte(path: Path, offset: int) -> None:
    """Damage one byte of a (read-only) nearline file in place, as a failing disk would."""
    path.chmod(0o644)  # nearline TARs are read-only
    with open(path, "r+b") as f:
        f.seek(offset)
        byte = f.read(1)
        f.seek(offset)
        f.write(bytes([byte[0] ^ 0xFF]))


def pydicom_test_files() -> list[Path]:
    """The DICOM files bundled with pydicom. pydicom's get_testdata_files also asks the network
    for its optional data set, and waits about 15 s for each failure where there is none."""
    import pydicom.data

    return sorted((Path(pydicom.data.__file__).parent / "test_files").glob("*.dcm"))


RELATED = 'multipart/related; type="application/dicom"; boundary="b0und"'


def related_body(*parts: bytes) -> bytes:
    """A WADO-RS multipart/related body (boundary of RELATED) holding `parts` in order."""
    out = b""
    for part in parts:
        out += b"--b0und\r\nContent-Type: application/dicom\r\n\r\n" + part + b"\r\n"
    return out + b"--b0und--\r\n"
