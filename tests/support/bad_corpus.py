"""Writes the committed bad-input corpus under tests/data/bad/.

    python -m tests.support.bad_corpus

Every case is a small but real drop: three tiny CT objects of one new study, their manifest,
and one thing broken the way a spoke's PACS administrator could break it. Each case folder
holds `expect.toml`: the error, the file/row/column/UID its message names, and the fix.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filebase import DicomBytesIO
from pydicom.uid import ExplicitVRLittleEndian

from spokesync.tasks.manifest.schema import MANIFEST_SCHEMA
from tests.support.bad_corpus_cases import CASES, SERIES, SOPS, STUDY, Case

CORPUS = Path(__file__).parents[1] / "data" / "bad"
CT = "1.2.840.10008.5.1.4.1.1.2"
GENERATED_AT = "2026-11-27T23:00:00Z"  # later than the test hub's last north manifest


def pixels(sop: str) -> bytes:
    """Eight pixel bytes of the object's own: four 16-bit pixels."""
    return hashlib.sha256(sop.encode()).digest()[:8]


def tiny_ct(sop: str, n: int) -> bytes:
    """A 2x2 CT image, Part 10, with pixel bytes of its own (so its fingerprint is new)."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = CT, sop
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = CT, sop
    ds.StudyInstanceUID, ds.SeriesInstanceUID = STUDY, SERIES
    ds.PatientID, ds.PatientName, ds.Modality = "BAD-0001", "FAKE^BAD", "CT"
    ds.SeriesNumber, ds.InstanceNumber = 1, n + 1
    ds.Rows = ds.Columns = 2
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.PixelData = pixels(sop)
    out = DicomBytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def objects() -> dict[str, bytes]:
    return {sop: tiny_ct(sop, n) for n, sop in enumerate(SOPS)}


def base_rows() -> list[dict]:
    """The three rows of a good drop, fingerprints computed from the objects' pixel bytes."""
    return [
        {
            "sop_instance_uid": sop,
            "sop_class_uid": CT,
            "series_instance_uid": SERIES,
            "study_instance_uid": STUDY,
            "patient_id": "BAD-0001",
            "fingerprint": "px1:"
            + hashlib.sha256(hashlib.sha256(sop.encode()).digest()[:8]).hexdigest(),
            "patient_name": "FAKE^BAD",
            "accession_number": "ACC-BAD-1",
            "study_date": "20261127",
            "study_description": "bad input corpus",
            "series_number": 1,
            "modality": "CT",
            "instance_number": n + 1,
            "object_uri": f"objects/{sop}.dcm",
        }
        for n, sop in enumerate(SOPS)
    ]


def write_case(case: Case) -> None:
    folder = CORPUS / case.case
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "objects").mkdir(parents=True)
    (folder / "expect.toml").write_text(case.expect_toml())
    if case.run == "scan_tar":
        (folder / "objects").rmdir()
        case.after(folder)
        return
    for sop, data in objects().items():
        (folder / "objects" / f"{sop}.dcm").write_bytes(data)
    meta = {"spoke": "north", "generated_at": GENERATED_AT, "format": 1, "fingerprint": "v1"}
    rows = base_rows()
    if case.rows:
        rows = case.rows(rows)
    if case.meta:
        meta = case.meta(meta)
    if meta is not None:
        (folder / "manifest.json").write_text(json.dumps(meta, indent=2) + "\n")
    write_manifest(folder, rows, case.fmt)
    if case.deletions is not None:
        pq.write_table(pa.Table.from_pylist(case.deletions), folder / "deletions.parquet")
    if case.after:
        case.after(folder)


def write_manifest(folder: Path, rows: list[dict] | pa.Table, fmt: str) -> None:
    table = rows if isinstance(rows, pa.Table) else pa.Table.from_pylist(rows, MANIFEST_SCHEMA)
    if fmt == "parquet":
        pq.write_table(table, folder / "manifest.parquet")
    else:
        pacsv.write_csv(table, folder / "manifest.csv")


def main() -> None:
    for case in CASES:
        write_case(case)
    print(f"wrote {len(CASES)} cases under {CORPUS.relative_to(Path.cwd())}")


if __name__ == "__main__":
    main()
