"""Prefect flows that order tasks, the command line, and configuration."""

import tasks  # noqa: F401  (sets Prefect's offline defaults before Prefect is imported)
