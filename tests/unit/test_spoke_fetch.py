"""How a pull asks a PACS for objects: whole series (WADO-RS) or whole studies (C-GET) where
every instance is wanted, answers read in chunks as they arrive, parts kept only if wanted."""

from __future__ import annotations

import io
import os

import pytest
from pydicom import dcmread
from pydicom.data import get_testdata_file

from spokesync.catalog.errors import SpokeUnavailable
from spokesync.tasks.spokes.dimse import retrieve_queries
from spokesync.tasks.spokes.multipart import split_related, stream_related
from spokesync.tasks.spokes.source import ObjectRef
from spokesync.tasks.spokes.wado import PartWriter, WadoRequest, meta_sop_uid, wado_requests
from tests.support.builders import RELATED, related_body


def refs(study: str, series: str, count: int) -> list[ObjectRef]:
    return [ObjectRef(study, series, f"{series}.{n}") for n in range(1, count + 1)]


@pytest.mark.parametrize("chunk", [1, 7, 4096])
def test_parts_come_back_the_same_whatever_the_chunks_the_answer_arrives_in(chunk):
    tricky = b"DICM\r\n--b0un\r\n\r\n" + os.urandom(5000) + b"\r\n--b0un"
    data = related_body(tricky, b"", b"third")
    files: list[io.BytesIO] = []

    def new() -> io.BytesIO:
        files.append(io.BytesIO())
        return files[-1]

    chunks = (data[i : i + chunk] for i in range(0, len(data), chunk))
    assert stream_related(chunks, RELATED, new, lambda _f: None) == 3
    assert [f.getvalue() for f in files] == split_related(data, RELATED) == [tricky, b"", b"third"]


def test_a_series_whose_listed_instances_are_all_wanted_is_one_wado_request():
    whole, part = refs("1.1", "1.1.1", 3), refs("1.1", "1.1.2", 4)[:2]
    asked = wado_requests("http://pacs/dicom-web", whole + part, {"1.1.1": 3, "1.1.2": 4})
    assert [(r.url, sorted(r.wanted), r.single) for r in asked] == [
        ("http://pacs/dicom-web/studies/1.1/series/1.1.1", ["1.1.1.1", "1.1.1.2", "1.1.1.3"],
         False),
        ("http://pacs/dicom-web/studies/1.1/series/1.1.2/instances/1.1.2.1", ["1.1.2.1"], True),
        ("http://pacs/dicom-web/studies/1.1/series/1.1.2/instances/1.1.2.2", ["1.1.2.2"], True),
    ]  # fmt: skip


def test_a_study_whose_listed_instances_are_all_wanted_is_one_c_get():
    whole = refs("1.1", "1.1.1", 2) + refs("1.1", "1.1.2", 1)
    part = refs("1.2", "1.2.1", 2) + refs("1.2", "1.2.2", 3)
    queries = list(retrieve_queries(whole + part, {"1.1": 3, "1.2": 9}))
    assert [(q.QueryRetrieveLevel, q.StudyInstanceUID) for q in queries] == [
        ("STUDY", "1.1"), ("IMAGE", "1.2"), ("IMAGE", "1.2")]  # fmt: skip
    assert "SOPInstanceUID" not in queries[0]
    assert [list(q.SOPInstanceUID) for q in queries[1:]] == [
        ["1.2.1.1", "1.2.1.2"], ["1.2.2.1", "1.2.2.2", "1.2.2.3"]]  # fmt: skip


def part10(name: str) -> tuple[str, bytes]:
    path = get_testdata_file(name)
    return str(dcmread(path, stop_before_pixels=True).SOPInstanceUID), open(path, "rb").read()


def test_a_series_answer_keeps_the_objects_asked_for_under_their_uids_and_drops_the_rest(
    tmp_path,
):
    (wanted, first), (_later, second) = part10("CT_small.dcm"), part10("MR_small.dcm")
    request = WadoRequest("http://pacs/s", {wanted: ObjectRef("1", "2", wanted)}, single=False)

    arrived = PartWriter(request, tmp_path, "http://pacs").stream(
        [related_body(second, first)], RELATED
    )

    assert arrived == [(wanted, tmp_path / f"{wanted}.dcm")]
    assert (tmp_path / f"{wanted}.dcm").read_bytes() == first
    assert [p.name for p in tmp_path.iterdir()] == [f"{wanted}.dcm"]


def test_an_answer_cut_short_leaves_no_part_file_and_names_the_request(tmp_path):
    wanted, data = part10("CT_small.dcm")
    request = WadoRequest("http://pacs/s", {wanted: ObjectRef("1", "2", wanted)}, single=False)
    cut = related_body(data)[: len(data) // 2]

    with pytest.raises(SpokeUnavailable, match="http://pacs/s: .*closing boundary"):
        PartWriter(request, tmp_path, "http://pacs").stream([cut], RELATED)

    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["CT_small.dcm", "MR_small.dcm", "rtplan.dcm", "JPEG2000.dcm"])
def test_a_parts_sop_uid_is_read_from_its_file_meta_as_pydicom_reads_it(name):
    path = get_testdata_file(name)
    with open(path, "rb") as fp:
        head = fp.read(4096)
    assert meta_sop_uid(head) == dcmread(path).file_meta.MediaStorageSOPInstanceUID
    assert meta_sop_uid(head[:140]) is None and meta_sop_uid(b"\0" * 200) is None
