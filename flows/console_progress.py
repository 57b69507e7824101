"""Progress bars for long commands: count, rate and time left, on a terminal only (a pipe or a
log file gets the result lines, not a redrawn bar)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    TaskID,
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
        unit = task.fields.get("unit", self.unit)
        return Text("" if speed is None else f"{speed:.1f} {unit}/s")


class CountColumn(ProgressColumn):
    """`12/150 files` once the total is known, `12 studies` before, nothing for a spinner."""

    def render(self, task) -> Text:
        done, unit = int(task.completed), task.fields.get("unit", "")
        if task.total is None:
            return Text(f"{done} {unit}" if done else "")
        return Text(f"{done}/{int(task.total)} {unit}")


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


@contextmanager
def phased(console: Console, units: Mapping[str, str]) -> Iterator[Callable[..., None]]:
    """Yield `update(phase, advanced, total)` for work done in phases: one line for the phase
    under way, a spinner until its total is known, then done/total, the rate in `units[phase]`
    and the time left. A new phase replaces the line of the one before."""
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), CountColumn(),
               RateColumn(""), TimeRemainingColumn())  # fmt: skip
    with Progress(*columns, console=console, transient=True,
                  disable=not console.is_terminal) as progress:  # fmt: skip
        bars: dict[str, TaskID] = {}

        def update(phase: str, advanced: int, total: int | None) -> None:
            if phase not in bars:
                for bar in bars.values():
                    progress.update(bar, visible=False)
                bars[phase] = progress.add_task(phase, total=total, unit=units.get(phase, ""))
            progress.update(bars[phase], advance=advanced, total=total)

        yield update
