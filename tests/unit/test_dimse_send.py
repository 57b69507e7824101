"""Parsing AET@HOST:PORT and proposing the stored transfer syntaxes for C-STORE."""

from __future__ import annotations

import pytest
from pydicom.uid import (
    CTImageStorage,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
)

from spokesync.tasks.retrieve.dimse_send import (
    DicomNode,
    StoreRefused,
    parse_node,
    presentation_contexts,
)


def test_a_node_is_read_as_aet_host_and_port():
    assert parse_node("STORESCP@127.0.0.1:11112") == DicomNode("STORESCP", "127.0.0.1", 11112)
    assert parse_node("PACS@[::1]:104") == DicomNode("PACS", "::1", 104)
    assert str(parse_node("PACS@[::1]:104")) == "PACS@[::1]:104"


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("127.0.0.1:104", "expected AET@HOST:PORT"),
        ("PACS@host", "expected AET@HOST:PORT"),
        ("A_TITLE_LONGER_THAN_16@host:104", "AE title"),
        ("PACS@host:0", "port '0'"),
        ("PACS@host:http", "port 'http'"),
    ],
)
def test_a_malformed_node_is_refused_naming_the_wrong_part(text, names):
    with pytest.raises(ValueError, match=names):
        parse_node(text)


def test_each_stored_class_and_syntax_is_proposed_with_implicit_only_for_uncompressed():
    contexts = presentation_contexts(
        [
            (CTImageStorage, ExplicitVRLittleEndian),
            (CTImageStorage, None),  # no syntax recorded: the DICOM default
            ("1.2.840.10008.5.1.4.1.1.7", JPEG2000Lossless),
        ]
    )
    proposed = [(c.abstract_syntax, list(c.transfer_syntax)) for c in contexts]
    assert proposed == [
        (CTImageStorage, [ImplicitVRLittleEndian]),
        (CTImageStorage, [ExplicitVRLittleEndian, ImplicitVRLittleEndian]),
        ("1.2.840.10008.5.1.4.1.1.7", [JPEG2000Lossless]),
    ]


def test_more_sop_classes_than_one_association_can_carry_are_refused():
    stored = [(f"1.2.3.{n}", ExplicitVRLittleEndian) for n in range(129)]
    with pytest.raises(StoreRefused, match="--out"):
        presentation_contexts(stored)
