"""Shared fixtures: sample spokes built once per session from real DICOM objects.

`make test` runs the suite on two processes (pytest-xdist, `--dist loadfile`): each worker is a
session of its own, with its own session fixtures, Prefect harness and PREFECT_HOME, and a
module's tests stay on one worker, so a module-scoped server starts once.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from spokesync.tasks.prefect_env import set_prefect_defaults


def _private_prefect_home() -> Path:
    """A PREFECT_HOME for this test process alone, removed when it exits: the temporary servers
    that `spokesync` subprocesses start keep their database there, so two workers (or two
    people's test runs) never share ~/.prefect's SQLite file."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    home = Path(tempfile.mkdtemp(prefix=f"spokesync-prefect-{worker}-"))
    atexit.register(shutil.rmtree, home, ignore_errors=True)
    return home


os.environ["PREFECT_HOME"] = str(_private_prefect_home())  # before any module imports Prefect
set_prefect_defaults()

# Each folder's tests carry its marker: `pytest -m "not flows"` skips the Prefect harness.
FOLDER_MARKERS = {"integration": "integration", "flows": "flows"}
# The files that take minutes, longest first. xdist hands test files to the workers in
# collection order (`make test` passes --no-loadscope-reorder), so these start at once and the
# two workers end together instead of one finishing a property test alone.
LONG_FILES = (
    "integration/test_spoke_truth.py",
    "integration/test_detection_properties.py",
    "integration/test_cli_signals.py",
    "flows/test_production.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test by the folder it lives in (tests/integration/, tests/flows/), and put
    the long files first (a file's tests stay together, in their order)."""
    here = Path(__file__).parent
    for item in items:
        folder = item.path.relative_to(here).parts[0]
        if folder in FOLDER_MARKERS:
            item.add_marker(FOLDER_MARKERS[folder])
    items.sort(key=lambda item: _long_rank(item.path.relative_to(here).as_posix()))


def _long_rank(file: str) -> int:
    return LONG_FILES.index(file) if file in LONG_FILES else len(LONG_FILES)


@pytest.fixture(scope="session")
def sample_sources(tmp_path_factory) -> dict[str, Path]:
    """The sample spokes' DICOM folders (real objects), written once per test session."""
    from simulator.samples import SAMPLE_SPOKES, write_sample_spoke

    root = tmp_path_factory.mktemp("sources")
    return {spoke: _written(spoke, root / spoke, write_sample_spoke) for spoke in SAMPLE_SPOKES}


def _written(spoke: str, folder: Path, writer) -> Path:
    writer(spoke, folder)
    return folder


@pytest.fixture(scope="session")
def sample_drops(tmp_path_factory, sample_sources) -> dict[str, Path]:
    """A drop per sample spoke, built with the manifest builder; tests copy before changing one."""
    from spokesync.tasks.manifest.build import build_drop

    root = tmp_path_factory.mktemp("drops")
    drops = {}
    for spoke, source in sample_sources.items():
        build_drop(source, spoke, root / spoke)
        drops[spoke] = root / spoke
    return drops


@pytest.fixture
def hub(tmp_path, sample_drops):
    """A fresh hub as `spokesync init` leaves it (catalog and volume markers) with both sample
    spokes registered; returns the loaded Config."""
    from spokesync.flows.cli.catalog import mark_new_hub
    from spokesync.tasks.config import add_spoke, init_config, load_config

    file = init_config(tmp_path / "hub")
    mark_new_hub(file)
    for spoke, drop in sample_drops.items():
        add_spoke(file, spoke, drop)
    return load_config(file)


@pytest.fixture(scope="session")
def archived(tmp_path_factory, sample_drops) -> Path:
    """A hub that archived the sample spoke north once; tests work on private copies.

    Copies (tests.support.detection.copy_hub) take its nearline volume along: the catalog
    names volumes, so each copy reads and writes its own.
    """
    from spokesync.tasks.config import add_spoke, init_config, load_config
    from spokesync.tasks.reconcile.run import run_spoke

    root = tmp_path_factory.mktemp("archived")
    file = init_config(root / "hub")
    add_spoke(file, "north", sample_drops["north"])
    run_spoke(load_config(file), "north")
    return root / "hub"


@pytest.fixture(scope="session")
def pacs_credentials():
    """The test PACS's credentials, in the environment variables the hub's spoke names."""
    from tests.support.orthanc import PASSWORD, USER

    saved = {name: os.environ.get(name) for name in ("NORTH_PACS_USER", "NORTH_PACS_PASSWORD")}
    os.environ.update(NORTH_PACS_USER=USER, NORTH_PACS_PASSWORD=PASSWORD)
    yield
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(scope="session")
def orthanc(tmp_path_factory, pacs_credentials):
    """A real Orthanc spoke PACS for the whole session; tests load it with `orthanc_north`."""
    from tests.support.orthanc import Orthanc

    server = Orthanc(tmp_path_factory.mktemp("orthanc")).start()
    yield server
    server.stop()


@pytest.fixture
def orthanc_north(orthanc, sample_sources):
    """Orthanc holding three of north's sample studies (the same UIDs every time)."""
    from tests.support.pacs import pacs_files

    orthanc.reset()
    orthanc.upload(pacs_files(sample_sources["north"]))
    return orthanc


@pytest.fixture(scope="session")
def pacs_templates(tmp_path_factory, orthanc, sample_sources) -> dict[str, Path]:
    """Per protocol, a hub that archived north from Orthanc once; tests copy it."""
    from spokesync.tasks.reconcile.run import run_spoke
    from tests.support.pacs import PROTOCOLS, pacs_files, pacs_hub

    orthanc.reset()
    orthanc.upload(pacs_files(sample_sources["north"]))
    hubs = {}
    for protocol in PROTOCOLS:
        folder = tmp_path_factory.mktemp(f"pacs-{protocol}") / "hub"
        run_spoke(pacs_hub(folder, orthanc, protocol), "north")
        hubs[protocol] = folder
    return hubs
