"""The demographics search behind the privacy tests finds every written form, and only those."""

from __future__ import annotations

from tests.support.privacy import demographics, forms, leaks


def test_a_patient_is_searched_as_every_form_of_name_date_and_id():
    found = set(forms("FAKE^ALICE", "19500101", "N-1001"))
    assert found == {"FAKE^ALICE", "FAKE ALICE", "ALICE FAKE", "FAKE, ALICE", "19500101",
                     "1950-01-01", "N-1001"}  # fmt: skip


def test_every_sample_patient_of_every_spoke_is_searched():
    private = demographics()
    assert {"FAKE^DORA", "igor fake".upper(), "E-3002", "1959-04-04"} <= private


def test_a_value_standing_alone_is_a_leak_in_any_case_and_inside_a_longer_number_is_not():
    texts = ["uid 2.25.1195001012", "id N-10015", "born 19500101", "name fake alice"]
    private = {"19500101", "N-1001", "FAKE ALICE"}
    assert leaks(texts, private) == [("19500101", "born 19500101"),
                                     ("FAKE ALICE", "name fake alice")]  # fmt: skip
