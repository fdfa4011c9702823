# konektor-capi-sync: every command a user needs. `make demo` and `make test` work on a fresh clone
# with only Python 3.11 and make.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install demo sync test lint emulator bench backfill check-pixels load-faults clean airflow airflow-stop \
	airflow-deps

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) .run .airflow

# The main job: seed a demo database, start the emulator, run the DAG once, print the outcome summary.
demo: $(STAMP)
	$(PY) -m devtools.run_dag demo

# One sync run against the connections in the environment (embedded stand-ins for those not set).
sync: $(STAMP)
	$(PY) -m devtools.run_dag sync

# Analysts: make backfill START=2026-11-18T00:00:00Z END=2026-11-20T00:00:00Z [PIXELS=id,id] [DRY_RUN=1]
backfill: $(STAMP)
	@test -n "$(START)" || { echo "usage: make backfill START=<ISO-8601> END=<ISO-8601> [PIXELS=id,id] [DRY_RUN=1]"; exit 2; }
	$(PY) -m devtools.run_dag backfill --start "$(START)" $(if $(END),--end "$(END)") \
		$(if $(PIXELS),--pixels "$(PIXELS)") $(if $(filter 1 true yes,$(DRY_RUN)),--dry-run)

test: $(STAMP) airflow-deps
	$(PY) -m pytest

# The Graph API emulator by hand: make emulator PORT=8765
PORT ?= 8765
emulator: $(STAMP)
	$(PY) -m devtools.graph_emulator --host 127.0.0.1 --port $(PORT)

# Test every enabled pixel's token (one GET per pixel, like Konektor's "Test Connection"); no token printed.
check-pixels: $(STAMP)
	$(PY) -m devtools.check_pixels

# Benchmark: N status changes in a fresh database, one Airflow run end to end, per-stage figures, and
# the facebook-business SDK baseline. make bench [BENCH_EVENTS=1000000] [BENCH_ARGS="--sizes 100000,1000000"]
BENCH_EVENTS ?= 1000000
bench: $(STAMP)
	BENCH_EVENTS=$(BENCH_EVENTS) $(PY) -m devtools.bench $(BENCH_ARGS)

# Reliability under load: 200k changes, 10% of requests throttled, 5% failing transiently.
LOAD_CHANGES ?= 200000
load-faults: $(STAMP)
	$(PY) -m devtools.load_faults --changes $(LOAD_CHANGES)

# The deployment of docker-compose.yaml, run from the venv without Docker (see devtools/deploy.py):
# embedded PostgreSQL metadata, Redis, API server, scheduler, dag-processor, triggerer, Celery worker.
# Returns once healthy; prints the UI URL and login. AIRFLOW_HOME is .airflow/deploy.
airflow: $(STAMP) airflow-deps
	$(PY) -m devtools.deploy up

airflow-stop:
	$(PY) -m devtools.deploy down

# Debian's redis-server (the Celery broker) and chromium (the UI's browser test), when missing.
airflow-deps:
	@command -v redis-server >/dev/null && command -v chromium >/dev/null || { \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server chromium; }
