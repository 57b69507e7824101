"""The hub's side of a pull: the source a spoke's configuration names, what the catalog already
holds, and since when to ask. The catalog is opened only briefly, never during network I/O.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from spokesync.catalog import open_catalog
from spokesync.catalog.errors import ConfigInvalid
from spokesync.catalog.known import known_instances
from spokesync.catalog.runs import last_generated_at
from spokesync.tasks.spokes.credentials import spoke_credentials
from spokesync.tasks.spokes.pull import PullResult, pull_drop
from spokesync.tasks.spokes.source import SpokeSource, check_since_attribute

if TYPE_CHECKING:
    from collections.abc import Iterator

    from spokesync.tasks.config import Config, SpokeConfig
    from spokesync.tasks.manifest.build import Progress


def is_pacs(spoke: SpokeConfig) -> bool:
    """A PACS spoke is pulled into the run's work folder; a drop spoke is read where it is."""
    return spoke.source != "drop"


@contextmanager
def open_source(spoke_id: str, spoke: SpokeConfig) -> Iterator[SpokeSource]:
    """The DICOMweb or DIMSE source of a PACS spoke, closed on exit."""
    if spoke.since_attribute:
        check_since_attribute(spoke.since_attribute)
    if spoke.source == "dicomweb":
        from spokesync.tasks.spokes.dicomweb import DicomwebSource

        source = DicomwebSource(
            spoke.url,
            auth=spoke_credentials(
                spoke_id,
                username_env=spoke.username_env,
                password_env=spoke.password_env,
                secret_block=spoke.secret_block,
            ),
            timeout=spoke.timeout_seconds,
            page_size=spoke.page_size,
            workers=spoke.fetch_workers,
            since_attribute=spoke.since_attribute,
        )
    elif spoke.source == "dimse":
        from spokesync.tasks.spokes.dimse import DimseSource

        source = DimseSource(
            spoke.host,
            spoke.port,
            spoke.called_aet,
            calling_aet=spoke.calling_aet,
            timeout=spoke.timeout_seconds,
            retrieve=spoke.retrieve,
            storage_port=spoke.storage_port,
            storage_bind=spoke.storage_bind,
            since_attribute=spoke.since_attribute,
        )
    else:
        raise ConfigInvalid(f"spoke {spoke_id!r} is a drop folder, not a PACS to pull from")
    try:
        yield source
    finally:
        source.close()


def pull_spoke(
    config: Config,
    spoke_id: str,
    out: Path,
    *,
    fetch_all: bool = False,
    wait: bool | float = True,
    progress: Progress | None = None,
) -> PullResult:
    """Pull a PACS spoke's manifest and the objects the hub lacks into the drop folder `out`
    (`progress` as pull_drop's)."""
    spoke = config.spoke(spoke_id)
    since = None
    if spoke.since_attribute:
        with open_catalog(config.catalog, wait=wait) as con:
            last = last_generated_at(con, spoke_id)
        since = (last - timedelta(days=spoke.since_overlap_days)).date() if last else None

    def known(sop_uids: list[str]) -> dict[str, dict]:
        with open_catalog(config.catalog, wait=wait) as con:
            return known_instances(con, sop_uids)

    with open_source(spoke_id, spoke) as source:
        return pull_drop(source, spoke_id, Path(out), known, since=since, fetch_all=fetch_all,
                         progress=progress)  # fmt: skip
