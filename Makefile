# One command each for a fresh machine: `make demo`, `make test`.
SHELL := /bin/bash
PYTHON_FOR_VENV ?= $(shell deploy/find-python)
VENV := .venv
PY := $(VENV)/bin/python
JAR := build/lib/stream-scoring-connectors.jar
KINESIS_MOCK := build/kinesis-mock/node_modules/kinesis-local/main.js
KINESALITE := build/kinesalite/node_modules/kinesalite/index.js
JAVA_SOURCES := $(shell find connectors/java/src/main -name '*.java' 2>/dev/null)
# PyFlink starts its Python workers with the `python` found on PATH.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

DURATION ?= 0
RATE ?= 200
INFERENCE ?= none
MODE ?= window
FORMAT ?= json
KINESIS ?= moto
SHADOW ?= 0

.PHONY: help setup jar package demo test reliability bench lint clean

help:
	@echo "make demo [DURATION=s] [RATE=trips/s] [INFERENCE=none|sagemaker|apigateway] [MODE=window|record] [FORMAT=json|parquet]"
	@echo "          [KINESIS=moto|kinesis-mock|kinesalite] [SHADOW=0|1]"
	@echo "make test                                    set up and run the test suite"
	@echo "make reliability                             failover, fault and bad-input cases; one summary line"
	@echo "make bench                                   measure the stage and the job; write bench/results.json, BENCHMARKS.md"
	@echo "make package                                 build dist/stream-scoring-<version>.zip for Managed Flink"
	@echo "make lint                                    ruff and mypy"

$(VENV)/.installed: requirements.txt
	@test -n "$(PYTHON_FOR_VENV)" || { echo "make: Python 3.12 or 3.11 is required" >&2; exit 1; }
	$(PYTHON_FOR_VENV) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

setup: $(VENV)/.installed $(JAR) $(KINESIS_MOCK) $(KINESALITE)

jar: $(JAR)

$(JAR): deploy/pom.xml $(JAVA_SOURCES)
	mvn --batch-mode --quiet -f deploy/pom.xml package
	test -f $@ && touch $@

# kinesis-mock, the integration tests' second Kinesis emulator, exactly as the lock file pins it.
$(KINESIS_MOCK): deploy/local/kinesis-mock/package.json deploy/local/kinesis-mock/package-lock.json
	@command -v npm >/dev/null || { echo "make: npm (Node.js) is required for kinesis-mock" >&2; exit 1; }
	mkdir -p build/kinesis-mock
	cp deploy/local/kinesis-mock/package.json deploy/local/kinesis-mock/package-lock.json build/kinesis-mock/
	cd build/kinesis-mock && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	test -f $@ && touch $@

# kinesalite, the third Kinesis emulator (in memory), exactly as the lock file pins it; its optional
# LevelDB store is a native build it does not need.
$(KINESALITE): deploy/local/kinesalite/package.json deploy/local/kinesalite/package-lock.json
	@command -v npm >/dev/null || { echo "make: npm (Node.js) is required for kinesalite" >&2; exit 1; }
	mkdir -p build/kinesalite
	cp deploy/local/kinesalite/package.json deploy/local/kinesalite/package-lock.json build/kinesalite/
	cd build/kinesalite && npm ci --ignore-scripts --omit=optional --no-audit --no-fund --loglevel=error
	test -f $@ && touch $@

# Builds the zip, then checks it offline as the service would start it (deploy validate).
package: setup
	$(PY) -m deploy.package
	$(PY) -m deploy validate "$$($(PY) -c 'from deploy.package import archive_path; print(archive_path())')" \
		--properties deploy/local/demo.properties.json

demo: setup
	$(PY) -m deploy.local.demo --duration $(DURATION) --rate $(RATE) --inference $(INFERENCE) --mode $(MODE) --format $(FORMAT) --kinesis $(KINESIS) --shadow $(SHADOW)

test: setup
	$(PY) -m pytest

# The reliability cases, quick and long; ends with one summary line, non-zero on loss or failure.
reliability: setup
	@status=0; $(PY) -m pytest tests/reliability --reliability-full || status=$$?; \
	$(PY) -m tests.reliability.summary $$status

# Throughput, latency and memory on this machine: bench/results.json and BENCHMARKS.md. Not part of make test.
bench: setup
	$(PY) -m bench

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

clean:
	rm -rf build dist
