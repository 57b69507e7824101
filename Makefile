# spokesync: `make demo` and `make test` work on a fresh machine with Python 3.11, git and make.
PYTHON ?= python3.11
UV := $(PYTHON) -m uv
RUN := $(UV) run --frozen --no-sync
export UV_PYTHON_DOWNLOADS := never
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS := 120

.PHONY: setup demo test lint format bench clean

setup: .venv/.synced

.venv/.synced: pyproject.toml uv.lock
	@$(PYTHON) -m uv --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet "uv>=0.5"
	$(UV) sync --frozen --python $(PYTHON)
	@touch $@

demo: setup
	$(RUN) spokesync demo --data-dir var/demo

test: setup
	$(RUN) pytest

lint: setup
	$(RUN) ruff check .
	$(RUN) ruff format --check .

format: setup
	$(RUN) ruff format .
	$(RUN) ruff check --fix .

SIZE ?= 1M
bench: setup
	$(RUN) python bench/reconcile.py --catalog $(SIZE) --manifest 100k
	$(RUN) python bench/detection_accuracy.py -n 20

clean:
	rm -rf var .venv .pytest_cache
