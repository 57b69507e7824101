"""(c) of bench/serve.py: C-MOVE of a study from `spokesync serve` into a real Orthanc, beside
`retrieve_study(..., to=)` (what `spokesync retrieve --to` runs) into the same Orthanc."""

from __future__ import annotations

import time
from pathlib import Path

from pydicom.dataset import Dataset
from pynetdicom import AE
from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelMove as MOVE

from bench import retrieve as bench_retrieve
from tests.support.orthanc import Orthanc
from tests.support.serve_load import Study, Target

DESTINATION = "ORTHANC"


def c_move(port: int, hub: str, aet: str, study: Study) -> float:
    """Seconds of one C-MOVE of the study to DESTINATION, which must end in success."""
    ae = AE(ae_title=aet)
    ae.add_requested_context(MOVE)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 600
    assoc = ae.associate("127.0.0.1", port, ae_title=hub)
    assert assoc.is_established, "the hub refused the C-MOVE association"
    query = Dataset()
    query.QueryRetrieveLevel, query.StudyInstanceUID = "STUDY", study.uid
    start = time.perf_counter()
    try:
        answers = list(assoc.send_c_move(query, DESTINATION, MOVE))
    finally:
        assoc.release()
    seconds = time.perf_counter() - start
    final = answers[-1][0]  # 0xB000 had a sub-operation failed; held() counts what arrived
    assert final.Status == 0x0000, f"C-MOVE ended with status {hex(final.Status)}"
    return seconds


def held(orthanc: Orthanc, study: Study) -> None:
    """Orthanc holds every object of the study; then it is emptied for the next repetition."""
    count = len(orthanc.rest("GET", "/instances"))
    assert count == study.instances, f"Orthanc holds {count} of {study.instances} objects"
    orthanc.reset()


def served_at(target: Target, port: int) -> Target:
    """The target with the port the hub serves DIMSE on."""
    return Target(port, target.hub_aet, target.url, target.auth, target.studies, target.stored)


def move_figures(work: Path, config_file: Path, target: Target, runs: int) -> dict:
    """Per repetition: C-MOVE seconds and `retrieve --to` seconds of the biggest study."""
    from bench.serve import HUB_AET, VIEWERS, c_get, configure, load_1min, serving

    study = target.studies[0]
    orthanc = Orthanc(work / "orthanc").start()
    rows = []
    try:
        port, web_port = bench_retrieve.free_port(), bench_retrieve.free_port()
        destinations = {DESTINATION: {"host": "127.0.0.1", "port": orthanc.dicom_port}}
        configure(config_file, port, web_port, destinations=destinations)
        node = f"{DESTINATION}@127.0.0.1:{orthanc.dicom_port}"
        with serving(config_file, web_port, work / "serve-move.log", 4):
            c_get(served_at(target, port), study)  # untimed: the server's first request
            for _ in range(runs):
                moved = c_move(port, HUB_AET, VIEWERS[0], study)
                held(orthanc, study)
                sent = bench_retrieve.run_child("cstore", work, node, study.uid)
                held(orthanc, study)
                size = sent["bytes"]
                rows.append({"move_seconds": moved, "retrieve_to_seconds": sent["seconds"],
                             "bytes": size, "instances": study.instances,
                             "load_1min": load_1min()})  # fmt: skip
    finally:
        orthanc.stop()
    return {"move": rows}
