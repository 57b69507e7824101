"""The hub's DuckDB catalog: every catalog access in spokesync goes through this package."""

from spokesync.catalog.connection import open_catalog, read_catalog, transaction

__all__ = ["open_catalog", "read_catalog", "transaction"]
