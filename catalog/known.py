"""What the catalog already holds of a PACS listing, so sources fetch only what is new."""

from __future__ import annotations

import duckdb
import pyarrow as pa

from spokesync.catalog import queries


def known_instances(con: duckdb.DuckDBPyConnection, sop_uids: list[str]) -> dict[str, dict]:
    """SOP UID -> fingerprint and current manifest values, for each UID an active instance has."""
    listed = pa.table({"sop_instance_uid": pa.array(sop_uids, pa.string())})
    con.register("listed_sop_uids", listed)
    try:
        rows = queries.run(con, "known_instances").to_arrow_table().to_pylist()
    finally:
        con.unregister("listed_sop_uids")
    return {row.pop("sop_instance_uid"): row for row in rows}
