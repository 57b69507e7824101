"""What the steps of one run hand to each other, and the run's outcome in counts and UIDs."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from spokesync.catalog.apply import RunRecord
from spokesync.catalog.errors import ManifestInvalid
from spokesync.tasks.spokes.hub import is_pacs

if TYPE_CHECKING:
    from spokesync.tasks.config import Config

PLAN_FILES = ("records", "members", "attributes", "values", "stale")
# A run's batches of new objects in its work folder; the orphan sweep finds them by this glob.
BATCH_NAME = "new-{:05d}.parquet"
BATCH_GLOB = "new-[0-9][0-9][0-9][0-9][0-9].parquet"


@dataclass
class RunState:
    """What the steps of one run hand to each other: small values and Parquet paths."""

    run_id: str
    spoke: str
    drop: Path
    work: Path
    started_at: datetime
    generated_at: datetime | None = None
    manifest_rows: int = 0
    new_instances: int = 0
    deleting: int = 0
    version: tuple[int, int] | None = None
    kinds: dict[str, int] = field(default_factory=dict)
    batch_paths: list[Path] = field(default_factory=list)
    pulled: bool = False  # a PACS spoke: the drop is pulled into the work folder by this run
    fetched: int = 0  # objects downloaded from the PACS (a quiet night fetches none)
    unsupplied: tuple[str, ...] = ()  # manifest columns the PACS did not return
    allow_mass_delete: bool = False  # the operator confirmed a mass deletion (kept for a re-plan)
    replanned: bool = False  # the commit found the catalog moved and planned again
    steps: dict[str, tuple[float, float]] = field(default_factory=dict)  # wall-clock intervals
    patient_domain: str = ""  # issuer of patient IDs the spoke's objects leave unsaid
    incomplete_studies: tuple[str, ...] = ()  # studies with an object the hub could not read
    cannot_delete: bool = False  # an unreadable object names no study: delete nothing tonight

    def record(self) -> RunRecord:
        return RunRecord(
            self.run_id,
            self.spoke,
            self.started_at,
            self.generated_at,
            str(self.drop),
            self.manifest_rows,
            self.patient_domain or self.spoke,
        )

    def path(self, name: str) -> Path:
        return self.work / f"{name}.parquet"


def new_run(config: Config, spoke: str, drop: Path | None = None) -> RunState:
    """Name the run and make its work folder; the drop defaults to the configured one.

    A PACS spoke's drop is pulled into the work folder by pull_and_stage.
    """
    source = config.spoke(spoke)
    pulled = drop is None and is_pacs(source)
    drop = Path(drop) if drop else source.drop
    if drop is None and not pulled:
        raise ManifestInvalid(
            str(config.file),
            f"spoke {spoke!r} has no drop folder",
            fix="pass --drop or set spokes.<id>.drop",
        )
    now = datetime.now(UTC)
    run_id = f"{spoke}-{now:%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"
    work = config.work / run_id
    work.mkdir(parents=True, exist_ok=True)
    domain = source.patient_id_domain or spoke
    return RunState(
        run_id, spoke, work / "drop" if pulled else drop, work, now, pulled=pulled,
        patient_domain=domain,
    )  # fmt: skip


def summary(
    state: RunState, *, status: str, tars: int = 0, records: int = 0, bytes_archived: int = 0
) -> dict:
    """The run's outcome in counts and UIDs only (never demographics)."""
    return {
        "run_id": state.run_id,
        "spoke": state.spoke,
        "status": status,
        "manifest_rows": state.manifest_rows,
        "new_instances": state.new_instances,
        "fetched": state.fetched,
        "deleting": state.deleting,
        "kinds": dict(state.kinds),
        "tars_written": tars,
        "bytes_archived": bytes_archived,
        "cc_records": records,
        "plan": str(state.path("records")),
        "replanned": state.replanned,
        "steps": dict(state.steps),
    }


@contextmanager
def timed(state: RunState, step: str) -> Iterator[None]:
    """Record when a step of the run started and ended (epoch seconds, comparable across runs)."""
    started = time.time()
    yield
    state.steps[step] = (started, time.time())
