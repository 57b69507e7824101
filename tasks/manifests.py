"""Reading a spoke drop (DESIGN §2) and refusing bad input before anything changes."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from catalog.errors import ManifestInvalid
from tasks import manifest_rules
from tasks.manifest_schema import FINGERPRINT_VERSION, MANIFEST_FORMAT, MANIFEST_SCHEMA

DELETION_LEVELS = ("study", "series", "instance")
META_FIX = (
    'write a JSON object such as {"spoke": "north", "generated_at": "2026-11-27T23:00:00Z", '
    '"format": 1, "fingerprint": "v1"}'
)
# How far a spoke's clock may run ahead of the hub's: a drop stamped later is refused, or it
# would make every correct drop of that spoke look older than the last one applied.
CLOCK_SKEW = timedelta(minutes=5)
CSV_BLOCK = 64 << 20  # the longest CSV line pyarrow reads whole (a 10 MB value fits)


@dataclass(frozen=True)
class Drop:
    path: Path
    spoke: str
    generated_at: datetime
    manifest: pa.Table
    deletions: pa.Table | None


def read_drop(path: Path, spoke: str) -> Drop:
    """Read and validate the drop at `path` for `spoke`; raise ManifestInvalid on any bad input."""
    path = drop_folder(path)
    generated_at = read_meta(path / "manifest.json", spoke)
    manifest = read_manifest_table(path)
    deletions = read_deletions(path / "deletions.parquet")
    return Drop(path, spoke, generated_at, manifest, deletions)


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
    raw = _read_parquet(file) if file.suffix == ".parquet" else _read_csv(file)
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


def _read_csv(file: Path) -> pa.Table:
    """Every column read as text, so IDs keep their leading zeros; a broken row is named."""
    header = _csv_header(file)
    try:
        try:
            return _read_csv_as(file, header, pa.string())
        except pa.ArrowInvalid as exc:
            if "UTF8" not in str(exc):
                raise
            return _read_csv_as(file, header, pa.binary())  # conform names the row and column
    except (pa.ArrowInvalid, OSError) as exc:
        raise _csv_refused(file, header, exc) from None


def _csv_header(file: Path) -> list[str]:
    """The header's column names, unquoted as a CSV reader does (a UTF-8 BOM is dropped)."""
    with file.open("rb") as stream:
        line = stream.readline().decode("utf-8-sig", "replace")
    return next(csv.reader([line]), [])


def _read_csv_as(file: Path, header: list[str], kind: pa.DataType, **read: object) -> pa.Table:
    options = pacsv.ConvertOptions(
        column_types={name: kind for name in header},
        strings_can_be_null=True,
        null_values=[""],
        quoted_strings_can_be_null=False,
    )
    # A block must hold the longest line, or pyarrow cannot name the over-long value; rows
    # are numbered for a parse handler only when one thread reads.
    read_options = pacsv.ReadOptions(block_size=CSV_BLOCK, use_threads=not read)
    return pacsv.read_csv(file, read_options=read_options, convert_options=options, **read)


def _csv_refused(file: Path, header: list[str], exc: Exception) -> ManifestInvalid:
    """Name the first row whose field count differs from the header's (never its values)."""
    found: list = []

    def note(row) -> str:
        found.append(row)
        return "error"

    try:
        handler = pacsv.ParseOptions(invalid_row_handler=note)
        _read_csv_as(file, header, pa.binary(), parse_options=handler)
    except (pa.ArrowInvalid, OSError):
        pass
    fix = "write the CSV as UTF-8 with the manifest header"
    if not found:
        return ManifestInvalid(str(file), f"not a readable UTF-8 CSV file ({exc})", fix=fix)
    bad = found[0]
    return ManifestInvalid(
        str(file),
        f"the row has {bad.actual_columns} fields, the header {bad.expected_columns}",
        row=bad.number - 1 if bad.number > 0 else None,
        fix="quote every value that holds a comma, and give every row the header's fields",
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
    for name in ("level", "uid"):
        if name not in table.column_names:
            raise ManifestInvalid(
                str(file),
                f"required column {name!r} is missing",
                column=name,
                fix="deletions need level, uid, reason_code and reason_text",
            )
    levels = table.column("level")
    row = manifest_rules.first_row(pc.invert(pc.is_in(levels, pa.array(DELETION_LEVELS))))
    if row is not None:
        raise ManifestInvalid(
            str(file),
            f"level {levels[row - 1].as_py()!r} is unknown",
            row=row,
            column="level",
            fix="use study, series or instance",
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


def empty_manifest() -> pa.Table:
    return MANIFEST_SCHEMA.empty_table()
