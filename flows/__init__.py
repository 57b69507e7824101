"""Prefect flows that order tasks, the command line, and configuration."""

from spokesync.tasks.prefect_env import set_prefect_defaults

set_prefect_defaults()  # the entry layer: before any flow module imports Prefect
