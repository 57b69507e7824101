"""Units of work: plain functions that do it, each with a thin Prefect task at its module's end."""

import os

# Prefect runs offline here: no analytics, and room for the temporary server to start on 2 cores.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
os.environ.setdefault("PREFECT_CLOUD_ENABLE_ORCHESTRATION_TELEMETRY", "false")
