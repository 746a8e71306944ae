# agora-serverless: every target works offline (no AWS credentials, no Docker, no cdk CLI), except deploy.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# the web example's browser dependencies (hls.js, the Agora Web SDK), pinned in examples/web/package-lock.json
WEB_DIR := examples/web
WEB_STAMP := $(WEB_DIR)/node_modules/.installed
# The Lambda runtime's Python (infra/runtime.py): the functions' tests also run on it (make test-py313).
# the first python3.13 that runs (a pyenv shim for a version that is not selected does not)
PYTHON313 ?= $(shell for p in $$(command -v python3.13) $(HOME)/.pyenv/versions/3.13*/bin/python3.13; do "$$p" -c '' 2>/dev/null && { echo "$$p"; break; }; done)
VENV313 := .venv-py313
STAMP313 := $(VENV313)/.installed
# jsii prints a banner when Node is older than the CDK supports (Node 22 and 24 today; docs/deploy.md)
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
# (it takes the Node major versions to silence, not a flag)
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := $(shell node --version 2>/dev/null | sed -E 's/^v([0-9]+).*/\1/')
export PYTHONDONTWRITEBYTECODE :=

.DEFAULT_GOAL := help
.PHONY: help setup test unit check test-wide lint format synth cfn-lint bench run demo deploy clean openapi event-schemas setup-py313 test-py313 diagrams fuzz replay

#: `make run` settings; each one given overrides local.env (local.env.example lists its keys), which overrides the
#: defaults (ports 8080, 8081, 5000, 8090): make run PORT=9080 WEB_PORT=9081 MOTO_PORT=5001 EMULATOR_PORT=9090
PORT ?=
WEB_PORT ?=
MOTO_PORT ?=
EMULATOR_PORT ?=
#: extra browser origins the local API allows (comma-separated); the web example's own is always allowed
CORS_ORIGINS ?=
#: a directory that keeps secrets, local users' keys and data across restarts (make run STATE=.local-stack/state)
STATE ?=
RUN_ARGS ?=
#: make demo KEEP=1: leave the stack up after the scenario, with the banner
KEEP ?=

help:  ## list the targets (this text)
	@echo "agora-serverless: make TARGET  (every target works offline except deploy)"
	@grep -E '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  %-11s %s\n", $$1, $$2}'
	@echo "  make run PORT=8080 WEB_PORT=8081 MOTO_PORT=5000 EMULATOR_PORT=8090 CORS_ORIGINS=https://app.example"

setup: $(STAMP) $(WEB_STAMP)  ## create .venv with every dependency, and the web example's npm packages (idempotent)

$(WEB_STAMP): $(WEB_DIR)/package.json $(WEB_DIR)/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		npm ci --prefix $(WEB_DIR) --no-audit --no-fund --loglevel=error && touch $(WEB_STAMP); \
	else \
		echo "npm not found: skipping the web example's packages (hls.js, agora-rtc-sdk-ng); the page cannot play recordings"; \
	fi

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $(STAMP)

#: pytest-xdist workers for make unit and check: one per core, at most 4 (TEST_JOBS=1 runs serially; make test and
#: test-py313 take two more, SUITE_JOBS below). The order dependency that once made parallel runs fail is fixed (docs/known-limitations.md).
TEST_JOBS ?= $(shell n=$$(nproc 2>/dev/null || echo 1); [ "$$n" -gt 4 ] && n=4; echo $$n)
#: each test module stays on one worker (tests/conftest.py groups them), so its module-scoped stack is built once
XDIST = $(if $(filter 1,$(TEST_JOBS)),,-n $(TEST_JOBS) --dist loadgroup)
#: make test and make test-py313 run two workers more than TEST_JOBS: their local stacks and child processes wait
#: (Step Functions' Wait states and retries, the emulator's clock, a browser), and the extra workers fill those
#: waits. On 2 cores a third worker took a pytest run from 500 s to 407 s; with three, the cores still idled for
#: ~100 core-seconds of a run while the e2e, workflow and local-stack groups waited together, and a fourth worker
#: kept them 185-200% busy to the end (docs/known-limitations.md). SUITE_JOBS=1: serially
SUITE_JOBS ?= $(if $(filter 1,$(TEST_JOBS)),1,$(shell echo $$(( $(TEST_JOBS) + 2 ))))
SUITE_XDIST = $(if $(filter 1,$(SUITE_JOBS)),,-n $(SUITE_JOBS) --dist loadgroup)
#: pytest $(1) with mypy beside it (cold, as in a fresh clone, mypy is ~13 s of CPU, 0.5 s warm): its report
#: follows the tests', and either failing fails the target. mypy runs at a lower priority (nice): it would take a
#: core from the workers while they collect, when no test has started yet, instead of the CPU their waits leave idle
define beside_mypy
	@types_log=$$(mktemp); nice -n 15 $(VENV)/bin/mypy >"$$types_log" 2>&1 & types_pid=$$!; \
	echo '$(PY) -m pytest $(1)   (and $(VENV)/bin/mypy beside it)'; \
	$(PY) -m pytest $(1); tests=$$?; \
	wait $$types_pid; types=$$?; echo "$(VENV)/bin/mypy:"; cat "$$types_log"; rm -f "$$types_log"; \
	[ $$tests -eq 0 ] && [ $$types -eq 0 ]
endef
#: the tiers of the inner loop (CONTRIBUTING.md): no child process, no network; tests/contract once it exists
FAST_TIERS = tests/unit $(wildcard tests/contract)

test: setup  ## the whole suite plus lint (mypy beside the tests), on every core (under 6 minutes on 2; CONTRIBUTING.md)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(call beside_mypy,$(SUITE_XDIST) tests)

setup-py313: $(STAMP313)  ## a second venv on Python 3.13, the Lambda runtime's Python (idempotent)

$(STAMP313): requirements.txt requirements-dev.txt pyproject.toml
	@test -n "$(PYTHON313)" || { echo 'no runnable python3.13 found: install Python 3.13 or set PYTHON313=/path/to/python3.13'; exit 2; }
	@test -x $(VENV313)/bin/python || $(PYTHON313) -m venv $(VENV313)
	$(VENV313)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(VENV313)/bin/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $(STAMP313)

#: what test-py313 leaves to make test: the local stack's own process tests (make run's lifecycle, Ctrl-C, real
#: Agora mode, the child pytest of the whole surface). They test local/, a developer's tool on any Python 3.11+,
#: not the functions; the functions' code they drive runs in-process in the other modules (docs/decisions.md)
PY313_LOCAL_TOOLING = test_local_lifecycle.py test_local_run.py test_local_real_agora.py test_local_surface.py

test-py313: setup-py313  ## the functions' tests (unit, integration, workflow) on Python 3.13, on every core
	$(VENV313)/bin/python -m pytest $(SUITE_XDIST) $(PY313_LOCAL_TOOLING:%=--ignore=tests/integration/%) tests/unit tests/integration tests/workflow

#: make unit and make check also use every core (TEST_JOBS): the tests are CPU-bound, and a second worker costs one more
#: collection (~2 s of CPU) and halves the rest
unit: setup  ## unit tests without the slow ones: no network, no child process (under 20 s)
	$(PY) -m pytest $(XDIST) -p no:schemathesis -m "not slow" tests/unit

check: setup  ## the inner loop: ruff, then mypy beside the unit and contract tests without the slow ones (under 60 s)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(call beside_mypy,$(XDIST) -p no:schemathesis -m "not slow" $(FAST_TIERS))

test-wide: setup  ## the property tests with Hypothesis's "wide" profile (5,000 examples each): a long search
	HYPOTHESIS_PROFILE=wide $(PY) -m pytest $(XDIST) tests/unit

lint: setup  ## ruff (lint + format check) and mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: setup  ## apply ruff's fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

synth: setup  ## write cdk.out/ offline, with cdk-nag AwsSolutions checks
	CDK_OUTDIR=cdk.out $(PY) app.py

cfn-lint: synth  ## cfn-lint the synthesized template (errors fail; warnings are printed)
	$(VENV)/bin/cfn-lint --non-zero-exit-code error cdk.out/*.template.json

bench: setup  ## benchmarks against named peers, printed as ratios
	$(PY) -m bench

#: examples per operation, mode and role for `make fuzz` (make test runs 12)
FUZZ_EXAMPLES ?= 150
FUZZ_SEED ?= 12

#: events for `make replay` (make test replays a seeded sample of 300), each delivered 3 times; any seed
REPLAY_EVENTS ?= 3000
REPLAY_SEED ?= 20240611

replay: setup  ## a long webhook replay: thousands of NCS events x3, shuffled, throttled (REPLAY_EVENTS=3000)
	REPLAY_BASE_EVENTS=$(REPLAY_EVENTS) REPLAY_SEED=$(REPLAY_SEED) $(PY) -m pytest -p no:schemathesis -q tests/integration/test_webhook_replay.py

fuzz: setup  ## a long API fuzz: schemathesis from docs/openapi.json against a local stack (FUZZ_EXAMPLES=150)
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) FUZZ_SEED=$(FUZZ_SEED) $(PY) -m tests.e2e.api_fuzz

openapi: setup  ## regenerate docs/openapi.json from the handlers
	$(PY) -m local.openapi --write

event-schemas: setup  ## regenerate docs/events/*.json (the events' JSON Schemas) from service/events/model.py
	cd functions && ../$(PY) -m service.events.schemas ../docs/events

run: setup  ## the whole system on this machine: moto + Agora emulator + local API + web example
	$(PY) -m local.run $(if $(PORT),--port $(PORT)) $(if $(WEB_PORT),--web-port $(WEB_PORT)) \
		$(if $(MOTO_PORT),--moto-port $(MOTO_PORT)) $(if $(EMULATOR_PORT),--emulator-port $(EMULATOR_PORT)) \
		$(if $(CORS_ORIGINS),--cors-origins "$(CORS_ORIGINS)") $(if $(STATE),--state "$(STATE)") $(RUN_ARGS)

demo: setup  ## a scripted end-to-end scenario against a fresh local stack (KEEP=1: leave it up)
	$(PY) -m local.demo $(if $(KEEP),--keep)

deploy: setup  ## deploy to the AWS account in your environment (needs credentials and Node.js)
	npx --yes aws-cdk@2 deploy --app "$(PY) app.py" $(DEPLOY_ARGS)

clean:  ## remove build and tool caches (and the Python 3.13 venv)
	rm -rf cdk.out $(VENV313) .pytest_cache .mypy_cache .ruff_cache

diagrams:  ## re-render docs/images/flow-*.png from their .dot sources (needs Graphviz's dot)
	@for f in docs/images/flow-*.dot; do dot -Tpng -Gdpi=110 "$$f" -o "$${f%.dot}.png" && echo "$${f%.dot}.png"; done
