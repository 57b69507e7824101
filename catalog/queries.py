"""Named SQL blocks from catalog/sql/*.sql (`-- name: x` then a one-line comment), loaded once."""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

_BLOCK = re.compile(r"^-- name: ([a-z0-9_]+)\s*$", re.MULTILINE)
_MIGRATION = re.compile(r"^\d{4}_")


@cache
def _all_blocks() -> dict[str, str]:
    blocks: dict[str, str] = {}
    for entry in sorted(resources.files("spokesync.catalog.sql").iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".sql") or _MIGRATION.match(entry.name):
            continue
        parts = _BLOCK.split(entry.read_text("utf-8"))
        for name, body in zip(parts[1::2], parts[2::2], strict=True):
            if name in blocks:
                raise ValueError(f"SQL block {name!r} is defined twice (in {entry.name})")
            lines = body.strip().splitlines()
            while lines and lines[0].startswith("--"):  # the block's one-line description
                lines.pop(0)
            blocks[name] = "\n".join(lines).strip().rstrip(";")
    return blocks


def sql(name: str) -> str:
    """The text of the named block; a KeyError names the block that does not exist."""
    try:
        return _all_blocks()[name]
    except KeyError:
        raise KeyError(f"no SQL block named {name!r} in catalog/sql") from None


_PARAM = re.compile(r"\$([a-z_][a-z0-9_]*)")


def run(con, name: str, params: dict | None = None):
    """Execute the named block, binding only the parameters it uses (DuckDB refuses extras)."""
    text = sql(name)
    used = set(_PARAM.findall(text))
    return con.execute(text, {k: v for k, v in (params or {}).items() if k in used})


def run_script(con, name: str, params: dict | None = None) -> None:
    """Execute a block of several `;`-separated statements in order."""
    for statement in (part.strip() for part in sql(name).split(";\n")):
        if statement:
            used = set(_PARAM.findall(statement))
            con.execute(statement, {k: v for k, v in (params or {}).items() if k in used})


def dicts(con, name: str, params: dict | None = None) -> list[dict]:
    """The named block's rows as dicts keyed by column name (for small results only)."""
    cursor = run(con, name, params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
