"""Run an iterator in a worker thread, a bounded number of items ahead of its consumer.

Retrieval corrects the next objects while the association sends the current one; the bound
keeps memory flat whatever the study's size. An error of the iterator itself is raised in the
consumer, in order; a consumer that stops early stops the worker.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")
DEPTH = 4  # objects a worker thread corrects ahead of the one the association sends
_POLL = 0.1  # seconds between the worker's looks at the stop flag while the queue is full


@dataclass(frozen=True)
class _End:
    error: BaseException | None


def ahead(items: Iterator[T], depth: int, name: str = "ahead") -> Iterator[T]:
    """Yield what `items` yields, produced by a worker thread at most `depth` items ahead."""
    ready: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    worker = threading.Thread(target=_produce, args=(items, ready, stop), name=name, daemon=True)
    worker.start()
    try:
        while not isinstance(item := ready.get(), _End):
            yield item
        if item.error is not None:
            raise item.error
    finally:
        stop.set()
        while worker.is_alive():  # unblock a worker waiting for room, then let it finish
            _drain(ready)
            worker.join(_POLL)


@contextmanager
def running_ahead(
    items: Iterator[T], depth: int = DEPTH, name: str = "ahead"
) -> Iterator[Iterator[T]]:
    """`ahead` as a context: the worker stops when the block ends, however it ends."""
    stream = ahead(items, depth, name)
    try:
        yield stream
    finally:
        stream.close()


def _produce(items: Iterator[T], ready: queue.Queue, stop: threading.Event) -> None:
    end = _End(None)
    try:
        for item in items:
            if not _put(ready, item, stop):
                return
    except BaseException as exc:  # handed to the consumer, which raises it in its own thread
        end = _End(exc)
    finally:
        close = getattr(items, "close", None)
        if stop.is_set() and close is not None:
            close()
    _put(ready, end, stop)


def _put(ready: queue.Queue, item: object, stop: threading.Event) -> bool:
    while not stop.is_set():
        try:
            ready.put(item, timeout=_POLL)
            return True
        except queue.Full:
            continue
    return False


def _drain(ready: queue.Queue) -> None:
    try:
        while True:
            ready.get_nowait()
    except queue.Empty:
        return
