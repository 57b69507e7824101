"""C-FIND keys and answers of `spokesync serve` (PS3.4 C.2.2.2), and its [serve] configuration.

Patterns are checked with DuckDB's own regexp_full_match (RE2), the engine that matches them.
"""

from __future__ import annotations

import duckdb
import pytest
from pydicom.dataset import Dataset

from spokesync.catalog.errors import ConfigInvalid
from spokesync.tasks.config import init_config, load_config, read_document, write_document
from spokesync.tasks.serve.answers import answer
from spokesync.tasks.serve.handlers import combined_in, extended_answer
from spokesync.tasks.serve.keys import (
    KEYS,
    LEVELS,
    MalformedKey,
    check_one_patient,
    parse_identifier,
    wildcard_pattern,
)
from spokesync.tasks.serve.lookup import narrowed, warm_up


def identifier(level: str, **keys) -> Dataset:
    ds = Dataset()
    ds.QueryRetrieveLevel = level
    for keyword, value in keys.items():
        setattr(ds, keyword, value)
    return ds


def matches(pattern: str, value: str) -> bool:
    return duckdb.sql(
        "select regexp_full_match($v, $p)", params={"v": value, "p": pattern}
    ).fetchone()[0]


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("DOE*", "DOE^JOHN", True),
        ("DOE*", "MCDOE^JOHN", False),
        ("D?E^*", "DOE^JANE", True),
        ("A.B", "AXB", False),  # '.' is a literal, not a regex
        ("(x)+[y]", "(x)+[y]", True),
        ("*^Ann", "Smith^Ann", True),
        ("50%_off", "50%_off", True),
        ("Müller*", "Müller^Jörg", True),
    ],
)
def test_a_wildcard_key_matches_as_dicom_says_and_everything_else_is_literal(key, value, expected):
    assert matches(wildcard_pattern(key), value) is expected


def test_person_names_match_case_insensitively_and_other_text_exactly():
    query = parse_identifier(identifier("STUDY", PatientName="doe*", AccessionNumber="acc1"))
    assert matches(query.params["patient_name"], "DOE^JOHN")
    assert not matches(query.params["accession_number"], "ACC1")


def test_an_empty_key_or_a_lone_star_is_universal_matching():
    query = parse_identifier(identifier("STUDY", PatientName="*", StudyDate="", StudyID=""))
    assert query.params["patient_name"] is None and query.params["study_date_from"] is None
    assert query.asked == ["StudyDate", "PatientName", "StudyID"]  # in tag order


@pytest.mark.parametrize(
    ("value", "bounds"),
    [
        ("20250101", ("20250101", "20250101")),
        ("20250101-20250131", ("20250101", "20250131")),
        ("20250101-", ("20250101", None)),
        ("-20250131", (None, "20250131")),
    ],
)
def test_a_date_key_is_one_day_or_a_range_open_at_either_end(value, bounds):
    params = parse_identifier(identifier("STUDY", StudyDate=value)).params
    assert (params["study_date_from"], params["study_date_to"]) == bounds


def test_a_time_range_reaches_the_end_of_its_last_unit():
    params = parse_identifier(identifier("STUDY", StudyTime="0800-12")).params
    assert (params["study_time_from"], params["study_time_to"]) == ("0800", "125959.999999")
    assert "120000" <= params["study_time_to"] < "130000"


def test_uid_keys_become_lists_of_uids():
    query = parse_identifier(
        identifier("SERIES", StudyInstanceUID="1.2", SeriesInstanceUID=["1.3", "1.4"])
    )
    assert query.params["study_instance_uid"] == ["1.2"]
    assert query.params["series_instance_uid"] == ["1.3", "1.4"]


@pytest.mark.parametrize(
    ("keys", "problem"),
    [
        ({"StudyDate": "2025-01"}, "StudyDate: the key is not a YYYYMMDD"),
        ({"StudyDate": "-"}, "a range needs at least one end"),
        ({"StudyInstanceUID": "1.2.*"}, "is not a UID"),
        ({"StudyInstanceUID": "1.02.3"}, "is not a UID"),
        ({"PatientName": "A\x01B"}, "control characters"),
    ],
)
def test_a_malformed_key_is_refused_naming_the_key(keys, problem):
    with pytest.raises(MalformedKey, match=problem):
        parse_identifier(identifier("STUDY", **keys))


def test_an_integer_key_with_a_wildcard_is_refused():
    ds = identifier("SERIES")
    ds.add_new(0x00200011, "IS", None)
    ds[0x00200011]._value = ["3*"]  # as a client sends it; pydicom would not build it
    with pytest.raises(MalformedKey, match="SeriesNumber"):
        parse_identifier(ds)


def test_the_level_must_be_one_the_information_model_has():
    with pytest.raises(MalformedKey, match="QueryRetrieveLevel 'PATIENT'"):
        parse_identifier(identifier("PATIENT"), LEVELS[1:])  # Study Root has no patient level
    with pytest.raises(MalformedKey, match="missing"):
        parse_identifier(Dataset())


def test_a_lower_levels_key_is_returned_empty_not_matched():
    query = parse_identifier(identifier("STUDY", Modality="CT", SOPInstanceUID="1.2"))
    assert query.params["modality"] is None and query.params["sop_instance_uid"] is None
    row = {"study_instance_uid": "1.2.3", "modalities": "CT\\MR", "n_instances": 4}
    ds = answer(query, row, "HUB", LEVELS)
    assert "Modality" in ds and not ds.Modality and ds.StudyInstanceUID == "1.2.3"


def test_an_answer_carries_the_asked_keys_counts_and_the_unique_keys_above_it():
    ask = identifier(
        "SERIES", SeriesInstanceUID="", NumberOfSeriesRelatedInstances="", PatientAge=""
    )
    row = {"study_instance_uid": "1.2", "series_instance_uid": "1.2.3", "n_instances": 7,
           "patient_id": "N-1"}  # fmt: skip
    ds = answer(parse_identifier(ask, LEVELS), row, "HUB", LEVELS)
    assert (ds.SeriesInstanceUID, ds.StudyInstanceUID, ds.PatientID) == ("1.2.3", "1.2", "N-1")
    assert ds.NumberOfSeriesRelatedInstances == 7 and "PatientAge" in ds and not ds.PatientAge
    assert (ds.RetrieveAETitle, ds.QueryRetrieveLevel, ds.SpecificCharacterSet) == (
        "HUB",
        "SERIES",
        "ISO_IR 192",
    )
    study_root = answer(parse_identifier(ask, LEVELS[1:]), row, "HUB", LEVELS[1:])
    assert "PatientID" not in study_root


def test_modalities_in_study_go_back_as_several_values():
    query = parse_identifier(identifier("STUDY", ModalitiesInStudy=["CT", "MR"]))
    assert matches(query.params["modalities"], "MR") and not matches(
        query.params["modalities"], "US"
    )
    ds = answer(query, {"modalities": "CT\\SR"}, "HUB", LEVELS)
    assert list(ds.ModalitiesInStudy) == ["CT", "SR"]


def serve_config(tmp_path, serve: dict):
    file = init_config(tmp_path)
    document = read_document(file)
    document["serve"] = serve
    write_document(file, document)
    return load_config(file)


def test_the_serve_section_has_defaults_and_named_destinations(tmp_path):
    config = serve_config(tmp_path, {"destinations": {"VIEWER": {"host": "10.0.0.5", "port": 104}}})
    assert (config.serve.ae_title, config.serve.port, config.serve.bind) == (
        "SPOKESYNC",
        11112,
        "127.0.0.1",
    )
    assert config.serve.destinations["VIEWER"].port == 104


@pytest.mark.parametrize(
    ("serve", "problem"),
    [
        ({"prot": 104}, "unknown key 'serve.prot'; did you mean 'port'"),
        ({"destinations": {"VIEWER": {"hots": "x", "port": 1}}}, "did you mean 'host'"),
        (
            {"destinations": {"VIEWER": {"host": "x"}}},
            "missing key 'serve.destinations.VIEWER.port'",
        ),
        ({"ae_title": "A" * 17}, "serve.ae_title"),
        ({"destinations": {"BAD\\AE": {"host": "x", "port": 1}}}, "serve.destinations.BAD"),
        ({"calling_aets": [" PAD"]}, r"serve.calling_aets\[0\]"),
        ({"port": "104"}, "wrong value for 'serve.port'"),
    ],
)
def test_a_wrong_serve_section_is_refused_naming_the_key(tmp_path, serve, problem):
    with pytest.raises(ConfigInvalid, match=problem):
        serve_config(tmp_path, serve)


def test_narrowing_keeps_the_requested_series_by_its_current_or_old_uid():
    from dataclasses import dataclass

    from spokesync.catalog.retrieve import StudyResolution
    from spokesync.tasks.retrieve.edit import UidMap

    @dataclass
    class Inst:
        series_instance_uid: str
        sop_instance_uid: str

    @dataclass
    class Plan:
        resolution: StudyResolution
        instances: list
        uid_map: UidMap

    plan = Plan(StudyResolution("9", "9", False), [Inst("1.1", "1.1.1"), Inst("1.2", "1.2.1")],
                UidMap([("0.1", "1.1", "9")]))  # fmt: skip
    assert [i.sop_instance_uid for i in narrowed(plan, ["0.1"], None).instances] == ["1.1.1"]
    assert [i.sop_instance_uid for i in narrowed(plan, None, ["1.2.1"]).instances] == ["1.2.1"]


def test_refusals_map_to_the_statuses_ps3_4_names():
    from spokesync.catalog.errors import CatalogLocked
    from spokesync.tasks.serve.handlers import refusal_status
    from spokesync.tasks.serve.lookup import TooManyMatches

    assert refusal_status(TooManyMatches("more than 10000")) == 0xA700  # out of resources
    assert refusal_status(MalformedKey("StudyDate")) == 0xA900  # identifier does not match
    assert refusal_status(CatalogLocked("catalog.duckdb", 42)) == 0xC001  # unable to process


def test_study_date_and_time_together_are_one_range_of_date_times_when_negotiated():
    params = parse_identifier(
        identifier("STUDY", StudyDate="20250101-20250102", StudyTime="2200-0600"), combined=True
    ).params
    low, high = params["study_datetime_from"], params["study_datetime_to"]
    assert (low, high) == ("202501012200", "20250102060059.999999")
    assert all(
        params[f"study_{c}_{end}"] is None for c in ("date", "time") for end in ("from", "to")
    )
    stored = {
        "new year's eve night": "20250101" + "233000",
        "the next night": "20250102" + "013000",
        "the first morning": "20250101" + "013000",
        "the next noon": "20250102" + "120000",
    }
    inside = {when for when, text in stored.items() if low <= text <= high}
    assert inside == {"new year's eve night", "the next night"}


@pytest.mark.parametrize(
    ("date", "time", "bounds"),
    [
        ("20250101", "1000", ("202501011000", "20250101100059.999999")),
        ("20250101-", "1000-", ("202501011000", None)),
        ("-20250102", "-0600", (None, "20250102060059.999999")),
        ("20250101-20250102", "-0600", ("20250101", "20250102060059.999999")),
    ],
)
def test_a_combined_date_time_range_is_open_where_the_date_is(date, time, bounds):
    ask = identifier("STUDY", StudyDate=date, StudyTime=time)
    params = parse_identifier(ask, combined=True).params
    assert (params["study_datetime_from"], params["study_datetime_to"]) == bounds


def test_without_negotiation_study_date_and_time_are_two_independent_ranges():
    ask = identifier("STUDY", StudyDate="20250101-20250102", StudyTime="2200-0600")
    params = parse_identifier(ask).params
    assert (params["study_date_from"], params["study_date_to"]) == ("20250101", "20250102")
    assert (params["study_time_from"], params["study_time_to"]) == ("2200", "060059.999999")
    assert params["study_datetime_from"] is None and params["study_datetime_to"] is None
    assert parse_identifier(ask, combined=True).params["study_date_from"] is None


@pytest.mark.parametrize(
    ("asked", "answered"),
    [
        (b"\x01\x01\x01\x01", b"\x00\x01\x00\x00"),  # only combined date-time is agreed
        (b"\x00\x01", b"\x00\x01"),  # no more bytes than asked
        (b"\x01", b"\x00"),  # relational queries alone: refused
        (b"\x00\x00\x01", b"\x00\x00\x00"),  # fuzzy names: refused
        (b"\x00\x01\x00\x00\x01", b"\x00\x01\x00\x00"),  # bytes past the 4th: not answered
    ],
)
def test_find_extended_negotiation_agrees_to_combined_date_time_only(asked, answered):
    study_find, study_move = "1.2.840.10008.5.1.4.1.2.2.1", "1.2.840.10008.5.1.4.1.2.2.2"
    answers = extended_answer({study_find: asked, study_move: b"\x01"})
    assert answers == {study_find: answered}  # a retrieve class's item gets no answer
    assert combined_in(answers[study_find]) == (answered[1:2] == b"\x01")


def test_a_date_or_a_time_alone_matches_on_its_own():
    params = parse_identifier(identifier("STUDY", StudyDate="20250101-", StudyTime="")).params
    assert params["study_date_from"] == "20250101" and params["study_datetime_from"] is None
    params = parse_identifier(identifier("STUDY", StudyTime="0800-0900")).params
    assert params["study_time_from"] == "0800" and params["study_datetime_to"] is None


def test_a_key_sent_empty_matches_everything_and_its_answer_carries_the_value():
    ask = identifier("STUDY", StudyInstanceUID="", PatientName="", StudyDate="", AccessionNumber="")
    query = parse_identifier(ask)
    assert all(
        query.params[p] is None
        for p in ("study_instance_uid", "patient_name", "study_date_from", "accession_number")
    )
    row = {"study_instance_uid": "1.2", "patient_name": "DOE^JANE", "study_date": "20250101",
           "accession_number": "A-7"}  # fmt: skip
    ds = answer(query, row, "HUB", LEVELS)
    assert (ds.StudyInstanceUID, ds.PatientName, ds.StudyDate, ds.AccessionNumber) == (
        "1.2",
        "DOE^JANE",
        "20250101",
        "A-7",
    )


@pytest.mark.parametrize(
    ("keyword", "value", "stored", "expected"),
    [
        ("PatientName", "doe^jane", "DOE^JANE", True),  # PN: case-insensitive is allowed
        ("ReferringPhysicianName", "smith*", "Smith^Ann", True),
        ("AccessionNumber", "a-7", "A-7", False),  # every other VR: exact and case-sensitive
        ("StudyDescription", "ct*", "CT HEAD", False),
        ("StudyID", "  S1 ", "S1", True),  # leading and trailing spaces are not significant
    ],
)
def test_only_person_names_ignore_case(keyword, value, stored, expected):
    query = parse_identifier(identifier("STUDY", **{keyword: value}))
    assert matches(query.params[KEYS[keyword].column], stored) is expected


@pytest.mark.parametrize(
    ("accept", "asked"),
    [
        ("", None),
        ("*/*", None),
        ('multipart/related; type="application/dicom"', None),  # no parameter: as stored
        ('multipart/related; type="application/dicom"; transfer-syntax=*', None),
        (
            'multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.1',
            {"1.2.840.10008.1.2.1"},
        ),  # fmt: skip
        (
            'multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.4.50, '
            'multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2; q=0.5',
            {"1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2"},
        ),  # fmt: skip
        (
            'multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.4.50; '
            "q=0, multipart/related; type=application/dicom",
            None,
        ),  # fmt: skip
        ('multipart/related; type="application/octet-stream"; transfer-syntax=1.2', None),
    ],
)
def test_wado_reads_the_transfer_syntaxes_an_accept_header_asks_for(accept, asked):
    from spokesync.tasks.serve.web_wado import accepted_syntaxes

    assert accepted_syntaxes(accept) == asked


def test_only_implicit_vr_goes_out_in_a_syntax_other_than_its_stored_one():
    from spokesync.tasks.serve.web_wado import sent_as

    implicit, explicit, jpeg = "1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.4.50"
    assert sent_as(implicit, {explicit}) == explicit
    assert sent_as(explicit, {implicit}) is None and sent_as(jpeg, {explicit}) is None
    assert sent_as(jpeg, None) == jpeg and sent_as(jpeg, {jpeg, explicit}) == jpeg


@pytest.mark.parametrize("patient_id", ["P*", "P?", "*", ["P1", "P2"]], ids=str)
def test_a_patient_level_retrieve_by_a_wildcard_or_a_list_of_patients_is_refused(patient_id):
    with pytest.raises(MalformedKey, match="names one patient") as refused:
        check_one_patient(identifier("PATIENT", PatientID=patient_id))
    assert "P1" not in str(refused.value) and "P*" not in str(refused.value)  # never the value


def test_a_patient_level_retrieve_of_one_patient_passes():
    check_one_patient(identifier("PATIENT", PatientID="P1"))


def test_warm_up_with_no_catalog_yet_logs_and_leaves_it_to_the_first_request(tmp_path, caplog):
    config = serve_config(tmp_path, {})
    with caplog.at_level("INFO", logger="spokesync.serve"):
        warm_up(config)  # no catalog file yet: nothing raised, the server keeps starting
    assert "serve: warm-up skipped (there is no catalog at" in caplog.text
    assert not config.catalog.exists()  # a reader never creates the catalog
