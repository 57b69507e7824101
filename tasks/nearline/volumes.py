"""Nearline volumes by name: the marker each volume carries, and the choice of a volume to write.

A volume's marker (`<volume>/.spokesync-volume.json`) names the hub and the volume, and the last
run that wrote to it. The catalog names volumes, never paths: a name resolves to a path through
the configuration, so a hub moved or restored on another host finds its TARs.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from spokesync.catalog.errors import NearlineUnsafe, NearlineUnwritable
from spokesync.tasks.nearline.tars import SET_ASIDE, StagedTar, fsync_dir, unwritable

if TYPE_CHECKING:
    from spokesync.tasks.config import Config

MARKER = ".spokesync-volume.json"
NOT_ARCHIVE = {MARKER, SET_ASIDE}  # entries of a volume's top folder that are not TARs


@dataclass(frozen=True)
class Marker:
    """What a volume says about itself."""

    hub_id: str
    volume: str
    last_run: str | None = None
    format: int = 1


@dataclass(frozen=True)
class VolumeState:
    """A configured volume as found on disk: its marker (if any) and whether it holds files."""

    name: str
    path: Path
    marker: Marker | None
    occupied: bool


def read_marker(volume: Path) -> Marker | None:
    """The volume's marker, None when there is none; a damaged marker is a clear error."""
    file = Path(volume) / MARKER
    try:
        body = json.loads(file.read_text("utf-8"))
        return Marker(body["hub_id"], body["volume"], body.get("last_run"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise NearlineUnsafe(
            f"the volume marker {file} cannot be read ({exc}); nothing was written. Restore it "
            'as JSON {"hub_id": …, "volume": …} from another volume of this hub'
        ) from None


def write_marker(volume: Path, marker: Marker) -> None:
    """Write the marker atomically (temporary file, fsync, rename) and make the name durable."""
    volume = Path(volume)
    temp = volume / f"{MARKER}.tmp-{os.getpid()}"
    try:
        with open(temp, "w", encoding="utf-8") as out:
            json.dump(asdict(marker), out, indent=1)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, volume / MARKER)
    except OSError as exc:
        raise unwritable(volume, volume / MARKER, exc) from None
    fsync_dir(volume)


def inspect_volume(name: str, path: Path) -> VolumeState:
    """Read a volume's marker and look whether its folder holds anything besides it."""
    path = Path(path)
    try:
        occupied = any(e.name not in NOT_ARCHIVE for e in os.scandir(path))
    except FileNotFoundError:
        occupied = False
    return VolumeState(name, path, read_marker(path), occupied)


def resolve_volume(config: Config, value: str) -> Path:
    """The path of a volume the catalog names; old catalogs name absolute paths, which are
    mapped to the configured volume of the same path, else of the same last part."""
    named = config.named_volumes()
    if value in named:
        return named[value]
    by_path = {str(path): path for path in named.values()}
    if value in by_path:
        return by_path[value]
    if Path(value).is_absolute() and Path(value).name in named:
        return named[Path(value).name]
    raise NearlineUnsafe(
        f"the catalog names nearline volume {value!r}, which {config.file} does not configure "
        f"(configured: {', '.join(named) or 'none'}); add it under [nearline] volumes as "
        f'{{ name = "{Path(value).name}", path = "…" }}'
    )


def on_volume_paths(config: Config, rows: list) -> list:
    """Catalog rows (dataclasses with a `volume`) with each volume name resolved to its path."""
    paths: dict[str, str] = {}
    for value in {row.volume for row in rows}:
        paths[value] = str(resolve_volume(config, value))
    return [replace(row, volume=paths[row.volume]) for row in rows]


def stage_on_a_volume(
    volumes: list[Path], needed: int, write: Callable[[str, str, Path], StagedTar]
) -> tuple[str, StagedTar]:
    """Stage a TAR (`write(hub id, volume name, path)`) on the first configured volume that is
    writable and has room for `needed` bytes plus 1 % headroom; a read-only or full volume,
    found so before or while writing, is passed over for the next one."""
    passed = []
    for volume in volumes:
        marker = read_marker(volume)
        if marker is None:
            raise NearlineUnsafe(
                f"nearline volume {volume} has no marker {MARKER}: it is not mounted or not "
                "this hub's; nothing was written. Mount it, or fix its path in the configuration"
            )
        if os.statvfs(volume).f_flag & os.ST_RDONLY:
            passed.append(f"{marker.volume} ({volume}) is mounted read-only")
            continue
        if shutil.disk_usage(volume).free <= needed * 1.01:
            passed.append(f"{marker.volume} ({volume}) has less than {needed} bytes free")
            continue
        try:
            return marker.volume, write(marker.hub_id, marker.volume, Path(volume))
        except NearlineUnwritable as exc:
            passed.append(str(exc))
    raise NearlineUnwritable(
        f"no nearline volume can take a {needed}-byte TAR: {'; '.join(passed)}. Nothing was "
        "published. Free space, remount read-write, or add a volume to the configuration"
    )


def mark_last_run(config: Config, names: set[str], run_id: str) -> None:
    """After a commit: each volume the run wrote to names it as its last run, so a catalog
    restored from an older backup is recognised by the run it does not know."""
    named = config.named_volumes()
    for name in sorted(names):
        marker = read_marker(named[name])
        if marker is not None:
            write_marker(named[name], Marker(marker.hub_id, marker.volume, run_id))
