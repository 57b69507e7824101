"""Prefect's environment defaults for spokesync, written once: offline, patient on two cores.

`set_prefect_defaults()` must run before Prefect is imported. The entry points call it: the
`flows` package (CLI, deployments, demo), the tests' conftest and the benchmarks. A value the
environment already has is kept.
"""

from __future__ import annotations

import os

PREFECT_DEFAULTS = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",  # no analytics: hubs are often offline
    "PREFECT_CLOUD_ENABLE_ORCHESTRATION_TELEMETRY": "false",
    # room for the temporary server to start on a small, busy machine
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
}


def set_prefect_defaults(environ: dict[str, str] | None = None) -> dict[str, str]:
    """Set each default the environment lacks; return the environment."""
    env = os.environ if environ is None else environ
    for name, value in PREFECT_DEFAULTS.items():
        env.setdefault(name, value)
    return env
