# citywatch: everything a fresh machine needs is installed by these targets.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
DATA ?= $(abspath ../shared/data)
DEMO := var/demo
PORT ?= 8080
CHROMIUM := /usr/bin/chromium
export CITYWATCH_TEST_DATA := $(DATA)

.PHONY: install demo console city test test-postgresql lint fuzz bench accuracy speed live screenshots clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

install: $(VENV)/.installed $(CHROMIUM)

# Debian's Chromium, driven by Playwright in tests/browser and make screenshots (Playwright's
# own browser download is not used); nothing to do when it is there.
$(CHROMIUM):
	scripts/install-chromium.sh

# Main job on the embedded default: a supervisor approves the enrolments and the
# authorisation, the Hamilton clip is watched, alerts listed, the audit log verified.
demo: install
	scripts/demo.sh $(VENV)/bin/citywatch $(DATA) $(DEMO)

# The console on configured cameras: the Hamilton clip looped as two live cameras, one user
# per role (the password is printed), a watchlist and an authorisation; http://127.0.0.1:8080/
console: install
	scripts/console.sh $(VENV)/bin/citywatch $(DATA) var/console $(PORT)

# A city on this machine (PostgreSQL and NATS as they run here, SeaweedFS started for it): two
# workers, a store consumer and two API replicas on four replayed cameras; Ctrl-C stops it.
city: install
	scripts/city.sh $(VENV)/bin/citywatch $(DATA) var/city $(PORT)

# The suites run on every core (pytest-xdist): each test process has its own SeaweedFS, each
# test its own NATS server and database where it needs one.
test: install
	$(PY) -m pytest -n auto
	@if $(PY) -m tests.databases; then $(MAKE) --no-print-directory test-postgresql; \
	elif [ "$$CI" = true ]; then echo "CI needs the PostgreSQL test server (CITYWATCH_TEST_POSTGRES)"; exit 1; \
	else echo "PostgreSQL leg skipped: no test server"; fi

# The suites of the metadata store and the features over it again on PostgreSQL, a fresh
# database per test (CITYWATCH_TEST_POSTGRES, default the local server); tests of SQLite
# itself (marked `sqlite`) skip. The integration suite passes there too (make test-postgresql
# PG_SUITES=tests/integration); it waits for a faster per-test database to join the default.
PG_SUITES ?= tests/store tests/audit tests/cameras tests/cluster tests/alerts tests/sightings tests/governance tests/changes tests/requests tests/orders tests/watchlists tests/users tests/retention
test-postgresql: install
	CITYWATCH_TEST_DATABASE=postgresql $(PY) -m pytest -q -n auto $(PG_SUITES)

lint: install
	$(VENV)/bin/ruff check src tests scripts
	$(VENV)/bin/ruff format --check src tests scripts
	$(VENV)/bin/mypy
	$(VENV)/bin/mypy --strict scripts/screenshots.py
	$(VENV)/bin/lint-imports --no-cache

# Each fuzz target (tests/fuzz/targets.py) for FUZZ_SECONDS (default an hour), its corpus
# kept in var/fuzz/NAME and findings written to var/fuzz/ (replay: python -m tests.fuzz.run NAME --replay FILE).
FUZZ_SECONDS ?= 3600
fuzz: install
	mkdir -p var/fuzz
	for t in image video form config webhook; do \
	  PYTHONPATH=src:. $(PY) -m tests.fuzz.run $$t --corpus var/fuzz/$$t -max_total_time=$(FUZZ_SECONDS) \
	    -timeout=10 -rss_limit_mb=2560 -artifact_prefix=var/fuzz/$$t- || exit 1; \
	done

# The peer (face_recognition 1.3.0) lives in its own environment, as its docstring says.
.bench-venv/.installed:
	$(PYTHON) -m venv .bench-venv
	.bench-venv/bin/pip install --quiet dlib-bin face-recognition-models numpy pillow \
	  opencv-python-headless click "setuptools<81"
	.bench-venv/bin/pip install --quiet --no-deps face_recognition==1.3.0
	touch $@

bench: speed

# Accuracy report (verification, open-set identification, detection) into docs/accuracy/.
accuracy: install
	CITYWATCH_MODELS_DIR=$(DATA)/models $(VENV)/bin/citywatch bench accuracy --data $(DATA) \
	  --out docs/accuracy --distractors 1000,10000,100000

# Speed report (stages, frames/s against the peer on the same frames, 1:N matching) into docs/speed/.
speed: install .bench-venv/.installed
	CITYWATCH_MODELS_DIR=$(DATA)/models $(VENV)/bin/citywatch bench speed --data $(DATA) \
	  --out docs/speed --peer-python .bench-venv/bin/python

# Four cameras replaying the Hamilton clip in real time for 30 minutes: frames dropped, memory.
live: install
	CITYWATCH_MODELS_DIR=$(DATA)/models $(VENV)/bin/citywatch bench live --data $(DATA) \
	  --out docs/live --streams 4 --seconds 1800 --detect-fps 5

# The console's main pages, served with the Hamilton clip watched and a morning's records,
# saved as PNGs in docs/screenshots/ (Debian's chromium, driven by Playwright).
screenshots: install
	$(PY) scripts/screenshots.py --data $(DATA) --out docs/screenshots

clean:
	rm -rf $(VENV) .bench-venv var
