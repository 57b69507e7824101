"""The decisions of DESIGN §4 over study-level edges and facts (no catalog, no files)."""

from __future__ import annotations

from spokesync.tasks.reconcile.detect import (
    Edge,
    RecordBook,
    StudyFact,
    components,
    plan_ambiguous,
    plan_moves,
    shape_of,
)


def fact(study, *, in_catalog=True, reported=True, kept=0, patient="P1", manifest_patient=None):
    return StudyFact(
        study,
        in_catalog,
        reported,
        kept,
        patient if in_catalog else None,
        manifest_patient or patient,
    )


def test_part_of_a_study_moved_to_another_patients_study_is_a_split():
    facts = {"X": fact("X", kept=5), "Y": fact("Y", in_catalog=False, manifest_patient="P2")}
    assert shape_of([Edge("X", "Y", 3, 0)], facts) == ("SPLIT", ("X",), ("Y",))


def test_same_patient_spread_over_studies_is_a_segment_that_lists_the_kept_study():
    facts = {
        "X": fact("X", kept=2),
        "Y1": fact("Y1", in_catalog=False),
        "Y2": fact("Y2", in_catalog=False),
    }
    kind, sources, targets = shape_of([Edge("X", "Y1", 2, 0), Edge("X", "Y2", 1, 1)], facts)
    assert (kind, sources, targets) == ("SEGMENT", ("X",), ("X", "Y1", "Y2"))


def test_copies_make_a_segment_even_when_every_original_stayed():
    facts = {"X": fact("X", kept=4), "Y": fact("Y", in_catalog=False)}
    assert shape_of([Edge("X", "Y", 0, 2)], facts)[0] == "SEGMENT"


def test_several_studies_emptied_into_one_is_a_merge():
    facts = {
        "A": fact("A", reported=False),
        "B": fact("B", reported=False, patient="P2"),
        "D": fact("D", in_catalog=False),
    }
    shape = shape_of([Edge("A", "D", 3, 0), Edge("B", "D", 2, 0)], facts)
    assert shape == ("MERGE", ("A", "B"), ("D",))


def test_one_study_emptied_into_an_existing_study_is_a_merge():
    facts = {"A": fact("A", reported=False), "D": fact("D", kept=3)}
    assert shape_of([Edge("A", "D", 3, 0)], facts) == ("MERGE", ("A",), ("D",))


def test_a_whole_study_under_a_new_uid_is_reidentified():
    facts = {"A": fact("A", reported=False), "B": fact("B", in_catalog=False)}
    assert shape_of([Edge("A", "B", 4, 0)], facts) == ("REIDENTIFY", ("A",), ("B",))


def test_reidentified_study_waits_for_review_whatever_values_changed_with_it():
    facts = {"A": fact("A", reported=False), "B": fact("B", in_catalog=False)}
    changes = {("A", "B"): [{"attribute": "patient_name", "old": "X", "new": "Y"}]}
    book = RecordBook()
    assert plan_moves(book, [Edge("A", "B", 4, 0)], facts, changes) == [("A", "B")]
    (record,) = book.records
    assert (record.kind, record.status) == ("UID_FIX", "pending_review")
    assert record.attributes == {"patient_name": ["X", "Y"]}


def test_many_sources_to_many_targets_is_never_guessed():
    facts = {s: fact(s, kept=1) for s in "AB"} | {t: fact(t, in_catalog=False) for t in "CD"}
    edges = [Edge("A", "C", 1, 0), Edge("A", "D", 1, 0), Edge("B", "D", 1, 0)]
    assert shape_of(edges, facts)[0] == "AMBIGUOUS"


def test_components_keep_unrelated_moves_apart():
    edges = [Edge("A", "B", 1, 0), Edge("C", "D", 1, 0), Edge("E", "D", 1, 0)]
    groups = components(edges)
    assert [sorted({e.source for e in g}) for g in groups] == [["A"], ["C", "E"]]


def test_uid_fix_and_ambiguous_records_wait_for_review_and_carry_their_evidence():
    facts = {"A": fact("A", reported=False), "B": fact("B", in_catalog=False)}
    book = RecordBook()
    changes = {("A", "B"): [{"attribute": "accession_number", "old": "1", "new": "2"}]}
    assert plan_moves(book, [Edge("A", "B", 4, 0)], facts, changes) == [("A", "B")]
    recs = plan_ambiguous(
        book,
        [{"fingerprint": "px1:f", "sources": ["A"], "targets": ["B"], "rows_": 2, "instances_": 2}],
    )
    uid_fix, ambiguous = book.records
    assert (uid_fix.kind, uid_fix.status) == ("UID_FIX", "pending_review")
    assert uid_fix.attributes == {"accession_number": ["1", "2"]}
    assert uid_fix.evidence == {"moves": [["A", "B", 4, 0]]}
    assert (ambiguous.kind, ambiguous.status, recs) == ("AMBIGUOUS", "pending_review", {"px1:f": 2})
