"""Every cookbook query of docs/reports.md runs against the demo-like hub's reports.duckdb and
returns exactly the rows the two nights must produce."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import duckdb
import pytest

from spokesync.catalog import open_catalog
from tests.support.report import report_scenario  # noqa: F401  (session fixture)

DOC = Path(__file__).parents[2] / "docs" / "reports.md"
ENTRY = re.compile(r"^### (\d+)\. (.+?)\n.*?```sql\n(.*?)```", re.S | re.M)


def cookbook() -> dict[int, tuple[str, str]]:
    """Question number → (question, SQL), parsed from the documentation itself."""
    return {int(n): (question, sql) for n, question, sql in ENTRY.findall(DOC.read_text())}


@pytest.fixture(scope="module")
def scenario(report_scenario):  # noqa: F811
    return report_scenario


@pytest.fixture(scope="module")
def answers(scenario) -> dict[int, list[dict]]:
    """Each cookbook query run as an analyst would: on reports.duckdb, read-only."""
    con = duckdb.connect(str(scenario.config.reports / "reports.duckdb"), read_only=True)
    try:
        out = {}
        for number, (_, sql) in cookbook().items():
            cursor = con.execute(sql)
            names = [d[0] for d in cursor.description]
            out[number] = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        return out
    finally:
        con.close()


def _night_two(scenario) -> list:
    return [r for truth in scenario.truth.values() for r in truth.records]


def _by_kind(scenario, *kinds: str) -> list:
    return [r for r in _night_two(scenario) if r.kind in kinds]


def test_the_cookbook_has_at_least_six_questions_and_each_is_checked_here():
    assert len(cookbook()) >= 6
    assert set(cookbook()) == set(EXPECTATIONS)


def test_studies_that_changed_patient_are_the_split_and_the_cross_patient_merge(scenario, answers):
    rows = answers[1]
    expected = sorted(
        (r.kind, tuple(r.source_study_uids), tuple(r.target_study_uids))
        for r in _by_kind(scenario, "SPLIT", "MERGE")
    )
    got = sorted(
        (r["kind"], tuple(r["source_study_uids"]), tuple(r["target_study_uids"])) for r in rows
    )
    assert got == expected
    assert all(r["source_patient_ids"] != r["target_patient_ids"] for r in rows)


def test_spokes_ranked_by_corrections_count_every_change_to_archived_data(scenario, answers):
    counts = Counter(
        spoke
        for spoke, truth in scenario.truth.items()
        for r in truth.records
        if r.kind != "NEW_OBJECTS"
    )
    assert [(r["spoke_id"], r["corrections"]) for r in answers[2]] == counts.most_common()
    assert answers[2][0]["spoke_id"] == "south"
    assert {r["spoke_id"]: r["attribute_fixes"] for r in answers[2]} == {"north": 1, "south": 1}
    assert {r["spoke_id"]: r["moves"] for r in answers[2]} == {"north": 2, "south": 1}


def test_uid_fix_wait_lists_the_open_fix_without_a_decision(scenario, answers):
    (row,) = answers[3]
    (fix,) = _by_kind(scenario, "UID_FIX")
    assert row["spoke_id"] == "north" and row["decision"] is None
    assert 0 <= row["hours_waiting"] < 1
    assert row["seq"] in _seqs(scenario, "UID_FIX")
    assert fix.status == "pending_review"


def test_review_queue_holds_the_uid_fix_and_the_ambiguous_pairing(scenario, answers):
    assert [(r["kind"], r["spoke_id"]) for r in answers[4]] == [
        ("UID_FIX", "north"),
        ("AMBIGUOUS", "south"),
    ]
    (ambiguous,) = _by_kind(scenario, "AMBIGUOUS")
    assert answers[4][1]["source_study_uids"] == list(ambiguous.source_study_uids)


def test_ownership_lists_souths_correction_of_a_north_study(scenario, answers):
    assert answers[5] == [
        {
            "seq": _seqs(scenario, "ATTRIBUTES", spoke="south")[0],
            "changed_by": "south",
            "owner_spoke": "north",
            "kind": "ATTRIBUTES",
            "status": "applied",
            "policy": "warn",
            "study_instance_uid": scenario.foreign_study,
        }
    ]


def test_stale_copies_list_souths_old_copy_of_the_study_north_corrected(scenario, answers):
    (row,) = answers[6]
    assert (row["spoke_id"], row["owner_spoke"], row["study_instance_uid"]) == (
        "south",
        "north",
        scenario.stale_study,
    )
    assert row["difference"] == "values: study_description"


def test_nearline_growth_adds_up_to_what_the_catalog_stored(scenario, answers):
    with open_catalog(scenario.config.catalog) as con:
        tars, objects, size = con.execute(
            "select count(distinct tar_path), count(*), sum(size) from stored_objects"
        ).fetchone()
    (row,) = answers[7]
    assert (row["volume_name"], row["tars"], row["objects"], row["bytes"]) == (
        "vol01",
        tars,
        objects,
        size,
    )
    assert row["total_bytes"] == size


def test_unfingerprinted_rows_are_counted_for_the_run_that_sent_them(scenario, answers):
    assert answers[8] == [
        {"run_id": scenario.runs[2], "spoke_id": "north", "rows": 2, "studies": 1}
    ]


def test_deletions_carry_their_iocm_reason_code(scenario, answers):
    expected = sorted(tuple(r.source_study_uids) for r in _by_kind(scenario, "DELETE"))
    assert sorted(tuple(r["source_study_uids"]) for r in answers[9]) == expected
    assert sorted(str(r["reason_code"]) for r in answers[9]) == ["113039", "None"]


def _seqs(scenario, kind: str, spoke: str | None = None) -> list[int]:
    with open_catalog(scenario.config.catalog) as con:
        rows = con.execute(
            "select seq, spoke_id from cc_records where kind = ? order by seq", [kind]
        ).fetchall()
    return [seq for seq, owner in rows if spoke is None or owner == spoke]


EXPECTATIONS = {
    1: test_studies_that_changed_patient_are_the_split_and_the_cross_patient_merge,
    2: test_spokes_ranked_by_corrections_count_every_change_to_archived_data,
    3: test_uid_fix_wait_lists_the_open_fix_without_a_decision,
    4: test_review_queue_holds_the_uid_fix_and_the_ambiguous_pairing,
    5: test_ownership_lists_souths_correction_of_a_north_study,
    6: test_stale_copies_list_souths_old_copy_of_the_study_north_corrected,
    7: test_nearline_growth_adds_up_to_what_the_catalog_stored,
    8: test_unfingerprinted_rows_are_counted_for_the_run_that_sent_them,
    9: test_deletions_carry_their_iocm_reason_code,
}
