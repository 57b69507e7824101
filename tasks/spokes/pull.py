"""Turn what a PACS lists into a spoke drop (DESIGN §2), fetching only objects the hub lacks.

Fingerprints are lazy: an instance whose SOP UID the catalog already holds takes the catalog's
fingerprint and is not downloaded, so a quiet night costs queries, not downloads. Every other
instance is fetched (it has to be archived anyway) and fingerprinted from the bytes received.

A PACS may not return every attribute asked for (Orthanc's QIDO-RS omits Study Status ID). An
attribute absent from every listed instance is *not supplied*, which is not the same as empty:
its column is filled from the object's own header for fetched objects and from the catalog for
known ones, so no change is invented, and the pull says which columns it could not see.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from spokesync.catalog.errors import SpokeUnavailable
from spokesync.tasks.manifest.build import Progress
from spokesync.tasks.manifest.schema import FINGERPRINT_VERSION, MANIFEST_FORMAT, MANIFEST_SCHEMA
from spokesync.tasks.spokes.fetched_row import fetched_row
from spokesync.tasks.spokes.source import LISTED_COLUMNS, Listing, ObjectRef, SpokeSource, StudyRef

Known = Callable[[list[str]], dict[str, dict]]  # SOP UIDs -> catalog fingerprint and values
LISTING, FETCHING = "listing studies", "fetching objects"  # the phases a pull reports
_FROM_BYTES = ("fingerprint", "object_uri", "object_size", "transfer_syntax_uid")  # never listed


@dataclass(frozen=True)
class PullResult:
    """What one pull saw and did: counts only, for logs and the CLI."""

    drop: Path
    studies: int
    instances: int
    fetched: int
    known: int
    seconds: float
    unsupplied: tuple[str, ...] = ()  # columns the PACS did not return, filled as described


def pull_drop(
    source: SpokeSource,
    spoke: str,
    out: Path,
    known: Known,
    *,
    since: date | None = None,
    fetch_all: bool = False,
    progress: Progress | None = None,
) -> PullResult:
    """List the PACS, fetch what the hub lacks into out/objects, write the drop's manifest.

    `progress(phase, advanced, total)` hears of each study listed (LISTING, total None) and
    each object fetched (FETCHING, out of the objects wanted)."""
    started, generated_at = time.monotonic(), datetime.now(UTC)
    tell = progress or _silent
    out.mkdir(parents=True, exist_ok=True)
    studies, rows, unsupplied = list_rows(source, since, tell)
    held = {} if fetch_all else known([r["sop_instance_uid"] for r in rows])
    wanted = [r for r in rows if r["sop_instance_uid"] not in held]
    fetch_rows(source, wanted, out, unsupplied, tell)
    for row in rows:
        if row["sop_instance_uid"] in held:
            values = held[row["sop_instance_uid"]]
            row["fingerprint"] = values["fingerprint"]
            row.update({column: values[column] for column in unsupplied})
    write_manifest(out, spoke, generated_at, rows)
    return PullResult(
        out,
        studies,
        len(rows),
        len(wanted),
        len(rows) - len(wanted),
        time.monotonic() - started,
        unsupplied,
    )


def list_rows(
    source: SpokeSource, since: date | None, progress: Progress | None = None
) -> tuple[int, list[dict], tuple[str, ...]]:
    """Manifest rows of every study the PACS lists (each complete or not at all), and the
    columns no listed instance carried."""
    tell = progress or _silent
    tell(LISTING, 0, None)
    rows: list[dict] = []
    seen: set[str] = set()
    supplied: set[str] = set()
    for study in source.studies(since):
        if study.study_instance_uid in seen:  # a study met on two pages of the study query
            continue
        seen.add(study.study_instance_uid)
        listing = complete_listing(source, study)
        supplied |= listing.supplied
        rows.extend(listing.rows)
        tell(LISTING, 1, None)
    unsupplied = tuple(c for c in LISTED_COLUMNS if c not in supplied) if rows else ()
    return len(seen), rows, unsupplied


def complete_listing(source: SpokeSource, study: StudyRef) -> Listing:
    """A study's instances; listed again once if the count disagrees with the study query.

    The scope rule (DESIGN §2) makes every listed study complete: an instance missing from a
    listing would read as a deletion, so a study that changes while it is listed is refused.
    """
    for _attempt in range(2):
        listing = source.instances(study)
        uids = {row["sop_instance_uid"] for row in listing.rows}
        if study.instances is None or len(uids) == study.instances:
            return _unique(listing)
    raise SpokeUnavailable(
        f"{source.where}: study {study.study_instance_uid} lists {len(uids)} instances but the "
        f"study query reported {study.instances}; it is changing at the spoke. Nothing was "
        "changed; reconcile again when the spoke is quiet"
    )


def _unique(listing: Listing) -> Listing:
    """Drop an instance listed twice (offset paging over a changing study can repeat one)."""
    first: dict[str, dict] = {}
    for row in listing.rows:
        first.setdefault(row["sop_instance_uid"], row)
    return Listing(list(first.values()), listing.supplied)


def fetch_rows(
    source: SpokeSource,
    rows: list[dict],
    out: Path,
    unsupplied: tuple[str, ...] = (),
    progress: Progress | None = None,
) -> None:
    """Fetch each row's object into out/objects and fill in what only its bytes can tell."""
    tell = progress or _silent
    tell(FETCHING, 0, len(rows))
    objects = out / "objects"
    objects.mkdir(exist_ok=True)
    by_uid = {r["sop_instance_uid"]: r for r in rows}
    # all at once, so a whole series or study is one request; the source bounds what is in flight
    with closing(source.fetch(map(_ref, rows), objects)) as fetched:  # stopped on a failure
        for sop_uid, path in fetched:
            _describe(by_uid[sop_uid], path, out, source.where, unsupplied)
            tell(FETCHING, 1, len(rows))
    missing = [r["sop_instance_uid"] for r in rows if r["object_uri"] is None]
    if missing:
        raise SpokeUnavailable(
            f"{source.where}: {len(missing)} listed object(s) were not delivered, first SOP "
            f"instance {missing[0]}; they may have been deleted meanwhile. Nothing was changed; "
            "reconcile again"
        )


def _ref(row: dict) -> ObjectRef:
    return ObjectRef(
        row["study_instance_uid"],
        row["series_instance_uid"],
        row["sop_instance_uid"],
        row["sop_class_uid"],
    )


def _describe(row: dict, path: Path, out: Path, where: str, unsupplied: tuple[str, ...]) -> None:
    """Fingerprint a fetched object; it must be the instance that was asked for."""
    header = fetched_row(path, path.relative_to(out).as_posix())
    if header["sop_instance_uid"] != row["sop_instance_uid"]:
        raise SpokeUnavailable(
            f"{where}: asked for SOP instance {row['sop_instance_uid']} but received "
            f"{header['sop_instance_uid']}; the spoke's listing and its objects disagree"
        )
    row.update({column: header[column] for column in (*_FROM_BYTES, *unsupplied)})


def write_manifest(out: Path, spoke: str, generated_at: datetime, rows: list[dict]) -> None:
    """manifest.parquet first, then manifest.json: a drop without its json is not yet a drop."""
    pq.write_table(pa.Table.from_pylist(rows, schema=MANIFEST_SCHEMA), out / "manifest.parquet")
    meta = {
        "spoke": spoke,
        "generated_at": generated_at.isoformat().replace("+00:00", "Z"),
        "format": MANIFEST_FORMAT,
        "fingerprint": FINGERPRINT_VERSION,
    }
    (out / "manifest.json").write_text(json.dumps(meta, indent=2) + "\n", "utf-8")


def _silent(phase: str, advanced: int, total: int | None) -> None:
    """The progress callback of a pull nobody watches."""
