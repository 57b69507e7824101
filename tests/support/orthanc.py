"""A real Orthanc (Debian's `orthanc` + `orthanc-dicomweb`) as a spoke PACS for the tests.

Started on free ports with its storage in a temp dir and authentication on, changed only
through its own REST API, and stopped by PID. Debian's Orthanc 1.10 cannot bind to one address
(HttpBindAddresses came later), so it is told to refuse every caller but loopback: HTTP remote
access off, DICOM open only to the hub's AE title from 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

PLUGIN = Path("/usr/share/orthanc/plugins/libOrthancDicomWeb.so")
USER, PASSWORD = "hub", "spoke-secret"
HUB_AET, ORTHANC_AET = "SPOKESYNC", "ORTHANC"


def _stop_with_parent() -> None:
    """Linux: Orthanc gets SIGTERM when the test process dies, even killed without cleanup."""
    import ctypes
    import signal

    ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Orthanc:
    """One running Orthanc: its ports, its REST session, and the process to stop."""

    folder: Path
    http_port: int = field(default_factory=free_port)
    dicom_port: int = field(default_factory=free_port)
    hub_storage_port: int = field(default_factory=free_port)  # where the hub takes C-MOVEs
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def dicomweb(self) -> str:
        return f"{self.url}/dicom-web"

    def start(self) -> Orthanc:
        binary = shutil.which("Orthanc")
        assert binary and PLUGIN.exists(), (
            "Orthanc is needed: apt-get install orthanc orthanc-dicomweb (.ci/run does)"
        )
        storage = self.folder / "storage"
        storage.mkdir(parents=True, exist_ok=True)
        config = self.folder / "orthanc.json"
        config.write_text(json.dumps(self._configuration(storage), indent=2))
        log = (self.folder / "orthanc.log").open("ab")
        self.process = subprocess.Popen(
            [binary, str(config)],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.folder,
            env=os.environ | {"TCP_NODELAY": "1"},  # DCMTK leaves Nagle on unless asked
            preexec_fn=_stop_with_parent,
        )
        self.session = requests.Session()
        self.session.auth = (USER, PASSWORD)
        self._wait_until_up()
        return self

    def _configuration(self, storage: Path) -> dict:
        hub = {"AET": HUB_AET, "Host": "127.0.0.1", "Port": self.hub_storage_port}
        hub |= {f"Allow{op}": True for op in ("Echo", "Find", "Get", "Move", "Store")}
        return {
            "Name": "spokesync-test-spoke",
            "StorageDirectory": str(storage),
            "IndexDirectory": str(storage),
            "HttpPort": self.http_port,
            "DicomPort": self.dicom_port,
            "DicomAet": ORTHANC_AET,
            # Orthanc answers QIDO-RS and C-FIND in its default encoding (Latin-1 unless set):
            # names outside it come back without their characters (README, Spokes that are PACS)
            "DefaultEncoding": "Utf8",
            "RemoteAccessAllowed": False,
            "AuthenticationEnabled": True,
            "RegisteredUsers": {USER: PASSWORD},
            "Plugins": [str(PLUGIN)],
            "DicomWeb": {"Enable": True, "Root": "/dicom-web/", "EnableWado": False},
            "DicomModalities": {"hub": hub},
            "DicomCheckModalityHost": True,
            "DicomAlwaysAllowEcho": False,
            "DicomAlwaysAllowStore": False,
            "DicomAlwaysAllowFind": False,
            "DicomAlwaysAllowGet": False,
            "DicomAlwaysAllowMove": False,
            "StorageAccessOnFind": "Always",
            "HttpServer": {"Threads": 8},
            "HttpTimeout": 60,
        }

    def _wait_until_up(self, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Orthanc exited at start; see {self.folder / 'orthanc.log'}")
            try:
                if self.session.get(f"{self.url}/system", timeout=2).ok:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"Orthanc did not answer within {seconds} s")

    def stop(self) -> None:
        """Stop by PID and wait for the process to exit before its folder is reused."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    # --- its REST API ---------------------------------------------------------------------

    def rest(self, method: str, path: str, **kwargs):
        response = self.session.request(method, f"{self.url}{path}", timeout=120, **kwargs)
        response.raise_for_status()
        return response.json() if response.content else None

    def upload(self, files) -> int:
        for path in files:
            self.rest("POST", "/instances", data=Path(path).read_bytes())
        return len(files)

    def reset(self) -> None:
        for patient in self.rest("GET", "/patients"):
            self.rest("DELETE", f"/patients/{patient}")

    def lookup(self, uid: str, level: str = "Study") -> str:
        """Orthanc's own ID of the resource with this DICOM UID."""
        found = [r for r in self.rest("POST", "/tools/lookup", data=uid) if r["Type"] == level]
        assert len(found) == 1, (uid, found)
        return found[0]["ID"]

    def series_of(self, study_uid: str) -> list[dict]:
        """The study's series (Orthanc's JSON), ordered by series number."""
        series = self.rest("GET", f"/studies/{self.lookup(study_uid)}/series")
        return sorted(series, key=lambda s: int(s["MainDicomTags"].get("SeriesNumber", 0)))

    def files(self, out: Path) -> dict[str, Path]:
        """Every instance Orthanc holds now, downloaded as stored: {SOP UID: file}."""
        out.mkdir(parents=True, exist_ok=True)
        held = {}
        for instance in self.rest("GET", "/instances", params={"expand": ""}):
            sop = instance["MainDicomTags"]["SOPInstanceUID"]
            data = self.session.get(f"{self.url}/instances/{instance['ID']}/file", timeout=60)
            data.raise_for_status()
            (out / f"{sop}.dcm").write_bytes(data.content)
            held[sop] = out / f"{sop}.dcm"
        return held


class Proxy:
    """An HTTP proxy in front of Orthanc that counts WADO-RS object requests (those accepting
    multipart/related), can stall every QIDO-RS page after the first (`delay`) and can cut the
    answer to the `break_wado`-th WADO-RS request off halfway. Started on 127.0.0.1 on a free
    port; only GET is forwarded; `stop()` shuts it down."""

    def __init__(self, target: str, delay: float = 0, break_wado: int | None = None) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        from urllib.parse import parse_qs, urlsplit

        proxy = self
        self.wado_requests = self.qido_requests = 0
        lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (the http.server API)
                url = urlsplit(self.path)
                wado = "multipart/related" in self.headers.get("Accept", "")
                with lock:
                    proxy.wado_requests += wado
                    proxy.qido_requests += not wado
                    cut = wado and proxy.wado_requests == break_wado
                if int(parse_qs(url.query).get("offset", ["0"])[0]) > 0:
                    time.sleep(delay)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                answer = requests.get(target + self.path, headers=headers, timeout=60)
                self.send_response(answer.status_code)
                for key in ("Content-Type", "WWW-Authenticate"):
                    if key in answer.headers:
                        self.send_header(key, answer.headers[key])
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content[: len(answer.content) // 2] if cut else
                                 answer.content)  # fmt: skip
                self.close_connection = self.close_connection or cut

            def log_message(self, *args):  # keep test output quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
