"""Verify nearline: re-hash every stored member against the catalog, find orphans, and name
the studies, series and SOP instances each problem touches."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from spokesync.catalog import read_catalog
from spokesync.catalog.nearline import stored_members, tar_instances
from spokesync.tasks.nearline.tars import MemberInfo
from spokesync.tasks.nearline.volume_check import Finding, path_uids, verify_volume
from spokesync.tasks.nearline.volumes import resolve_volume

if TYPE_CHECKING:
    from spokesync.tasks.config import Config

UNKNOWN_TO_CATALOG = ("orphan_tar", "partial_tar", "set_aside")  # only the path says what they hold


def expected_by_volume(rows: list[dict]) -> dict[str, dict[str, list[MemberInfo]]]:
    """Group the catalog's stored members as {volume: {tar relpath: [members]}}."""
    grouped: dict[str, dict[str, list[MemberInfo]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        grouped[r["volume"]][r["tar_path"]].append(
            MemberInfo(r["member_name"], r["data_offset"], r["size"], r["sha256"])
        )
    return grouped


def verify_nearline(config: Config, *, wait: bool | float = False) -> tuple[list, int]:
    """Findings over every configured volume and every volume the catalog names (by name,
    resolved to a path through the configuration)."""
    rows = catalog_members(config)
    expected = expected_by_volume(rows)
    names = {str(path): name for name, path in config.named_volumes().items()}
    names |= {str(resolve_volume(config, value)): value for value in expected}
    findings = []
    for path, name in sorted(names.items()):
        findings.extend(verify_volume(Path(path), dict(expected.get(name, {}))))
    return name_affected(config, findings, names, wait=wait), len(rows)


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
