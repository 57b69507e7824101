# spokesync: `make demo` and `make test` work on a fresh machine with Python 3.11, git and make
# (`make test` installs the Debian peers the tests talk to when missing: `make peers`).
PYTHON ?= python3.11
UV := $(PYTHON) -m uv
RUN := $(UV) run --frozen --no-sync
export UV_PYTHON_DOWNLOADS := never

.PHONY: setup peers demo test lint format bench clean

setup: .venv/.synced

.venv/.synced: pyproject.toml uv.lock
	@$(PYTHON) -m uv --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet "uv>=0.5"
	$(UV) sync --frozen --python $(PYTHON)
	@touch $@

# The Debian packages the tests talk to (Orthanc, DCMTK, dicom3tools, Chromium): installed when
# missing, as root or through sudo; otherwise the one apt-get command to run is printed.
peers:
	@scripts/install-peers

ORTHANC ?=
demo: setup
	$(RUN) spokesync demo --data-dir var/demo $(if $(ORTHANC),--orthanc $(ORTHANC))

# The suite on every core, at most WORKERS processes (pytest-xdist): a test file stays on one
# worker, so its module-scoped servers start once; each worker has its own Prefect harness.
# Files are handed out in collection order, which tests/conftest.py starts with the long ones.
WORKERS ?= 2
test: setup peers
	$(RUN) pytest -n auto --maxprocesses $(WORKERS) --dist loadfile --no-loadscope-reorder

lint: setup
	$(RUN) ruff check .
	$(RUN) ruff format --check .

format: setup
	$(RUN) ruff format .
	$(RUN) ruff check --fix .

# Issue 8's six rows (docs/benchmarks.md). `make bench` runs them small, in minutes;
# `make bench SIZE=10M` at the issue's sizes (about 80 minutes, 30 GB under var/bench; the
# other folder indexer runs once there, as one of its runs takes 20 minutes).
SIZE ?= 1M
BIG_1M := 5M
BIG_10M := 50M
FILES_1M := 2000
FILES_10M := 20000
OBJECTS_1M := 200
OBJECTS_10M := 1000
STUDY_1M := 200
STUDY_10M := 2000
OTHER_RUNS_10M := --other-runs 1
bench: setup
	$(RUN) python bench/reconcile.py --catalog $(SIZE) --manifest $(SIZE)
	$(RUN) python bench/reconcile.py --catalog $(SIZE),$(BIG_$(SIZE)) --manifest 100k
	$(RUN) python -m bench.archive --objects $(OBJECTS_$(SIZE))
	$(RUN) python -m bench.index_folder --files $(FILES_$(SIZE)) $(OTHER_RUNS_$(SIZE))
	$(RUN) python -m bench.retrieve --instances $(STUDY_$(SIZE))
	$(RUN) python -m bench.prefect_overhead --catalog 1M --manifest 1M
	$(RUN) python bench/detection_accuracy.py -n 20

clean:
	rm -rf var .venv .pytest_cache
