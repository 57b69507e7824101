"""The files on a nearline volume: published TARs, partial ones, and those moved aside.

Listings are sorted, so a scan, a verify and a rebuild see the files in the same order.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

from spokesync.tasks.nearline.tars import PARTIAL_MARK, SET_ASIDE


def list_tars(volume: Path) -> Iterator[str]:
    """Yield the relpath of every published `*.tar` under a volume, in a stable order."""
    yield from _walk(volume, lambda name: name.endswith(".tar"))


def list_partials(volume: Path) -> Iterator[str]:
    """Yield relpaths of temporary TARs a crash or an aborted stage left behind."""
    yield from _walk(volume, lambda name: PARTIAL_MARK in name)


def list_set_aside(volume: Path) -> Iterator[str]:
    """Yield relpaths of the files the hub moved aside under `<volume>/orphans/`."""
    aside = Path(volume) / SET_ASIDE
    for rel in _walk(aside, lambda name: True, skip_aside=False):
        yield f"{SET_ASIDE}/{rel}"


def _walk(volume: Path, wanted: Callable[[str], bool], *, skip_aside=True) -> Iterator[str]:
    """Walk a volume in sorted order, yielding POSIX relpaths of the files `wanted` accepts;
    the folder of files moved aside is not part of the archive tree."""
    volume = Path(volume)
    for root, dirs, files in os.walk(volume):
        dirs.sort()
        if skip_aside and Path(root) == volume and SET_ASIDE in dirs:
            dirs.remove(SET_ASIDE)  # os.walk's own list: the folder is skipped, not touched
        for name in sorted(files):
            if wanted(name):
                yield (Path(root) / name).relative_to(volume).as_posix()
