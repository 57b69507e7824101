"""Progress bars for long commands: count, rate and time left, on a terminal only (a pipe or a
log file gets the result lines, not a redrawn bar)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.text import Text


class RateColumn(ProgressColumn):
    """`12.5 objects/s` once rich has measured a rate."""

    def __init__(self, unit: str) -> None:
        super().__init__()
        self.unit = unit

    def render(self, task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("" if speed is None else f"{speed:.1f} {self.unit}/s")


@contextmanager
def counting(console: Console, what: str, unit: str) -> Iterator[Callable[[int, int], None]]:
    """Yield `update(done, total)`; the bar shows done/total, the rate and the time left."""
    columns = (TextColumn(what), BarColumn(), MofNCompleteColumn(), RateColumn(unit),
               TimeRemainingColumn())  # fmt: skip
    with Progress(*columns, console=console, transient=True,
                  disable=not console.is_terminal) as progress:  # fmt: skip
        bar = progress.add_task(what, total=None)

        def update(done: int, total: int) -> None:
            progress.update(bar, completed=done, total=total)

        yield update


@contextmanager
def checking_bytes(console: Console, what: str, unit: str) -> Iterator[Callable[..., None]]:
    """Yield `update(done, total, bytes done, bytes)`: `done/total unit`, bytes/s and time left
    (measured in bytes, so one big TAR does not stall the estimate)."""
    columns = (TextColumn(what), BarColumn(), TextColumn("{task.fields[count]}"),
               TransferSpeedColumn(), TimeRemainingColumn())  # fmt: skip
    with Progress(*columns, console=console, transient=True,
                  disable=not console.is_terminal) as progress:  # fmt: skip
        bar = progress.add_task(what, total=None, count="")

        def update(done: int, total: int, done_bytes: int, total_bytes: int) -> None:
            count = f"{done}/{total} {unit}"
            progress.update(bar, completed=done_bytes, total=total_bytes, count=count)

        yield update
