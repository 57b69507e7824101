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
