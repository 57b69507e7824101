"""Units of work: plain functions that do it, each with a thin Prefect task at its module's end."""
