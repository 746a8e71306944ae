# agora-serverless: every target works offline (no AWS credentials, no Docker, no cdk CLI), except deploy.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
export PYTHONDONTWRITEBYTECODE :=

.PHONY: setup test unit lint format synth bench run demo deploy clean openapi

setup: $(STAMP)  ## create .venv with every dependency (idempotent)

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $(STAMP)

test: setup lint  ## the whole suite plus lint
	$(PY) -m pytest tests

unit: setup  ## unit tests only (no network)
	$(PY) -m pytest tests/unit

lint: setup  ## ruff (lint + format check) and mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: setup
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

synth: setup  ## write cdk.out/ offline, with cdk-nag AwsSolutions checks
	CDK_OUTDIR=cdk.out $(PY) app.py

bench: setup  ## benchmarks against named peers, printed as ratios
	$(PY) -m bench

openapi: setup  ## regenerate docs/openapi.json from the handlers
	$(PY) -m local.openapi --write

run: setup  ## the whole system on this machine: moto + Agora emulator + local API
	$(PY) -m local.run

demo: setup  ## a scripted end-to-end scenario against a fresh local stack
	$(PY) -m local.demo

deploy: setup  ## deploy to the AWS account in your environment (needs credentials and Node.js)
	npx --yes aws-cdk@2 deploy --app "$(PY) app.py" $(DEPLOY_ARGS)

clean:
	rm -rf cdk.out .pytest_cache .mypy_cache .ruff_cache
