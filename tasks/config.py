"""spokesync.toml: where the catalog, nearline and reports live, the spokes and the policies.

Secrets never live here: credentials come from the environment or a Prefect Secret block.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

import tomli_w
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from spokesync.catalog.errors import ConfigInvalid
from spokesync.tasks.config_errors import check_spoke_id, named_volumes, problems, unknown_spoke
from spokesync.tasks.serve.settings import Serve, check_serve

CONFIG_ENV = "SPOKESYNC_CONFIG"
CONFIG_NAME = "spokesync.toml"


class Section(BaseModel):
    """A table of spokesync.toml: unknown keys and values of the wrong type are refused (a typo
    must not silently leave a default in force)."""

    model_config = ConfigDict(extra="forbid", strict=True)


class DropSpoke(Section):
    """A spoke that writes drop folders (DESIGN §2)."""

    source: Literal["drop"] = "drop"
    drop: Path | None = Field(None, strict=False)  # resolved against the file's folder
    # Whose patient IDs objects without an Issuer of Patient ID carry (DESIGN §2): by default
    # the spoke's own, so the same MRN at two hospitals is two patients; spokes that share
    # one patient index name the same domain.
    patient_id_domain: str | None = Field(None, min_length=1, max_length=64)


class PacsSpoke(Section):
    """What every PACS source shares: how long to wait, and how to narrow a night's query."""

    drop: None = None  # a PACS spoke's drop is pulled into the run's work folder
    patient_id_domain: str | None = Field(None, min_length=1, max_length=64)  # as DropSpoke
    timeout_seconds: float = Field(30, gt=0)
    # QIDO-RS and C-FIND know no "updated since": a date attribute the PACS keeps current
    # (e.g. StudyDate for a recent window) narrows the study query to [last run - overlap, ...).
    since_attribute: str | None = None
    since_overlap_days: int = Field(1, ge=0)


class DicomwebSpoke(PacsSpoke):
    """A PACS that speaks DICOMweb: QIDO-RS for the manifest, WADO-RS for new objects."""

    source: Literal["dicomweb"]
    url: str = Field(pattern=r"^https?://")
    username_env: str | None = None  # names of environment variables, never the secrets
    password_env: str | None = None
    secret_block: str | None = None  # a Prefect Secret block holding {"username", "password"}
    page_size: int = Field(1000, ge=1)
    fetch_workers: int = Field(4, ge=1, le=32)


class DimseSpoke(PacsSpoke):
    """A PACS that speaks DIMSE only: C-FIND for the manifest, C-GET or C-MOVE for objects."""

    source: Literal["dimse"]
    host: str
    port: int = Field(ge=1, le=65535)
    called_aet: str = Field(min_length=1, max_length=16)
    calling_aet: str = Field("SPOKESYNC", min_length=1, max_length=16)
    retrieve: Literal["get", "move"] = "get"
    storage_port: int | None = Field(None, ge=1, le=65535)  # the hub's own SCP, for C-MOVE
    storage_bind: str = "0.0.0.0"  # where that SCP listens; the PACS must reach it there


SECRET_KEYS = {"password", "username", "user", "token", "secret"}
SpokeConfig = Annotated[DropSpoke | DicomwebSpoke | DimseSpoke, Field(discriminator="source")]
_SPOKE = TypeAdapter(SpokeConfig)
SPOKE_MODELS = {"drop": DropSpoke, "dicomweb": DicomwebSpoke, "dimse": DimseSpoke}


class Policies(Section):
    max_delete_fraction: float = Field(0.05, ge=0, le=1)
    max_delete_count: int = Field(10_000, ge=0)
    min_delete_guard: int = Field(10, ge=0)  # this many deletions never trip the fraction
    ownership: Literal["warn", "enforce"] = "warn"
    # A study re-identified whole (a UID fix, Orthanc's modify without Keep) waits for review;
    # "apply" moves it at once, with the values that changed with it (DESIGN §4).
    reidentified_study: Literal["review", "apply"] = "review"
    archive_batch_series: int = Field(50, ge=1)


class Schedule(Section):
    cron: str = "0 2 * * *"
    timezone: str = "UTC"


class PathSection(Section):
    path: str


class NamedVolume(Section):
    """One `[[nearline.volumes]]` table: a volume's path and the name the catalog knows it by."""

    path: str
    name: str | None = None


class Nearline(Section):
    """[nearline]: the volumes series TARs are written to, the first with room first."""

    volumes: list[str | NamedVolume] = Field(min_length=1)


class Document(Section):
    """spokesync.toml as written, before its paths are resolved; spokes are checked one by one."""

    catalog: PathSection
    nearline: Nearline
    reports: PathSection
    work: PathSection = PathSection(path="work")
    schedule: Schedule = Schedule()
    policies: Policies = Policies()
    serve: Serve = Serve()
    spokes: dict[str, dict] = {}


class Config(BaseModel):
    file: Path
    catalog: Path
    volumes: list[Path]
    volume_names: list[str] = []  # parallel to `volumes`; the catalog stores these names

    def named_volumes(self) -> dict[str, Path]:
        """{volume name: path} in configured order; a name defaults to the folder's last part."""
        names = self.volume_names or [Path(v).name for v in self.volumes]
        return dict(zip(names, self.volumes, strict=True))

    reports: Path
    work: Path
    schedule: Schedule = Schedule()
    policies: Policies = Policies()
    serve: Serve = Serve()  # `spokesync serve`: the hub's Query/Retrieve SCP
    spokes: dict[str, SpokeConfig] = {}

    def spoke(self, spoke_id: str) -> SpokeConfig:
        try:
            return self.spokes[spoke_id]
        except KeyError:
            raise unknown_spoke(self.file, spoke_id, list(self.spokes)) from None


def default_document() -> dict:
    return {
        "catalog": {"path": "catalog.duckdb"},
        "nearline": {"volumes": ["nearline/vol01"]},
        "reports": {"path": "reports"},
        "work": {"path": "work"},
        "schedule": Schedule().model_dump(),
        "policies": Policies().model_dump(),
        "spokes": {},
    }


def config_path(explicit: Path | None = None) -> Path:
    """--config, then $SPOKESYNC_CONFIG, then ./spokesync.toml."""
    if explicit:
        return Path(explicit)
    return Path(os.environ.get(CONFIG_ENV) or CONFIG_NAME)


def read_document(file: Path) -> dict:
    try:
        return tomllib.loads(file.read_text("utf-8"))
    except FileNotFoundError:
        raise ConfigInvalid(
            f"no configuration at {file}; create one with "
            "`spokesync init --data-dir DIR`, then pass --config or set "
            f"{CONFIG_ENV}"
        ) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigInvalid(f"{file} is not valid TOML: {exc}") from None


def write_document(file: Path, document: dict) -> None:
    """Write atomically: a temporary file renamed over the old one."""
    file.parent.mkdir(parents=True, exist_ok=True)
    temp = file.with_name(file.name + ".tmp")
    temp.write_text(tomli_w.dumps(document), "utf-8")
    os.replace(temp, file)


def load_config(explicit: Path | None = None) -> Config:
    """Read and validate the configuration; relative paths are relative to its folder."""
    file = config_path(explicit).absolute()
    try:
        document = Document.model_validate(read_document(file))
    except ValidationError as exc:
        raise ConfigInvalid(f"{file}: {problems(exc, Document)}") from None
    base = file.parent
    entries = [v if isinstance(v, str) else v.model_dump() for v in document.nearline.volumes]
    volumes = named_volumes(file, entries)
    check_serve(file, document.serve)
    return Config(
        file=file,
        catalog=_resolve(base, document.catalog.path),
        volumes=[_resolve(base, path) for path in volumes.values()],
        volume_names=list(volumes),
        reports=_resolve(base, document.reports.path),
        work=_resolve(base, document.work.path),
        schedule=document.schedule,
        policies=document.policies,
        serve=document.serve,
        spokes={name: _spoke(file, name, body) for name, body in document.spokes.items()},
    )


def _spoke(file: Path, spoke_id: str, body: dict) -> SpokeConfig:
    body = {"source": "drop", **body}
    if body["source"] == "drop" and isinstance(body.get("drop"), str):
        body["drop"] = _resolve(file.parent, body["drop"])
    return _validated_spoke(file, spoke_id, body)


def _validated_spoke(file: Path, spoke_id: str, body: dict) -> SpokeConfig:
    check_spoke_id(file, spoke_id)
    secrets_here = sorted(SECRET_KEYS & set(body))
    if _has_userinfo(body.get("url")):  # http://user:password@host would be echoed everywhere
        secrets_here.append("a user name or password in the url")
    if secrets_here:
        raise ConfigInvalid(
            f"{file}, spokes.{spoke_id}: {', '.join(secrets_here)} must not be written in the "
            "configuration; name the environment variables that hold them (username_env, "
            "password_env) or a Prefect Secret block (secret_block)"
        )
    try:
        return _SPOKE.validate_python(body)
    except ValidationError as exc:
        model = SPOKE_MODELS.get(body.get("source"), DropSpoke)
        raise ConfigInvalid(
            f"{file}: {problems(exc, model, prefix=('spokes', spoke_id), tagged=True)}"
        ) from None


def _has_userinfo(url: object) -> bool:
    """True for a URL whose authority holds `user[:password]@` (never the value itself)."""
    return isinstance(url, str) and "@" in urlsplit(url).netloc


def _resolve(base: Path, value: str | None) -> Path | None:
    if value is None:
        return None
    path = Path(value).expanduser()
    return path if path.is_absolute() else base / path


def init_config(data_dir: Path) -> Path:
    """Write DATA_DIR/spokesync.toml with the defaults, keeping an existing file as it is."""
    file = Path(data_dir) / CONFIG_NAME
    if not file.exists():
        write_document(file, default_document())
    return file


def add_spoke(file: Path, spoke_id: str, drop: Path) -> None:
    """Register (or re-point) a spoke whose source is a drop folder."""
    set_spoke(file, spoke_id, {"source": "drop", "drop": str(Path(drop).absolute())})


def set_spoke(file: Path, spoke_id: str, body: dict) -> None:
    """Register (or replace) a spoke of any source; the body is validated before it is written."""
    body = {k: v for k, v in body.items() if v is not None}
    _validated_spoke(file, spoke_id, body)
    document = read_document(file)
    document.setdefault("spokes", {})[spoke_id] = body
    write_document(file, document)


def remove_spoke(file: Path, spoke_id: str) -> None:
    document = read_document(file)
    document.get("spokes", {}).pop(spoke_id, None)
    write_document(file, document)
