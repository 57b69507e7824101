"""The retrieve-study flow: one study, as the catalog says it is now, to a folder or a node."""

from __future__ import annotations

from pathlib import Path

from prefect import flow, get_run_logger

from spokesync.catalog.errors import SpokesyncError
from spokesync.tasks.config import load_config
from spokesync.tasks.retrieve.study import retrieve_study_task


class RetrieveIncomplete(SpokesyncError):
    """Some objects of the study were not delivered; `result` lists them with their errors."""

    def __init__(self, result: dict) -> None:
        self.result = result
        failed = [f["sop_instance_uid"] for f in result["failed"]]
        super().__init__(
            f"{len(failed)} of {result['instances']} instances of study {result['study_uid']} "
            f"were not delivered: {', '.join(failed)}; run `spokesync verify` for nearline errors"
        )


@flow(name="retrieve-study", flow_run_name="retrieve-{study_uid}")
def retrieve_study_flow(
    study_uid: str, out: str | None = None, to: str | None = None, config_file: str | None = None
) -> dict:
    """Retrieve a study by current or old UID to a folder (`out`) or AET@HOST:PORT (`to`)."""
    logger = get_run_logger()
    config = load_config(Path(config_file) if config_file else None)
    result = retrieve_study_task(config, study_uid, out, to)
    if result["resolved"]:
        logger.info("resolved old study UID %s to %s", study_uid, result["study_uid"])
    logger.info(
        "study %s: %d of %d instances sent to %s, %d failed",
        result["study_uid"],
        result["sent"],
        result["instances"],
        result["destination"],
        len(result["failed"]),
    )
    if result["failed"]:
        raise RetrieveIncomplete(result)
    return result
