"""The `catalog-writer` limit: Prefect queues the steps that write the catalog across flow runs.

The catalog's own writer lock (catalog/lock.py) is what keeps writers apart; the Prefect global
concurrency limit shows the queue in the UI. `prefect deploy --all` creates it (a build step of
prefect.yaml, idempotent). A flow run asks the server once whether it exists and takes a slot
around each plan and commit only then: the CLI's temporary server has no limit, and a missing
limit costs no slot requests and no warning per step.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

from prefect import get_run_logger
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
from prefect.concurrency.sync import concurrency
from prefect.context import FlowRunContext
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

WRITER_LIMIT = "catalog-writer"


def ensure_writer_limit(limit: int = 1) -> dict[str, str]:
    """Create the `catalog-writer` limit unless the server has it (a step of `prefect deploy`:
    prefect.yaml's `build`); a limit an administrator changed is left as it is."""
    with get_client(sync_client=True) as client:
        try:
            client.read_global_concurrency_limit_by_name(WRITER_LIMIT)
            return {"writer_limit": "exists"}
        except ObjectNotFound:
            pass
        try:
            create = GlobalConcurrencyLimitCreate(name=WRITER_LIMIT, limit=limit)
            client.create_global_concurrency_limit(create)
        except ObjectAlreadyExists:  # another deploy created it meanwhile
            return {"writer_limit": "exists"}
    return {"writer_limit": "created"}


def writer_limit_exists() -> bool:
    """Whether this flow run's Prefect server has the limit: asked once per flow run (False
    outside one)."""
    context = FlowRunContext.get()
    return context is not None and context.flow_run is not None and _exists(context.flow_run.id)


@lru_cache(maxsize=64)
def _exists(flow_run_id) -> bool:
    with get_client(sync_client=True) as client:
        try:
            client.read_global_concurrency_limit_by_name(WRITER_LIMIT)
        except ObjectNotFound:
            get_run_logger().info(
                "no %r concurrency limit on this Prefect server: the catalog's writer lock "
                "alone queues writers (`prefect deploy --all` creates the limit)",
                WRITER_LIMIT,
            )
            return False
    return True


@contextmanager
def writer_slot() -> Iterator[None]:
    """Hold one `catalog-writer` slot while a step writes the catalog, if the limit exists."""
    if not writer_limit_exists():
        yield
        return
    with concurrency(WRITER_LIMIT, occupy=1):
        yield
