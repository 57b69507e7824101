"""The names of the report tables, in the order a run writes them; catalog/reports.py gives each
its schema. Apart so the command line lists `spokesync report …` without importing pyarrow."""

TABLES = ("runs", "changes", "pending_review", "ownership", "stale_copies", "nearline",
          "discrepancies", "data_quality")  # fmt: skip
