"""A PACS over DICOMweb: QIDO-RS lists studies and instances, WADO-RS fetches new objects.

Listing goes study by study (one paged instance query per study), so each study is listed
whole even when the spoke changes during the night; objects are fetched as stored
(`transfer-syntax=*`) and written byte for byte as the spoke sent them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from datetime import date
from pathlib import Path
from typing import TypeVar

import requests
from dicomweb_client.api import DICOMwebClient
from pydicom.dataset import Dataset

from spokesync.catalog.errors import SpokeUnavailable
from spokesync.tasks.spokes.dicom_json import listing_of_json
from spokesync.tasks.spokes.source import (
    TRACKED_KEYWORDS,
    Listing,
    ObjectRef,
    StudyRef,
    as_int,
    instances_per,
    since_value,
)
from spokesync.tasks.spokes.wado import CHUNK, PartWriter, WadoRequest, wado_requests, windowed

T = TypeVar("T")
WADO_ACCEPT = 'multipart/related; type="application/dicom"; transfer-syntax=*'


class DicomwebSource:
    """QIDO-RS and WADO-RS against one base URL (e.g. Orthanc's http://host:8042/dicom-web)."""

    def __init__(
        self,
        url: str,
        *,
        auth: tuple[str, str] | None = None,
        timeout: float = 30,
        page_size: int = 1000,
        workers: int = 4,
        since_attribute: str | None = None,
    ) -> None:
        self.where = url.rstrip("/")
        self.auth, self.timeout, self.page_size, self.workers = auth, timeout, page_size, workers
        self.since_attribute = since_attribute
        self._local = threading.local()  # one HTTP session per fetching thread
        self._sessions: list[requests.Session] = []
        self._listed: dict[str, int] = {}  # series UID -> instances listed, for whole-series GETs
        self.client = DICOMwebClient(self.where, session=self._session(), timeout=timeout)
        # One quick retry of a blip inside the client; the pull task's retries back off longer.
        self.client.set_http_retry_params(
            retry=True, max_attempts=2, wait_exponential_multiplier=500
        )

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
            session.auth = self.auth
            self._sessions.append(session)
        return session

    def studies(self, since: date | None) -> Iterator[StudyRef]:
        filters = (
            dict([since_value(self.since_attribute, since)])
            if since and self.since_attribute
            else {}
        )
        for page in self._pages(
            "studies",
            lambda limit, offset: self.client.search_for_studies(
                fields=["NumberOfStudyRelatedInstances"],
                search_filters=filters,
                limit=limit,
                offset=offset,
            ),
        ):
            for item in page:
                ds = Dataset.from_json(item)
                yield StudyRef(
                    str(ds.StudyInstanceUID), as_int(ds.get("NumberOfStudyRelatedInstances"))
                )

    def instances(self, study: StudyRef) -> Listing:
        items: list[dict] = []
        for page in self._pages(
            f"instances of study {study.study_instance_uid}",
            lambda limit, offset: self.client.search_for_instances(
                study_instance_uid=study.study_instance_uid,
                fields=list(TRACKED_KEYWORDS),
                limit=limit,
                offset=offset,
            ),
        ):
            items.extend(page)
        listing = listing_of_json(items)
        self._listed.update(instances_per(listing, "series_instance_uid"))
        return listing

    def _pages(self, what: str, query: Callable[[int, int], list[dict]]) -> Iterator[list[dict]]:
        """limit/offset paging until a short page; any failure names the page and its cause."""
        offset = 0
        while True:
            page = self._call(f"QIDO-RS {what} (offset {offset})", query, self.page_size, offset)
            yield page
            if len(page) < self.page_size:
                return
            offset += len(page)

    def fetch(self, refs: Iterable[ObjectRef], objects: Path) -> Iterator[tuple[str, Path]]:
        requests_ = wado_requests(self.where, refs, self._listed)
        yield from windowed(lambda r: self._fetch_request(r, objects), requests_, self.workers)

    def _fetch_request(self, request: WadoRequest, objects: Path) -> list[tuple[str, Path]]:
        """One WADO-RS request, its answer streamed to disk part by part."""

        def stream() -> list[tuple[str, Path]]:
            with self._get(request.url) as response:
                chunks = response.iter_content(CHUNK)
                content_type = response.headers.get("Content-Type", "")
                return PartWriter(request, objects, self.where).stream(chunks, content_type)

        return self._call(f"WADO-RS {request.url}", stream)

    def _get(self, url: str) -> requests.Response:
        response = self._session().get(
            url, headers={"Accept": WADO_ACCEPT}, timeout=self.timeout, stream=True
        )
        if not response.ok:
            response.close()
        response.raise_for_status()
        return response

    def _call(self, what: str, call: Callable[..., T], *args: object) -> T:
        """Run one request; turn every way it can fail into SpokeUnavailable with its cause."""
        try:
            return call(*args)
        except requests.HTTPError as exc:
            raise SpokeUnavailable(
                http_failure(what, exc.response), retryable=_retryable(exc.response)
            ) from None
        except requests.Timeout:
            raise SpokeUnavailable(
                f"{what}: {self.where} did not answer within {self.timeout:g} s; the spoke may be "
                "overloaded. Nothing was changed; raise timeout_seconds or reconcile later"
            ) from None
        except requests.ConnectionError as exc:
            raise SpokeUnavailable(
                f"{what}: cannot reach {self.where} ({_reason(exc)}); check that the PACS is "
                "running and the url in spokesync.toml. Nothing was changed"
            ) from None
        except requests.RequestException as exc:  # the answer broke off while it was read
            raise SpokeUnavailable(
                f"{what}: the answer from {self.where} broke off ({type(exc).__name__}); the "
                "PACS may have restarted. Nothing was changed; reconcile again"
            ) from None

    def close(self) -> None:
        for session in self._sessions:
            session.close()


def http_failure(what: str, response: requests.Response | None) -> str:
    status = (
        f"HTTP {response.status_code} {response.reason}" if response is not None else "HTTP error"
    )
    if response is not None and response.status_code in (401, 403):
        advice = "check the spoke's credentials (username_env/password_env or secret_block)"
    else:
        advice = "check the url and the PACS's log"
    return f"{what}: the spoke answered {status}; {advice}. Nothing was changed"


def _retryable(response: requests.Response | None) -> bool:
    return response is None or response.status_code not in (400, 401, 403, 404)


def _reason(exc: requests.ConnectionError) -> str:
    text = str(exc.args[0] if exc.args else exc)
    return "connection refused" if "refused" in text.lower() else text.split(":")[-1].strip()
