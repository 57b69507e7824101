"""What is wrong with a spokesync.toml, said in one line: the key's dotted path, what was given,
what is expected, and for a typo the closest known name; and the checks the models cannot make
(spoke ids, volume names)."""

from __future__ import annotations

import re
from difflib import get_close_matches
from pathlib import Path
from typing import get_args, get_origin

from pydantic import BaseModel, ValidationError

from spokesync.catalog.errors import ConfigInvalid

# A spoke id names folders (work/<run id>) and run ids, and is typed in shell commands.
SPOKE_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
TOML_TYPES = ((bool, "a boolean"), (int, "an integer"), (float, "a number"), (str, "a string"),
              (list, "an array"), (dict, "a table"))  # fmt: skip
SHOULD_BE = "Input should be "


def unknown_spoke(file: Path | str | None, spoke_id: str, known: list[str]) -> ConfigInvalid:
    """`unknown spoke 'nroth'; did you mean 'north'?`, or the known spokes when none is close."""
    close = get_close_matches(spoke_id, known, n=1)
    hint = (
        f"did you mean {close[0]!r}?"
        if close
        else f"known: {', '.join(sorted(known)) or 'none yet'}"
    )
    return ConfigInvalid(
        f"unknown spoke {spoke_id!r}; {hint} ({file}; `spokesync spoke list` shows them, "
        "`spokesync spoke add` adds one)"
    )


def check_spoke_id(file: Path | str, spoke_id: str) -> None:
    """Refuse a spoke id that could escape the work folder or need quoting in a shell."""
    if not SPOKE_ID.fullmatch(spoke_id):
        raise ConfigInvalid(
            f"{file}: spoke id {spoke_id!r} is not allowed; use 1 to 32 of a-z, 0-9, '_' and '-', "
            "starting with a letter or digit (it names the run's folders and ids)"
        )


def problems(
    exc: ValidationError, model: type[BaseModel], *, prefix: tuple = (), tagged: bool = False
) -> str:
    """Pydantic's errors as one line. `tagged`: the first element of each error's location is a
    discriminated union's tag (the spoke's source), not a key of the file."""
    said = []
    for error in exc.errors(include_url=False):
        loc = tuple(error["loc"][1:] if tagged and error["loc"] else error["loc"])
        said.append(_problem(error, model, loc, prefix))
    return "; ".join(dict.fromkeys(said))


def _problem(error: dict, model: type[BaseModel], loc: tuple, prefix: tuple) -> str:
    dotted = ".".join(str(part) for part in (*prefix, *loc))
    if error["type"] == "extra_forbidden":
        top = not prefix and len(loc) == 1
        kind = "section" if top and isinstance(error["input"], dict) else "key"
        known = known_keys(model, loc[:-1])
        close = get_close_matches(str(loc[-1]), known, n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"known: {', '.join(known) or 'none'}"
        return f"unknown {kind} '{dotted}'; {hint}"
    if error["type"] == "missing":
        return f"missing key '{dotted}'; compare with the file `spokesync init` writes"
    message = error["msg"]
    expected = message[len(SHOULD_BE) :] if message.startswith(SHOULD_BE) else message
    return f"wrong value for '{dotted}': given {describe(error['input'])}, expected {expected}"


def known_keys(model: type[BaseModel], path: tuple) -> list[str]:
    """The keys the file may hold at `path` under `model` (nested sections followed by name)."""
    steps = list(path)
    while steps:
        field = model.model_fields.get(str(steps.pop(0)))
        annotation = field.annotation if field else None
        if get_origin(annotation) is dict and steps:  # a table of named tables: skip the name
            annotation, _ = get_args(annotation)[1], steps.pop(0)
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        model = annotation
    return list(model.model_fields)


def describe(value: object) -> str:
    """A given value as the reader wrote it: its TOML type and a short repr."""
    kind = next((name for t, name in TOML_TYPES if isinstance(value, t)), type(value).__name__)
    shown = repr(value)
    return f"{kind} {shown[:57] + '...' if len(shown) > 60 else shown}"


def named_volumes(file: Path, entries: list) -> dict[str, str]:
    """`volumes = ["nearline/vol01"]` or `[[nearline.volumes]] name=…, path=…`, as {name: path}."""
    named: dict[str, str] = {}
    for entry in entries:
        if isinstance(entry, dict) and set(entry) <= {"name", "path"} and "path" in entry:
            name, path = entry.get("name") or Path(entry["path"]).name, entry["path"]
        elif isinstance(entry, str):
            name, path = Path(entry).name, entry
        else:
            raise ConfigInvalid(f"{file}, nearline.volumes: {entry!r} is neither a path nor "
                                "a table with `path` (and `name`)")  # fmt: skip
        if name in named:
            raise ConfigInvalid(
                f"{file}, nearline.volumes: two volumes are named {name!r}; give each a "
                "distinct `name` (the catalog finds volumes by name)"
            )
        named[name] = path
    return named
