"""Named SQL blocks of bench/*.sql (`-- name: x` then a one-line comment), as in catalog/sql."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import duckdb

_BLOCK = re.compile(r"^-- name: ([a-z0-9_]+)\s*$", re.MULTILINE)
_PARAM = re.compile(r"\$([a-z_][a-z0-9_]*)")


@cache
def blocks(file: str) -> dict[str, str]:
    """Every named block of bench/<file>, its description lines removed."""
    parts = _BLOCK.split((Path(__file__).parent / file).read_text("utf-8"))
    found = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        lines = [line for line in body.strip().splitlines() if not line.startswith("-- ")]
        found[name] = "\n".join(lines).strip().rstrip(";")
    return found


def run(con: duckdb.DuckDBPyConnection, file: str, name: str, params: dict | None = None):
    """Execute one block, binding only the parameters it names."""
    text = blocks(file)[name]
    used = set(_PARAM.findall(text))
    return con.execute(text, {k: v for k, v in (params or {}).items() if k in used})
