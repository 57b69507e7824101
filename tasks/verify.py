"""Verify nearline: re-hash every stored member against the catalog, find orphans, and name
the studies, series and SOP instances each problem touches."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from catalog import open_catalog
from catalog.storage import stored_members, tar_instances
from tasks.nearline import MemberInfo
from tasks.nearline_verify import Finding, path_uids, verify_volume

if TYPE_CHECKING:
    from flows.config import Config

UNKNOWN_TO_CATALOG = ("orphan_tar", "partial_tar")  # only the path says what they hold


def expected_by_volume(rows: list[dict]) -> dict[str, dict[str, list[MemberInfo]]]:
    """Group the catalog's stored members as {volume: {tar relpath: [members]}}."""
    grouped: dict[str, dict[str, list[MemberInfo]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        grouped[r["volume"]][r["tar_path"]].append(
            MemberInfo(r["member_name"], r["data_offset"], r["size"], r["sha256"])
        )
    return grouped


def verify_nearline(config: Config, *, wait: bool | float = False) -> tuple[list, int]:
    """Findings over every configured volume and every volume the catalog names."""
    with open_catalog(config.catalog, wait=wait) as con:
        rows = stored_members(con)
    expected = expected_by_volume(rows)
    volumes = {str(v) for v in config.volumes} | set(expected)
    findings = []
    for volume in sorted(volumes):
        findings.extend(verify_volume(Path(volume), dict(expected.get(volume, {}))))
    return name_affected(config, findings, wait=wait), len(rows)


def name_affected(config: Config, findings: list[Finding], *, wait: bool | float = False) -> list:
    """Add to each finding the UIDs it touches: from the catalog, or from an unknown TAR's path."""
    tars = {(str(f.volume), f.relpath) for f in findings if f.kind not in UNKNOWN_TO_CATALOG}
    if not tars:
        return [affected(f, []) for f in findings]
    with open_catalog(config.catalog, wait=wait) as con:
        rows = {tar: tar_instances(con, *tar) for tar in sorted(tars)}
    return [affected(f, rows.get((str(f.volume), f.relpath), [])) for f in findings]


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
