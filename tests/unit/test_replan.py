"""Which staged TARs a re-planned commit keeps: those holding exactly a series' new instances."""

from __future__ import annotations

import pyarrow as pa

from spokesync.tasks.reconcile.commit import reusable_tars


def stored(members: dict[str, list[str]]) -> pa.Table:
    pairs = [(tar, sop) for tar, sops in members.items() for sop in sops]
    return pa.table({"tar_path": [t for t, _ in pairs], "sop_instance_uid": [s for _, s in pairs]})


def new_rows(series: dict[str, list[str]]) -> pa.Table:
    pairs = [(uid, sop) for uid, sops in series.items() for sop in sops]
    return pa.table(
        {"series_instance_uid": [u for u, _ in pairs], "sop_instance_uid": [s for _, s in pairs]}
    )


def test_tar_of_a_series_still_new_with_the_same_instances_is_kept():
    tars = stored({"a.tar": ["1", "2"], "b.tar": ["3"]})
    assert reusable_tars(tars, new_rows({"s1": ["1", "2"], "s2": ["3"]})) == {"a.tar", "b.tar"}


def test_tar_of_a_series_another_run_archived_meanwhile_is_dropped():
    tars = stored({"a.tar": ["1", "2"], "b.tar": ["3"]})
    assert reusable_tars(tars, new_rows({"s2": ["3"]})) == {"b.tar"}


def test_tar_of_a_series_whose_new_instances_changed_is_dropped():
    tars = stored({"a.tar": ["1", "2"]})
    assert reusable_tars(tars, new_rows({"s1": ["1"]})) == set()
    assert reusable_tars(tars, new_rows({"s1": ["1", "2", "9"]})) == set()


def test_nothing_new_keeps_no_tar():
    assert reusable_tars(stored({"a.tar": ["1"]}), new_rows({})) == set()
