"""Before a run writes anything: do the catalog and every configured volume belong together?

The catalog records its hub id and the volumes it wrote to; each volume's marker names the hub
and the last run that wrote to it. A volume not mounted, a volume of another hub, an empty
catalog beside a nearline that holds TARs (a mistyped catalog path) and a catalog older than
its nearline (restored from a backup) all stop the run here, before a TAR is staged.
The decisions (`problems`) are pure; `ensure_nearline` reads, decides, then writes markers.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from spokesync.catalog import hub as hub_queries
from spokesync.catalog.errors import NearlineUnsafe
from spokesync.tasks.nearline.volumes import (
    MARKER,
    Marker,
    VolumeState,
    inspect_volume,
    write_marker,
)

if TYPE_CHECKING:
    import duckdb

    from spokesync.tasks.config import Config

log = logging.getLogger("spokesync.volumes")
REBUILD = "`spokesync catalog rebuild` (it indexes the nearline TARs into a new catalog)"


def problems(
    states: list[VolumeState],
    hub: str | None,
    known: set[str],
    legacy: set[str],
    recorded: Callable[[str], bool],
    catalog: Path,
) -> list[str]:
    """What forbids writing to these volumes with this catalog (pure; empty: all is well).

    `legacy` names the volumes a catalog from before markers holds objects on."""
    found = []
    for s in states:
        where = f"volume {s.name!r} at {s.path}"
        m = s.marker
        if m is not None and m.hub_id != hub:
            found.append(_foreign(where, m, hub, catalog))
        elif m is not None and m.volume != s.name:
            found.append(f"{where} is marked as volume {m.volume!r}; name it {m.volume!r} in "
                         "the configuration or point the name at its own path")  # fmt: skip
        elif m is not None and m.last_run and not recorded(m.last_run):
            found.append(
                f"the catalog {catalog} is older than its nearline: {where} was last written by "
                f"run {m.last_run}, which the catalog does not know (restored from an older "
                f"backup?). Point catalog.path at the current catalog, or run {REBUILD}"
            )
        elif m is None and s.name in known:
            found.append(f"{where} has no marker {MARKER}: it is not mounted (or the path is "
                         "wrong). Mount it or fix its path in the configuration")  # fmt: skip
        elif m is None and s.occupied and s.name not in legacy:
            found.append(
                f"{where} holds files but no marker {MARKER}: it is not a volume of the hub "
                f"this catalog ({catalog}) indexes. Fix the volume or catalog path, or, if these "
                f"are this hub's TARs, run {REBUILD}"
            )
    return found


def _foreign(where: str, marker: Marker, hub: str | None, catalog: Path) -> str:
    if hub is None:
        return (
            f"the catalog {catalog} indexes nothing yet, but {where} belongs to hub "
            f"{marker.hub_id} (last run {marker.last_run}): the catalog path is wrong or the "
            f"catalog was lost. Fix catalog.path in the configuration, or run {REBUILD}"
        )
    return (
        f"{where} belongs to hub {marker.hub_id}, not to hub {hub} that the catalog {catalog} "
        "indexes; fix the volume's path in the configuration"
    )


def ensure_nearline(con: duckdb.DuckDBPyConnection, config: Config) -> str:
    """Check every configured volume against the catalog (under the writer lock); write the
    markers a fresh hub or a new volume lacks. Raises NearlineUnsafe before anything is written."""
    hub = hub_queries.hub_id(con)
    known = hub_queries.known_volumes(con)
    states = [inspect_volume(n, p) for n, p in config.named_volumes().items()]
    stored = hub_queries.stored_volume_values(con) if hub is None else []
    renames = legacy_renames(config, stored)
    legacy = set(renames.values()) | (set(stored) & set(config.named_volumes()))
    found = problems(
        states,
        hub,
        known,
        legacy,
        lambda run: hub_queries.run_is_recorded(con, run),
        config.catalog,
    )
    if found:
        raise NearlineUnsafe("; ".join(found) + ". Nothing was written.")
    new_hub = hub is None
    hub = hub or f"hub-{secrets.token_hex(8)}"
    unmarked = [s for s in states if s.marker is None]
    for s in unmarked:
        s.path.mkdir(parents=True, exist_ok=True)
        write_marker(s.path, Marker(hub, s.name))
    if new_hub or unmarked or renames:
        names = [s.name for s in states if s.name not in known]
        hub_queries.record_identity(con, hub, new_hub=new_hub, volumes=names, renames=renames)
        log.info("hub %s: %d volume marker(s) written, %d volume path(s) renamed",
                 hub, len(unmarked), len(renames))  # fmt: skip
    return hub


def legacy_renames(config: Config, stored: list[str]) -> dict[str, str]:
    """Absolute volume paths an old catalog stored, mapped to configured volume names."""
    named = config.named_volumes()
    by_path = {str(path): name for name, path in named.items()}
    renames = {}
    for value in stored:
        if value in named or not Path(value).is_absolute():
            continue
        name = by_path.get(value) or (Path(value).name if Path(value).name in named else None)
        if name:
            renames[value] = name
    return renames
