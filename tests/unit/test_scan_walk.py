"""Manifest build reads a usual file once and walks it: its row is the one pydicom's parse gives."""

from __future__ import annotations

import copy
import shutil
import threading
import warnings
from pathlib import Path

import pyarrow.parquet as pq
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataelem import RawDataElement

from spokesync.tasks.manifest import scan as manifest_scan
from spokesync.tasks.manifest.build import build_drop
from spokesync.tasks.manifest.dicom_headers import manifest_row, unknown_character_sets
from spokesync.tasks.manifest.fingerprints import read_with_fingerprint
from spokesync.tasks.manifest.scan_walk import walked_row
from tests.support.builders import pydicom_test_files

# keyword -> raw value bytes written into a copy of CT_small; the walk reads these itself
WALKED = {
    "padded": {"IssuerOfPatientID": b"  P1  ", "StudyDescription": b"  a description \x00"},
    "over_long": {"StudyDescription": b"D" * 200, "AccessionNumber": b"A" * 40},
    "signed_numbers": {"SeriesNumber": b"+7", "InstanceNumber": b"007 "},
    "blank_numbers": {"SeriesNumber": b"  ", "InstanceNumber": b""},
    "number_past_int32": {"InstanceNumber": b"99999999999 "},
    "name_components": {"PatientName": b"Doe^John^^^", "ReferringPhysicianName": b""},
    "utf8_ascii_text": {"SpecificCharacterSet": b"ISO_IR 192", "StudyDescription": b"plain"},
    "unknown_charset": {"SpecificCharacterSet": b"ISO_IR 999", "PatientName": b"Plain^Name"},
    "charset_list": {"SpecificCharacterSet": b"\\ISO 2022 IR 87", "PatientName": b"Yamada"},
}
# values only pydicom can say what they read as: the file is parsed instead
PARSED = {
    "latin1_name": {
        "SpecificCharacterSet": b"ISO_IR 100",
        "PatientName": "Müller".encode("latin-1"),
    },
    "multi_valued": {"StudyDescription": b"A\\B ", "Modality": b"CT\\MR"},
    "name_groups": {"PatientName": b"A^B==", "ReferringPhysicianName": b"X=Y"},
    "decimal_number": {"SeriesNumber": b"1.0"},
    "bad_number": {"SeriesNumber": b"abc", "InstanceNumber": b"1\\2"},
    "control_character": {"StudyDescription": b"bad\x01value"},
    "nul_inside": {"PatientID": b"P\x00Q"},
}


def write_with(folder: Path, name: str, values: dict[str, bytes], n: int) -> Path:
    """A copy of CT_small with its own SOP instance UID and the given raw values."""
    ds = copy.deepcopy(pydicom.dcmread(get_testdata_file("CT_small.dcm")))
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = f"1.2.826.0.1.3680043.9.7.{n}"
    for keyword, raw in values.items():
        tag = tag_for_keyword(keyword)
        ds[tag] = RawDataElement(tag, dictionary_VR(tag), len(raw), raw, 0, False, True)
    path = folder / f"{name}.dcm"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds.save_as(path, enforce_file_format=True)
    return path


def parsed_row(path: Path, relative: str) -> dict:
    """The row as pydicom's parse gives it (the build's path before the walk)."""
    fingerprint, ds = read_with_fingerprint(path)
    return manifest_row(ds, object_uri=f"objects/{relative}", object_size=path.stat().st_size,
                        fingerprint=fingerprint)  # fmt: skip


def walked(path: Path) -> tuple[dict, list[str]] | None:
    return walked_row(memoryview(path.read_bytes()), str(path), f"objects/{path.name}")


@pytest.mark.parametrize("case", sorted(WALKED))
def test_a_usual_file_is_walked_to_the_row_and_character_sets_pydicom_gives(tmp_path, case):
    path = write_with(tmp_path, case, WALKED[case], 1)
    found = walked(path)
    assert found is not None, "a usual file must not need pydicom"
    ds = read_with_fingerprint(path)[1]
    assert found == (parsed_row(path, path.name), unknown_character_sets(ds))


@pytest.mark.parametrize("case", sorted(PARSED))
def test_a_value_only_pydicom_can_read_sends_the_file_to_pydicom(tmp_path, case):
    assert walked(write_with(tmp_path, case, PARSED[case], 1)) is None


def test_every_pydicom_test_file_walked_gives_the_row_its_parse_gives():
    seen = 0
    for name in pydicom_test_files():
        path = Path(name)
        try:
            found = walked(path)
        except Exception:  # refused by the walk: the build then lets pydicom word it
            continue
        if found is not None:
            assert found[0] == parsed_row(path, path.name), path.name
            seen += 1
    assert seen >= 10  # CT, MR (explicit and implicit), RT dose, colour and overlay images


def test_a_built_drop_holds_the_rows_pydicom_gives_for_walked_and_parsed_files(tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    kept = WALKED | {
        k: v for k, v in PARSED.items() if k not in ("control_character", "nul_inside")
    }
    paths = [write_with(source, name, kept[name], n) for n, name in enumerate(sorted(kept), 1)]
    shutil.copy(get_testdata_file("MR_small_implicit.dcm"), source / "implicit.dcm")
    paths.append(source / "implicit.dcm")
    result = build_drop(source, "north", tmp_path / "drop", workers=1)
    rows = {r["object_uri"]: r for r in pq.read_table(result.manifest_path).to_pylist()}
    expected = {f"objects/{p.name}": parsed_row(p, p.name) for p in paths}
    assert (result.rejected, rows) == (0, expected)


def test_a_build_in_a_process_running_threads_starts_its_workers_from_a_fork_server(
    tmp_path, sample_sources, monkeypatch
):
    sequential = build_drop(sample_sources["north"], "north", tmp_path / "one", workers=1)
    monkeypatch.setattr(manifest_scan, "PARALLEL_MIN_FILES", 0)
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)  # as Prefect's or a progress bar's thread
    other.start()
    try:
        assert manifest_scan._worker_context().get_start_method() == "forkserver"
        parallel = build_drop(sample_sources["north"], "north", tmp_path / "two", workers=2)
    finally:
        stop.set()
        other.join()
    alone = threading.active_count() == 1  # not under pytest-xdist, whose worker runs threads
    assert manifest_scan._worker_context().get_start_method() == ("fork" if alone else "forkserver")
    first, second = pq.read_table(sequential.manifest_path), pq.read_table(parallel.manifest_path)
    assert first.num_rows == 150 and first.equals(second)
