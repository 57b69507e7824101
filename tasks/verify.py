"""Verify nearline: re-hash every stored member against the catalog, find orphans."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING

from catalog import open_catalog
from catalog.storage import stored_members
from tasks.nearline import MemberInfo
from tasks.nearline_verify import verify_volume

if TYPE_CHECKING:
    from flows.config import Config


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
    return findings, len(rows)
