"""Verify nearline: re-hash every stored member against the catalog, find orphans, and name
the studies, series and SOP instances each problem touches."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from spokesync.catalog import read_catalog
from spokesync.catalog.errors import ConfigInvalid
from spokesync.catalog.nearline import stored_members, tar_instances
from spokesync.tasks.config_errors import unknown_spoke
from spokesync.tasks.nearline.tars import MemberInfo
from spokesync.tasks.nearline.volume_check import Finding, path_uids, verify_volume
from spokesync.tasks.nearline.volumes import resolve_volume

if TYPE_CHECKING:
    from spokesync.tasks.config import Config

Progress = Callable[[int, int, int, int], None]  # tars done, tars, bytes done, bytes
UNKNOWN_TO_CATALOG = ("orphan_tar", "partial_tar", "set_aside")  # only the path says what they hold


def expected_by_volume(rows: list[dict]) -> dict[str, dict[str, list[MemberInfo]]]:
    """Group the catalog's stored members as {volume: {tar relpath: [members]}}."""
    grouped: dict[str, dict[str, list[MemberInfo]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        grouped[r["volume"]][r["tar_path"]].append(
            MemberInfo(r["member_name"], r["data_offset"], r["size"], r["sha256"])
        )
    return grouped


@dataclass(frozen=True)
class Scope:
    """What `verify` checks: one volume (by name), one spoke's TARs, TARs archived since a date
    (local time); None checks all. TARs a scope leaves out are not checked, never orphans."""

    volume: str | None = None
    spoke: str | None = None
    since: date | None = None

    def takes(self, row: dict) -> bool:
        """Whether a stored member (a `stored_members` row) falls inside the scope."""
        when = row["archived_at"]
        return (
            self.volume in (None, row["volume"])
            and self.spoke in (None, row["spoke_id"])
            and (
                self.since is None or (when is not None and when.astimezone().date() >= self.since)
            )
        )


def verify_nearline(
    config: Config,
    *,
    wait: bool | float = False,
    scope: Scope = Scope(),
    progress: Progress | None = None,
) -> tuple[list, int]:
    """Findings over every configured volume and every volume the catalog names (by name,
    resolved to a path through the configuration), within `scope`; and how many stored objects
    were checked. `progress(tars done, tars, bytes done, bytes)` is told after each TAR."""
    rows = catalog_members(config)
    names = {str(path): name for name, path in config.named_volumes().items()}
    names |= {str(resolve_volume(config, r["volume"])): r["volume"] for r in rows}
    check_scope(config, scope, rows, names.values())
    chosen = [r for r in rows if scope.takes(r)]
    expected, known = expected_by_volume(chosen), known_tars(rows)
    names = {p: n for p, n in names.items() if scope.volume in (None, n)}
    tally = Tally(chosen, progress)
    findings = []
    for path, name in sorted(names.items()):
        findings.extend(
            verify_volume(Path(path), dict(expected.get(name, {})),
                          known=known.get(name, set()), progress=tally.tar_checked)
        )  # fmt: skip
    return name_affected(config, findings, names, wait=wait), len(chosen)


def known_tars(rows: list[dict]) -> dict[str, set[str]]:
    """{volume: every TAR path the catalog names there}: anything else on it is an orphan."""
    known: dict[str, set[str]] = defaultdict(set)
    for r in rows:
        known[r["volume"]].add(r["tar_path"])
    return known


def check_scope(config: Config, scope: Scope, rows: list[dict], volumes) -> None:
    """A volume or spoke neither the configuration nor the catalog knows is a typo: say so,
    naming the known ones, before anything is read."""
    if scope.volume is not None and scope.volume not in set(volumes):
        known = ", ".join(sorted(set(volumes))) or "none yet"
        raise ConfigInvalid(
            f"unknown volume {scope.volume!r}; known: {known} ({config.file}: [nearline] "
            "volumes names them)"
        )
    spokes = set(config.spokes) | {r["spoke_id"] for r in rows}
    if scope.spoke is not None and scope.spoke not in spokes:
        raise unknown_spoke(config.file, scope.spoke, sorted(spokes))


class Tally:
    """Counts TARs and bytes checked and tells a progress callback (if any)."""

    def __init__(self, rows: list[dict], progress: Progress | None) -> None:
        self.tars = len({(r["volume"], r["tar_path"]) for r in rows})
        self.bytes = sum(r["size"] for r in rows)
        self.tars_done = self.bytes_done = 0
        self.progress = progress

    def tar_checked(self, nbytes: int) -> None:
        self.tars_done += 1
        self.bytes_done += nbytes
        if self.progress is not None:
            self.progress(self.tars_done, self.tars, self.bytes_done, self.bytes)


def catalog_members(config: Config) -> list[dict]:
    """Every stored member the catalog lists, read-only (never the writer lock); a hub that has
    no catalog yet lists none."""
    if not Path(config.catalog).exists():
        return []
    with read_catalog(config.catalog) as con:
        return stored_members(con)


def name_affected(
    config: Config, findings: list[Finding], names: dict[str, str], *, wait: bool | float = False
) -> list:
    """Add to each finding the UIDs it touches: from the catalog, or from an unknown TAR's path."""
    tars = {
        (names.get(str(f.volume), str(f.volume)), f.relpath)
        for f in findings
        if f.kind not in UNKNOWN_TO_CATALOG
    }
    if not tars:
        return [affected(f, []) for f in findings]
    with read_catalog(config.catalog) as con:  # read-only: never the writer lock
        rows = {tar: tar_instances(con, *tar) for tar in sorted(tars)}
    return [
        affected(f, rows.get((names.get(str(f.volume), str(f.volume)), f.relpath), []))
        for f in findings
    ]


def affected(finding: Finding, rows: list[dict]) -> Finding:
    """The finding with the studies, series and SOP instances of its member (or whole TAR)."""
    if finding.kind in UNKNOWN_TO_CATALOG:
        uids = path_uids(finding.relpath)
        return replace(finding, studies=uids[:1], series=uids[1:])
    hit = [r for r in rows if finding.member in (None, r["member_name"])]
    return replace(
        finding,
        studies=_unique(r["study_instance_uid"] for r in hit),
        series=_unique(r["series_instance_uid"] for r in hit),
        sops=_unique(r["sop_instance_uid"] for r in hit),
    )


def _unique(values) -> tuple[str, ...]:
    return tuple(sorted(set(values)))
