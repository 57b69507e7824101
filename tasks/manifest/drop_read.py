"""Reading a spoke drop (DESIGN §2) and refusing bad input before anything changes."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from spokesync.catalog.errors import ManifestInvalid
from spokesync.tasks.manifest import rules as manifest_rules
from spokesync.tasks.manifest.csv_read import read_csv
from spokesync.tasks.manifest.quality import REJECTED_SCHEMA
from spokesync.tasks.manifest.schema import FINGERPRINT_VERSION, MANIFEST_FORMAT, MANIFEST_SCHEMA

DELETION_LEVELS = ("study", "series", "instance")
META_FIX = (
    'write a JSON object such as {"spoke": "north", "generated_at": "2026-11-27T23:00:00Z", '
    '"format": 1, "fingerprint": "v1"}'
)
# How far a spoke's clock may run ahead of the hub's: a drop stamped later is refused, or it
# would make every correct drop of that spoke look older than the last one applied.
CLOCK_SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class RejectedObjects:
    """The drop's rejected.parquet: objects its builder could not read (DESIGN §2).

    `incomplete_studies` holds the study UIDs of rejected objects whose study could be read:
    nothing in those studies may be deleted tonight (the rest of the study is not listed, or
    not all of it). `cannot_delete` is True when a rejected object names no (valid) study UID:
    it may belong to any study, so the run must delete nothing at all tonight.
    """

    table: pa.Table  # REJECTED_SCHEMA; a study UID that is not a valid UID is null
    incomplete_studies: frozenset[str]
    cannot_delete: bool


@dataclass(frozen=True)
class Drop:
    path: Path
    spoke: str
    generated_at: datetime
    manifest: pa.Table
    deletions: pa.Table | None
    rejected: RejectedObjects

    @property
    def incomplete_studies(self) -> frozenset[str]:
        """Studies with a rejected object: nothing in them is deleted tonight."""
        return self.rejected.incomplete_studies

    @property
    def cannot_delete(self) -> bool:
        """A rejected object names no study: nothing of this drop is deleted tonight."""
        return self.rejected.cannot_delete


def read_drop(path: Path, spoke: str) -> Drop:
    """Read and validate the drop at `path` for `spoke`; raise ManifestInvalid on any bad input."""
    path = drop_folder(path)
    generated_at = read_meta(path / "manifest.json", spoke)
    manifest = read_manifest_table(path)
    deletions = read_deletions(path / "deletions.parquet")
    return Drop(path, spoke, generated_at, manifest, deletions, read_rejected(path))


def read_rejected(folder: Path) -> RejectedObjects:
    """`folder`/rejected.parquet (a drop's, or the copy a run stages in its work folder).

    No file means nothing was rejected; an unreadable one, or one without path and reason, is
    refused, since deleting anything would then be a guess.
    """
    file = Path(folder) / "rejected.parquet"
    if not file.exists():
        return RejectedObjects(REJECTED_SCHEMA.empty_table(), frozenset(), False)
    raw = _read_parquet(file)
    _require(raw, file, ("path", "reason"), "write rejected.parquet with spokesync manifest build")
    columns = [
        raw.column(f.name).cast(pa.string()) if f.name in raw.column_names else pa.nulls(len(raw))
        for f in REJECTED_SCHEMA
    ]
    table = pa.Table.from_arrays(columns, schema=REJECTED_SCHEMA)
    studies = table.column("study_instance_uid")
    valid = pc.and_(
        pc.match_substring_regex(studies, manifest_rules.UID_PATTERN),
        pc.less_equal(pc.utf8_length(studies), manifest_rules.MAX_UID_LENGTH),
    )
    studies = pc.if_else(valid, studies, None)
    table = table.set_column(4, "study_instance_uid", studies)
    found = frozenset(pc.unique(studies.drop_null()).to_pylist())
    return RejectedObjects(table, found, studies.null_count > 0)


def drop_folder(path: Path) -> Path:
    """The drop's folder, refused by name when it does not exist."""
    path = Path(path)
    if not path.is_dir():
        raise ManifestInvalid(
            str(path),
            "the drop folder does not exist",
            fix="point the spoke at the folder that holds manifest.json",
        )
    return path


def read_meta(file: Path, spoke: str, *, now: datetime | None = None) -> datetime:
    """Check manifest.json: spoke, format, fingerprint version and a generated_at that is not
    in the future (beyond CLOCK_SKEW of `now`, default the hub's clock); return generated_at."""
    try:
        meta = json.loads(file.read_text("utf-8"))
    except FileNotFoundError:
        raise ManifestInvalid(
            str(file), "file is missing", fix="write manifest.json beside the manifest"
        ) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ManifestInvalid(str(file), f"not valid UTF-8 JSON ({exc})", fix=META_FIX) from None
    if not isinstance(meta, dict):
        raise ManifestInvalid(str(file), "must hold a JSON object", fix=META_FIX)
    expected = {"spoke": spoke, "format": MANIFEST_FORMAT, "fingerprint": FINGERPRINT_VERSION}
    for key, value in expected.items():
        if meta.get(key) != value:
            raise ManifestInvalid(
                str(file),
                f"{key} is {meta.get(key)!r}, expected {value!r}",
                column=key,
                fix=_meta_fix(key),
            )
    stamp = _parse_time(meta.get("generated_at"), file)
    _refuse_future(stamp, now or datetime.now(UTC), file)
    return stamp


def _meta_fix(key: str) -> str:
    if key == "spoke":
        return "send this drop to the spoke it came from, or fix the spoke id in manifest.json"
    return "write the drop with a spokesync version that speaks manifest format 1, fingerprint v1"


def _parse_time(value: object, file: Path) -> datetime:
    try:
        stamp = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise ManifestInvalid(
            str(file),
            f"generated_at {value!r} is not an ISO-8601 time",
            column="generated_at",
            fix="write e.g. 2026-11-27T23:00:00Z",
        ) from None
    if stamp.tzinfo is None:
        raise ManifestInvalid(
            str(file),
            "generated_at has no time zone",
            column="generated_at",
            fix="end it with Z (UTC) or an offset such as +01:00",
        )
    return stamp


def _refuse_future(stamp: datetime, now: datetime, file: Path) -> None:
    if stamp > now + CLOCK_SKEW:
        minutes = int(CLOCK_SKEW.total_seconds() // 60)
        raise ManifestInvalid(
            str(file),
            f"generated_at {stamp.isoformat()} is in the future (the hub's clock says "
            f"{now.astimezone(UTC).isoformat(timespec='seconds')}, {minutes} minutes of skew "
            "allowed)",
            column="generated_at",
            fix="set the spoke's clock right (NTP) and write the drop again with the time it "
            "was made",
        )


def read_manifest_table(drop: Path) -> pa.Table:
    """manifest.parquet (or manifest.csv), conformed to the schema and checked row by row."""
    file = manifest_file(drop)
    raw = _read_parquet(file) if file.suffix == ".parquet" else read_csv(file)
    table = manifest_rules.conform(raw, str(file))
    manifest_rules.check(table, str(file))
    check_object_uris(table, str(file))
    return table


def manifest_file(drop: Path) -> Path:
    """The drop's manifest.parquet, else its manifest.csv; refused when it has neither."""
    parquet, csv = drop / "manifest.parquet", drop / "manifest.csv"
    if parquet.exists():
        return parquet
    if csv.exists():
        return csv
    raise ManifestInvalid(
        str(parquet),
        "file is missing",
        fix="write manifest.parquet (or manifest.csv with the same header)",
    )


def _read_parquet(file: Path) -> pa.Table:
    try:
        return pq.read_table(file)
    except (pa.ArrowInvalid, OSError) as exc:
        raise unreadable(file, exc) from None


def unreadable(file: Path, exc: Exception) -> ManifestInvalid:
    return ManifestInvalid(
        str(file),
        f"not a readable Parquet file ({exc})",
        fix="write the file again; it may be truncated",
    )


def check_object_uris(table: pa.Table, file: str) -> None:
    """Refuse an object_uri that is absolute or climbs out of the drop (`..`)."""
    uris = table.column("object_uri")
    web = pc.match_substring_regex(uris, r"^https?://")
    escaping = pc.or_(
        pc.match_substring_regex(uris, r"^(/|\\|[A-Za-z]:)"),
        pc.match_substring_regex(uris, r"(^|[/\\])\.\.([/\\]|$)"),
    )
    row = manifest_rules.first_row(pc.and_(pc.invert(web), escaping))
    if row is not None:
        raise ManifestInvalid(
            file,
            f"object_uri {uris[row - 1].as_py()!r} escapes the drop folder",
            row=row,
            column="object_uri",
            fix="use a path relative to the drop, e.g. objects/1.2.3.dcm",
        )


def read_deletions(file: Path) -> pa.Table | None:
    """Optional explicit deletions: level (study|series|instance), uid, reason_code, reason_text."""
    if not file.exists():
        return None
    table = _read_parquet(file)
    fix = "deletions need level, uid, reason_code and reason_text"
    _require(table, file, ("level", "uid"), fix)
    table = _normalised_levels(table)
    levels = table.column("level")
    row = manifest_rules.first_row(pc.invert(pc.is_in(levels, pa.array(DELETION_LEVELS))))
    if row is not None:
        raise ManifestInvalid(
            str(file),
            f"level {levels[row - 1].as_py()!r} is unknown",
            row=row,
            column="level",
            fix="use study, series or instance (DICOM's STUDY, SERIES, IMAGE are accepted too)",
        )
    uids = table.column("uid").cast(pa.string())
    bad = pc.or_kleene(
        pc.is_null(uids),  # an empty uid names nothing to delete
        pc.or_(
            pc.invert(pc.match_substring_regex(uids, manifest_rules.UID_PATTERN)),
            pc.greater(pc.utf8_length(uids), manifest_rules.MAX_UID_LENGTH),
        ),
    )
    row = manifest_rules.first_row(bad)
    if row is not None:
        raise ManifestInvalid(
            str(file),
            f"{uids[row - 1].as_py()!r} is not a valid DICOM UID",
            row=row,
            column="uid",
            fix=manifest_rules.UID_FIX,
        )
    return table


def _normalised_levels(table: pa.Table) -> pa.Table:
    """Levels in any case, DICOM's IMAGE as instance: one spelling for detection."""
    levels = pc.utf8_lower(pc.utf8_trim_whitespace(table.column("level").cast(pa.string())))
    levels = pc.replace_substring_regex(levels, "^image$", "instance")
    return table.set_column(table.column_names.index("level"), "level", levels)


def _require(table: pa.Table, file: Path, names: tuple[str, ...], fix: str) -> None:
    """Refuse a side file of the drop that lacks one of its required columns."""
    for name in names:
        if name not in table.column_names:
            raise ManifestInvalid(
                str(file), f"required column {name!r} is missing", column=name, fix=fix
            )


def empty_manifest() -> pa.Table:
    return MANIFEST_SCHEMA.empty_table()
