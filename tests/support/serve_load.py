"""Load on a running `spokesync serve`: DIMSE clients (C-FIND at study level, then C-GET of the
study) and DICOMweb clients (QIDO-RS, then WADO-RS of the study), each in its own thread and
looping until a deadline, while the server's resident memory is sampled from /proc.

Shared by tests/integration/test_serve_load.py and bench/serve.py. Every client counts its
requests, the bytes it received and every error or failed status, and keeps the first study it
retrieved (Part 10 files) so the caller can compare it with `spokesync retrieve --out`.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from itertools import cycle
from pathlib import Path

import requests
from pydicom.dataset import Dataset
from pynetdicom import AE, build_context, build_role, evt
from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelFind as FIND
from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelGet as GET

from spokesync.tasks.spokes.multipart import split_related

WADO_ACCEPT = 'multipart/related; type="application/dicom"'


@dataclass(frozen=True)
class Study:
    """A study the clients ask for: by which Patient ID they find it, how many objects it has."""

    uid: str
    patient_id: str
    instances: int


@dataclass(frozen=True)
class Target:
    """Where the server listens and what it holds (SOP class and transfer syntax pairs)."""

    port: int
    hub_aet: str
    url: str
    auth: tuple[str, str]
    studies: list[Study]
    stored: list[tuple[str, str]]


@dataclass
class Tally:
    """What one client did: requests answered, bytes received, errors, the study it kept."""

    name: str
    requests: int = 0
    retrieved: int = 0
    received_bytes: int = 0
    errors: list[str] = field(default_factory=list)  # the first twenty of `failures`
    failures: int = 0
    first_done: float | None = None  # time.monotonic() when its first study arrived whole
    kept: tuple[str, Path] | None = None  # (study UID, folder of its Part 10 files)

    def fail(self, what: str) -> None:
        self.failures += 1
        if len(self.errors) < 20:  # enough to say what went wrong, bounded under load
            self.errors.append(what)


def _keep(tally: Tally, study: Study, objects: list[bytes], folder: Path) -> None:
    """Write the client's first retrieved study to `folder`, one file per object."""
    if tally.kept is not None:
        return
    tally.first_done = time.monotonic()
    folder.mkdir(parents=True, exist_ok=True)
    for number, data in enumerate(objects):
        (folder / f"{number:05d}.dcm").write_bytes(data)
    tally.kept = (study.uid, folder)


def _dimse_ae(aet: str, target: Target) -> AE:
    ae = AE(ae_title=aet)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 120
    # each object in its stored transfer syntax only, so it arrives as `retrieve --out` writes it
    ae.requested_contexts = [build_context(c, [syntax]) for c, syntax in target.stored]
    ae.add_requested_context(FIND)
    ae.add_requested_context(GET)
    return ae


def _dimse_round(ae: AE, target: Target, study: Study, tally: Tally) -> list[bytes]:
    """One association: C-FIND the patient's studies, C-GET this one; the objects received."""
    objects: list[bytes] = []

    def store(event) -> int:
        objects.append(event.encoded_dataset())
        return 0x0000

    roles = [build_role(sop_class, scp_role=True) for sop_class in {c for c, _ in target.stored}]
    assoc = ae.associate("127.0.0.1", target.port, ae_title=target.hub_aet, ext_neg=roles,
                         evt_handlers=[(evt.EVT_C_STORE, store)])  # fmt: skip
    if not assoc.is_established:
        tally.fail(f"association refused or aborted for {study.uid}")
        return []
    try:
        _find(assoc, study, tally)
        _get(assoc, study, tally, objects)
    finally:
        assoc.release()
    return objects


def _find(assoc, study: Study, tally: Tally) -> None:
    query = Dataset()
    query.QueryRetrieveLevel, query.PatientID, query.StudyInstanceUID = (
        "STUDY",
        study.patient_id,
        "",
    )
    answers = list(assoc.send_c_find(query, FIND))
    tally.requests += 1
    final = answers[-1][0] if answers else None
    found = {ds.StudyInstanceUID for status, ds in answers if ds is not None and status.Status}
    if final is None or final.Status != 0x0000 or study.uid not in found:
        tally.fail(f"C-FIND for {study.uid}: final status {final and hex(final.Status)}")


def _get(assoc, study: Study, tally: Tally, objects: list[bytes]) -> None:
    query = Dataset()
    query.QueryRetrieveLevel, query.StudyInstanceUID = "STUDY", study.uid
    answers = list(assoc.send_c_get(query, GET))
    tally.requests += 1
    final = answers[-1][0] if answers else None
    if final is None or final.Status != 0x0000 or len(objects) != study.instances:
        status = final and hex(final.Status)
        tally.fail(f"C-GET {study.uid}: status {status}, {len(objects)}/{study.instances} objects")
        return
    tally.retrieved += 1
    tally.received_bytes += sum(map(len, objects))


def dimse_client(target: Target, aet: str, first: int, until: float, tally: Tally, keep: Path):
    """Loop over the studies (starting at `first`) until `until` (time.monotonic)."""
    ae = _dimse_ae(aet, target)
    studies = cycle(target.studies[first:] + target.studies[:first])
    while time.monotonic() < until:
        study = next(studies)
        try:
            objects = _dimse_round(ae, target, study, tally)
        except Exception as exc:  # a client error is a finding, not a crash of the load
            tally.fail(f"{study.uid}: {type(exc).__name__}: {exc}")
            continue
        if len(objects) == study.instances:
            _keep(tally, study, objects, keep)


def _web_round(session: requests.Session, target: Target, study: Study, tally: Tally):
    """QIDO-RS the patient's studies, then WADO-RS this one; the objects received."""
    found = session.get(f"{target.url}/studies", params={"PatientID": study.patient_id},
                        timeout=120)  # fmt: skip
    tally.requests += 1
    if found.status_code != 200 or study.uid not in {a["0020000D"]["Value"][0]
                                                     for a in found.json()}:  # fmt: skip
        tally.fail(f"QIDO-RS for {study.uid}: HTTP {found.status_code}")
        return []
    answer = session.get(f"{target.url}/studies/{study.uid}", headers={"Accept": WADO_ACCEPT},
                         timeout=120)  # fmt: skip
    tally.requests += 1
    parts = []
    if answer.status_code == 200:
        parts = split_related(answer.content, answer.headers["Content-Type"])
    if len(parts) != study.instances:
        tally.fail(f"WADO-RS {study.uid}: HTTP {answer.status_code}, {len(parts)} parts")
        return []
    tally.retrieved += 1
    tally.received_bytes += len(answer.content)
    return parts


def web_client(target: Target, first: int, until: float, tally: Tally, keep: Path):
    """Loop over the studies (starting at `first`) until `until` (time.monotonic)."""
    session = requests.Session()
    session.auth = target.auth
    studies = cycle(target.studies[first:] + target.studies[:first])
    while time.monotonic() < until:
        study = next(studies)
        try:
            parts = _web_round(session, target, study, tally)
        except Exception as exc:
            tally.fail(f"{study.uid}: {type(exc).__name__}: {exc}")
            continue
        if parts:
            _keep(tally, study, parts, keep)


def write_during_load(catalog: Path, after: float) -> float:
    """Seconds a writer (as a run opens the catalog) waits for the file, `after` seconds into
    a load: the server's readers must leave it gaps (DuckDB: one writing process, or readers)."""
    from spokesync.catalog import open_catalog

    time.sleep(after)
    start = time.monotonic()
    with open_catalog(catalog):
        return time.monotonic() - start


def rss_kib(pid: int) -> int:
    """The process's resident set size (VmRSS) in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"/proc/{pid}/status has no VmRSS line (has the process exited?)")


def sample_rss(pid: int, until: float, samples: list[tuple[float, int]], every: float = 0.25):
    """Append (seconds since start, VmRSS KiB) to `samples` until `until`."""
    start = time.monotonic()
    while time.monotonic() < until:
        samples.append((time.monotonic() - start, rss_kib(pid)))
        time.sleep(every)


@dataclass
class Load:
    """The result of one load: every client's tally, the RSS samples, the wall time."""

    tallies: list[Tally]
    rss: list[tuple[float, int]]
    seconds: float
    started: float  # time.monotonic() at the start
    settled_kib: int = 0  # the server's VmRSS two seconds after the last client stopped

    def warmed_up(self) -> float:
        """Seconds from the start until every client had a whole study (caches, pools, arenas
        and the catalog's buffers have then been through one round of every request kind), or
        half the run on a machine so busy that the first rounds take longer."""
        done = [t.first_done for t in self.tallies]
        first_rounds = max(done) - self.started if None not in done else self.seconds
        return min(first_rounds, self.seconds / 2)


def run_load(target: Target, pid: int, clients: int, seconds: float, folder: Path,
             dimse_aets: list[str]) -> Load:  # fmt: skip
    """`clients` clients, alternately DIMSE and DICOMweb, for `seconds`; RSS of `pid` sampled."""
    until = time.monotonic() + seconds
    tallies, threads, rss = [], [], []
    for number in range(clients):
        keep = folder / f"client-{number}"
        first = number % len(target.studies)
        if number % 2 == 0:
            tally = Tally(f"dimse-{number}")
            aet = dimse_aets[(number // 2) % len(dimse_aets)]
            args = (dimse_client, (target, aet, first, until, tally, keep))
        else:
            tally = Tally(f"web-{number}")
            args = (web_client, (target, first, until, tally, keep))
        tallies.append(tally)
        threads.append(threading.Thread(target=args[0], args=args[1], name=tally.name))
    threads.append(threading.Thread(target=sample_rss, args=(pid, until, rss), name="rss"))
    start = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    load = Load(tallies, rss, time.monotonic() - start, start)
    time.sleep(2)
    load.settled_kib = rss_kib(pid)
    return load
