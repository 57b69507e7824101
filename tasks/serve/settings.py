"""The `[serve]` section of spokesync.toml: where the hub's Query/Retrieve SCP listens, who may
call it, and the C-MOVE destinations it knows by AE title."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from spokesync.catalog.errors import ConfigInvalid

_AET = re.compile(r"[\x20-\x5b\x5d-\x7e]{1,16}")  # 16 printable characters, no backslash


class _Section(BaseModel):
    """As tasks.config.Section: unknown keys and wrong types are refused."""

    model_config = ConfigDict(extra="forbid", strict=True)


class Destination(_Section):
    """`[serve.destinations.<AET>]`: where C-MOVE sends objects for that AE title."""

    host: str = Field(min_length=1)
    port: int = Field(ge=1, le=65535)


class DicomWeb(_Section):
    """`[serve.dicomweb]`: read-only QIDO-RS and WADO-RS beside the SCP, behind HTTP basic
    (`username_env` + `password_env`, or a Prefect Secret `secret_block`) or a bearer token
    (`token_env`); the values are read from the environment when the server starts."""

    port: int = Field(8080, ge=1, le=65535)
    bind: str = "127.0.0.1"
    username_env: str | None = None
    password_env: str | None = None
    secret_block: str | None = None
    token_env: str | None = None


class Serve(_Section):
    """`[serve]`: the SCP's own AE title and address; callers beyond the spokes and destinations."""

    ae_title: str = Field("SPOKESYNC", min_length=1, max_length=16)
    port: int = Field(11112, ge=1, le=65535)
    bind: str = "127.0.0.1"  # loopback unless the hub is meant to be reached from elsewhere
    calling_aets: list[str] = []  # viewers and other callers that are neither spoke nor destination
    max_matches: int = Field(10_000, ge=1)  # a C-FIND matching more is refused (narrow it)
    destinations: dict[str, Destination] = {}
    dicomweb: DicomWeb | None = None  # no DICOMweb unless configured


def check_serve(file: Path, serve: Serve) -> None:
    """Refuse an AE title DICOM cannot carry, naming where it is written."""
    named = [("serve.ae_title", serve.ae_title)]
    named += [(f"serve.calling_aets[{i}]", aet) for i, aet in enumerate(serve.calling_aets)]
    named += [(f"serve.destinations.{aet}", aet) for aet in serve.destinations]
    for where, aet in named:
        if not _AET.fullmatch(aet) or aet.strip() != aet:
            raise ConfigInvalid(
                f"{file}, {where}: AE title {aet!r} must be 1 to 16 printable characters, "
                "without a backslash or leading and trailing spaces"
            )
