"""Everything a run leaves for people to read: log records at DEBUG, the Prefect server's logs
and artifacts; and the forms a patient's demographics can take in text."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import pyarrow.parquet as pq

from simulator.samples import PATIENTS

LOGGERS = ("", "spokesync", "prefect", "prefect.flow_runs", "prefect.task_runs")


class Collect(logging.Handler):
    """Keeps every record's formatted message, with its arguments and exception text."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@contextmanager
def captured_logs() -> Iterator[Collect]:
    """spokesync's and Prefect's loggers at DEBUG, every record collected, levels restored."""
    handler = Collect()
    loggers = [logging.getLogger(name) for name in LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.removeHandler(handler)
            logger.setLevel(level)


def server_texts(since: datetime) -> list[str]:
    """The messages of every log and the data of every artifact the Prefect server got since."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterTimestamp
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=10, at_exit=False)  # run logs travel to the server in batches
    texts, offset = [], 0
    with get_client(sync_client=True) as client:
        while page := client.read_logs(
            LogFilter(timestamp=LogFilterTimestamp(after_=since)), limit=200, offset=offset
        ):
            texts += [log.message for log in page]
            offset += len(page)
        artifacts = [a for a in client.read_artifacts() if a.created >= since]
    texts += [f"{a.key} {a.description} {a.data}" for a in artifacts]
    return texts


def demographics(drops: list[Path] = ()) -> set[str]:
    """Every sample patient's (and every drop's) name, birth date and ID in each written form."""
    people = [(p.name, p.birth_date, p.patient_id) for ps in PATIENTS.values() for p in ps]
    for manifest in (m for drop in drops for m in Path(drop).rglob("manifest.parquet")):
        rows = pq.read_table(manifest, columns=["patient_name", "patient_birth_date",
                                                "patient_id"]).to_pylist()  # fmt: skip
        people += [(r["patient_name"], r["patient_birth_date"], r["patient_id"]) for r in rows]
    return {form for person in people for form in forms(*person) if form}


def forms(name: str | None, birth_date: str | None, patient_id: str | None) -> list[str]:
    """'Doe^John' also as 'Doe John', 'John Doe', 'Doe, John'; 19500101 also as 1950-01-01."""
    parts = [p for p in (name or "").split("=")[0].split("^") if p]
    names = [name, " ".join(parts), " ".join(reversed(parts[:2])), ", ".join(parts[:2])]
    dates = [birth_date]
    if birth_date and len(birth_date) == 8:
        dates.append(f"{birth_date[:4]}-{birth_date[4:6]}-{birth_date[6:]}")
    return [n for n in names if n and len(n) > 3] + [d for d in dates if d] + [patient_id]


def leaks(texts: list[str], private: set[str]) -> list[tuple[str, str]]:
    """(value, line) for each private value found; digits and IDs only where they stand alone."""
    found = []
    for value in sorted(private):
        pattern = re.compile(rf"(?<![\w.-]){re.escape(value)}(?![\w-])", re.IGNORECASE)
        found += [(value, text[:300]) for text in texts if pattern.search(text)]
    return found
