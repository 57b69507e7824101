"""Keep prefect.yaml's nightly schedule equal to the one in spokesync.toml."""

from __future__ import annotations

import re
from pathlib import Path

from spokesync.tasks.config import Schedule

_CRON = re.compile(r'^(\s*- cron: )"[^"]*"$', re.MULTILINE)
_TZ = re.compile(r'^(\s*timezone: )"[^"]*"$', re.MULTILINE)


def apply_schedule(prefect_yaml: Path, schedule: Schedule) -> bool:
    """Rewrite the cron and timezone lines in place (comments kept); True if anything changed."""
    text = prefect_yaml.read_text("utf-8")
    if len(_CRON.findall(text)) != 1 or len(_TZ.findall(text)) != 1:
        raise ValueError(f"{prefect_yaml} should hold exactly one cron schedule with a timezone")
    new = _CRON.sub(lambda m: f'{m[1]}"{schedule.cron}"', text)
    new = _TZ.sub(lambda m: f'{m[1]}"{schedule.timezone}"', new)
    if new != text:
        prefect_yaml.write_text(new, "utf-8")
    return new != text


def schedule_message(prefect_yaml: Path, schedule: Schedule, changed: bool) -> str:
    """What `spokesync schedule` tells the user: a deployment keeps the schedule it was deployed
    with, so a changed prefect.yaml takes effect only after `prefect deploy --all`."""
    state = "updated" if changed else "already up to date"
    told = f"{prefect_yaml} {state}: cron {schedule.cron!r}, timezone {schedule.timezone}"
    if not changed:
        return told
    return (
        f"{told}\nredeploy for the change to take effect: prefect deploy --all "
        f"(from {prefect_yaml.resolve().parent}, with SPOKESYNC_CONFIG set)"
    )
