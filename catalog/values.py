"""Values object by object: what each instance holds now, compared and settled (DESIGN §8).

studies, series and patients keep the value most of their objects hold; `instance_values`
keeps the objects that differ (catalog/sql/0005_instance_values.sql). Detection compares each
paired instance's current value with its own manifest row, so objects of one study that
disagree at the spoke are no change; settling sets the entities and the differing objects
from the values a run (or an approved record) gives its instances. A run changes the current
values of the instances it settles and of no other: other studies of a settled patient keep
theirs, pinned as their own where the patient's value moves.
"""

from __future__ import annotations

import duckdb

from spokesync.catalog import queries


def stage_effective(con: duckdb.DuckDBPyConnection) -> None:
    """`effective`: the current values of every instance in the temp table `value_ids`."""
    queries.run_script(con, "stage_entity_values")
    queries.run_script(con, "stage_effective_values")


def stage_value_diffs(con: duckdb.DuckDBPyConnection) -> None:
    """`value_diffs`: changed values of the paired instances of the registered study_pairs."""
    queries.run_script(con, "stage_paired_values")
    stage_effective(con)
    queries.run(con, "stage_value_diffs")


def settle_from_manifest(con: duckdb.DuckDBPyConnection, params: dict) -> None:
    """Settle the studies a run touched to its manifest (`man`, `applied_members`,
    `applied_values`); instances the manifest does not list keep their values."""
    queries.run_script(con, "stage_settle_from_manifest")
    stage_effective(con)
    queries.run(con, "add_unlisted_to_settle")
    settle(con, params)


def settle_from_record(con: duckdb.DuckDBPyConnection, params: dict) -> None:
    """Settle the studies a decided record moved instances into (`decided`), giving the moved
    instances the values the record planned (its cc_values)."""
    queries.run_script(con, "stage_settle_from_record")
    stage_effective(con)
    queries.run_script(con, "overlay_record_values", {"reverse": False} | params)
    settle(con, params)


def settle_back(con: duckdb.DuckDBPyConnection, params: dict) -> None:
    """Give the instances whose values record `seq` changed their old values again."""
    queries.run(con, "stage_revert_studies", params)
    queries.run_script(con, "stage_settle_from_record")
    stage_effective(con)
    queries.run_script(con, "overlay_record_values", params | {"reverse": True})
    settle(con, params)
    queries.run(con, "insert_reverted_values", params)


def settle(con: duckdb.DuckDBPyConnection, params: dict) -> None:
    """Set entities to their objects' most common values and rewrite the differing objects."""
    queries.run_script(con, "stage_pinned_values")
    stage_effective(con)  # values before the update, kept by the pinned instances
    queries.run_script(con, "settle_entities", params)
    queries.run_script(con, "stage_entity_values")  # values after the update
    queries.run_script(con, "settle_own_values", params)


def own_values(con: duckdb.DuckDBPyConnection, study: str) -> dict[str, dict]:
    """{SOP UID: {manifest column: value}} for the study's objects that differ from it."""
    found: dict[str, dict] = {}
    for sop, attribute, value in queries.run(
        con, "retrieve_own_values", {"study": study}
    ).fetchall():
        found.setdefault(sop, {})[attribute] = value
    return found
