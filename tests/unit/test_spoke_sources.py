"""Small pieces of the PACS sources: multipart bodies, credentials, configuration, contexts."""

from __future__ import annotations

import os
from datetime import date

import pytest

from spokesync.catalog.errors import ConfigInvalid
from spokesync.tasks.config import init_config, load_config, set_spoke
from spokesync.tasks.spokes.credentials import parse_secret, spoke_credentials
from spokesync.tasks.spokes.dimse_store import MAX_CONTEXTS, STORED_SYNTAXES, storage_contexts
from spokesync.tasks.spokes.multipart import MultipartInvalid, split_related
from spokesync.tasks.spokes.source import check_since_attribute, since_value
from tests.support.builders import RELATED, related_body


def test_each_part_comes_back_byte_for_byte_even_with_crlf_and_dashes_inside():
    tricky = b"DICM\r\n--b0un\r\n\r\n" + os.urandom(4096) + b"\r\n--"
    assert split_related(related_body(tricky, b"second"), RELATED) == [tricky, b"second"]


@pytest.mark.parametrize(
    ("content", "content_type", "problem"),
    [
        (related_body(b"x")[:-12], RELATED, "closing boundary"),
        (related_body(b"x"), "application/dicom", "expected multipart/related"),
        (related_body(b"x"), "multipart/related", "without a boundary"),
        (b"--b0und\r\nno blank line\r\n--b0und--", RELATED, "no blank line"),
    ],
)
def test_a_body_that_is_not_what_its_content_type_says_is_refused(content, content_type, problem):
    with pytest.raises(MultipartInvalid, match=problem):
        split_related(content, content_type)


def test_credentials_come_from_the_named_environment_variables():
    environ = {"PACS_USER": "hub", "PACS_PASSWORD": "pw"}
    got = spoke_credentials("east", username_env="PACS_USER", password_env="PACS_PASSWORD",
                            environ=environ)  # fmt: skip
    assert got == ("hub", "pw")
    assert spoke_credentials("east", environ=environ) is None


def test_an_unset_credential_variable_is_named_without_any_value():
    with pytest.raises(ConfigInvalid, match="PACS_PASSWORD named in the configuration are not"):
        spoke_credentials("east", username_env="PACS_USER", password_env="PACS_PASSWORD",
                          environ={"PACS_USER": "hub"})  # fmt: skip
    with pytest.raises(ConfigInvalid, match="set both username_env and password_env"):
        spoke_credentials("east", username_env="PACS_USER", environ={})


@pytest.mark.parametrize("value", [{"username": "hub", "password": "pw"}, "hub:pw"])
def test_a_secret_block_holds_a_mapping_or_user_colon_password(value):
    assert parse_secret("east", "east-pacs", value) == ("hub", "pw")


@pytest.mark.parametrize("value", [{"username": "hub"}, "no-colon", ":pw", 42])
def test_a_secret_block_of_another_shape_is_refused_without_echoing_it(value):
    with pytest.raises(ConfigInvalid, match="must hold") as caught:
        parse_secret("east", "east-pacs", value)
    assert "pw" not in str(caught.value).replace("password", "")


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"source": "dicomweb", "url": "ftp://pacs"}, "url"),
        ({"source": "dicomweb", "url": "http://pacs", "password": "x"}, "must not be written"),
        ({"source": "dicomweb", "url": "http://pacs", "page_size": 0}, "page_size"),
        ({"source": "dimse", "host": "pacs", "port": 104, "called_aet": "A" * 17}, "called_aet"),
        ({"source": "dimse", "host": "pacs", "port": 0, "called_aet": "PACS"}, "port"),
        ({"source": "dimse", "host": "pacs", "called_aet": "PACS"}, "port"),
        ({"source": "ftp", "host": "pacs"}, "source"),
        ({"source": "dicomweb", "url": "http://pacs", "drop": "/x"}, "drop"),
    ],
)
def test_a_wrong_spoke_configuration_is_refused_naming_the_field(tmp_path, body, problem):
    file = init_config(tmp_path)
    with pytest.raises(ConfigInvalid, match=f"spokes.east.*{problem}"):
        set_spoke(file, "east", body)
    assert "east" not in load_config(file).spokes


def test_a_pacs_spoke_round_trips_through_the_configuration_file(tmp_path):
    file = init_config(tmp_path)
    set_spoke(file, "east", {"source": "dimse", "host": "pacs", "port": 104, "called_aet": "PACS",
                             "retrieve": "move", "storage_port": 11113})  # fmt: skip
    east = load_config(file).spokes["east"]
    assert (east.source, east.port, east.retrieve, east.storage_port) == (
        "dimse",
        104,
        "move",
        11113,
    )
    assert east.drop is None and east.calling_aet == "SPOKESYNC"


def test_since_attribute_must_be_a_dicom_date():
    assert since_value("StudyDate", date(2026, 11, 30)) == ("StudyDate", "20261130-")
    for wrong in ("StudyTime", "NoSuchKeyword"):
        with pytest.raises(ConfigInvalid, match="not a DICOM date attribute"):
            check_since_attribute(wrong)


def test_storage_contexts_fit_one_association_each():
    classes = [f"1.2.840.10008.5.1.4.1.1.{n}" for n in range(25)]
    groups = storage_contexts([*classes, None, classes[0]])
    assert sorted(c for g in groups for c in g.sop_classes) == sorted(classes)
    assert all(len(g.sop_classes) * len(STORED_SYNTAXES) + 1 <= MAX_CONTEXTS for g in groups)


QIDO_ITEM = {
    "00080016": {"vr": "UI", "Value": ["1.2.840.10008.5.1.4.1.1.2"]},
    "00080018": {"vr": "UI", "Value": ["1.2.3.4"]},
    "0020000D": {"vr": "UI", "Value": ["1.2.3"]},
    "0020000E": {"vr": "UI", "Value": ["1.2.3.1"]},
    "00100020": {"vr": "LO", "Value": ["P-1 "]},
    "00100010": {"vr": "PN", "Value": [{"Alphabetic": "FAKE^ALICE", "Ideographic": "x"}]},
    "00081030": {"vr": "LO", "Value": ["CT", "CHEST"]},
    "00200011": {"vr": "IS", "Value": [3]},
    "00200013": {"vr": "IS", "Value": ["14"]},
    "00080050": {"vr": "SH"},  # returned, empty
}


def test_qido_json_maps_to_the_rows_pydicom_datasets_give():
    from pydicom.dataset import Dataset

    from spokesync.tasks.spokes.dicom_json import listing_of_json
    from spokesync.tasks.spokes.source import listing_of

    direct = listing_of_json([QIDO_ITEM])
    via_pydicom = listing_of([Dataset.from_json(QIDO_ITEM)])
    assert direct.rows == via_pydicom.rows and direct.supplied == via_pydicom.supplied
    row = direct.rows[0]
    assert (row["patient_name"], row["study_description"], row["series_number"]) == (
        "FAKE^ALICE=x", "CT\\CHEST", 3)  # fmt: skip
    assert row["accession_number"] is None and "accession_number" in direct.supplied
    assert "study_status" not in direct.supplied
