"""Reports after each run: Parquet tables, reports.duckdb, HTML, IOCM."""
