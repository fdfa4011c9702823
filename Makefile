# konektor-capi-sync: every command a user needs. `make demo` and `make test` work on a fresh clone
# with only Python 3.11 and make.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install demo sync test test-unit test-fast lint emulator bench backfill check-pixels load-faults clean \
	airflow airflow-stop airflow-deps bench-health bench-ablate

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
# Always its own embedded database and emulator: AIRFLOW_CONN_* are ignored (it says so).
demo: $(STAMP)
	$(PY) -m devtools.run_dag demo

# One sync run with AIRFLOW_CONN_KONEKTOR_DB and AIRFLOW_CONN_META_CAPI; with neither set, the embedded demo
# database and the emulator; with only one set, refused (see plugins/konektor_capi_cli/targets.py).
sync: $(STAMP)
	$(PY) -m devtools.run_dag sync

# Analysts: make backfill START=2026-11-18T00:00:00Z END=2026-11-20T00:00:00Z [PIXELS=id,id] [DRY_RUN=1]
# The values travel as data: make must not expand them (a command-line variable holding $(shell ...) runs it
# when make exports or reads it) and the shell must not parse them. So they are unexported, and their
# unexpanded text is exported to the Python entry point under other names (simply expanded: exported as is);
# konektor_capi_cli.backfill_request checks them.
unexport START END PIXELS DRY_RUN
backfill: export BACKFILL_START := $(value START)
backfill: export BACKFILL_END := $(value END)
backfill: export BACKFILL_PIXELS := $(value PIXELS)
backfill: export BACKFILL_DRY_RUN := $(value DRY_RUN)
backfill: $(STAMP)
	$(PY) -m devtools.run_dag backfill

test: $(STAMP) airflow-deps
	$(PY) -m pytest

# Part of it, by the tests' kind markers (docs/development.md): the unit tests (no PostgreSQL, no emulator),
# then those plus the integration tests (no Airflow run, no deployment, no benchmark).
test-unit: $(STAMP)
	$(PY) -m pytest -m unit

test-fast: $(STAMP)
	$(PY) -m pytest -m "unit or integration"

# The Graph API emulator by hand: make emulator PORT=8765
PORT ?= 8765
emulator: $(STAMP)
	$(PY) -m devtools.graph_emulator --host 127.0.0.1 --port $(PORT)

# Test every enabled (workspace, pixel) row's token (one GET each, like Konektor's "Test Connection"); no token
# printed. Connections as for `make sync`.
check-pixels: $(STAMP)
	$(PY) -m devtools.run_dag check-pixels

# Benchmark: N status changes in a fresh database, one Airflow run end to end, per-stage figures, and
# the facebook-business SDK baselines. make bench [BENCH_EVENTS=1000000] [BENCH_ARGS="--sizes 100000,1000000"]
# With Meta's round trip emulated: make bench BENCH_EVENTS=200000 LATENCY_MS=500 (or BENCH_ARGS="--latency-ms 500
# --jitter-ms 200"): ours, the SDK one request after the other and the SDK with asyncio, side by side.
BENCH_EVENTS ?= 1000000
bench: $(STAMP)
	BENCH_EVENTS=$(BENCH_EVENTS) $(PY) -m devtools.bench $(if $(LATENCY_MS),--latency-ms $(LATENCY_MS)) $(BENCH_ARGS)

# Each speed trick of the sync's concurrency design (konektor_capi/concurrency.py) turned off in turn, to see it
# still pays: make bench-ablate [BENCH_EVENTS=1000000] [ABLATE_ARGS="--repeats 3 --latency-ms 500"]
bench-ablate: $(STAMP)
	BENCH_EVENTS=$(BENCH_EVENTS) $(PY) -m devtools.bench_ablate $(ABLATE_ARGS)

# The Meta CAPI health page's queries on HEALTH_ROWS sync_logs rows (seeded by generate_series; kept for
# HEALTH_ARGS=--reuse): time and plan of each query, the whole page with its chart.
HEALTH_ROWS ?= 10000000
bench-health: $(STAMP)
	$(PY) -m devtools.bench_health --rows $(HEALTH_ROWS) $(HEALTH_ARGS)

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
