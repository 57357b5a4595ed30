# events-api: make help lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell scripts/find-python)
VENV := .venv
BIN := $(VENV)/bin
SAM_VENV := .venv-sam
SAM := $(SAM_VENV)/bin/sam
CHECKOV_VENV := .venv-checkov
CHECKOV := $(CHECKOV_VENV)/bin/checkov
FUZZ_SECONDS ?= 60
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=
# make test runs the suites on pytest-xdist's workers, a module to a worker (its fixtures,
# local stacks included, start once); PYTEST_WORKERS=0 runs them in this process.
PYTEST_WORKERS ?= auto
export SAM_CLI_TELEMETRY := 0
export AWS_DEFAULT_REGION ?= us-east-1

.PHONY: help install dev test lint format typecheck cfn-lint unit integration e2e bench bench-console browser build validate deploy clean reliability fuzz checkov iam-record iam-report

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP) ## Create .venv and install the project with its dev tools

dev: $(STAMP) ## Run the whole pipeline locally (moto + gateway + consumer) until Ctrl-C
	$(BIN)/events-api dev

test: lint typecheck cfn-lint browser ## Lint, type-check, cfn-lint and run every test suite
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadscope $(PYTEST_ARGS)

lint: $(STAMP) ## ruff lint and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP) ## Apply ruff's formatting and safe fixes
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

typecheck: $(STAMP) ## mypy (strict) over the shared package and the CLI
	$(BIN)/mypy

cfn-lint: $(STAMP) ## cfn-lint over template.yaml
	$(BIN)/cfn-lint template.yaml

unit: $(STAMP) ## Unit tests only (fast, no network)
	$(BIN)/pytest -m unit $(PYTEST_ARGS)

integration: $(STAMP) ## Handlers against moto in-process
	$(BIN)/pytest -m integration $(PYTEST_ARGS)

e2e: $(STAMP) browser ## events-api dev on loopback, real HTTP, both buffers; the console in Chromium
	$(BIN)/pytest -m e2e $(PYTEST_ARGS)

iam-record: $(STAMP) ## Run the suites that record the roles' calls and write them to tests/iam_calls.json
	IAM_RECORD_UPDATE=1 $(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadscope tests/integration/test_compactor_role.py tests/integration/test_log_subscriber_role.py tests/e2e tests/reliability $(PYTEST_ARGS)

iam-report: $(STAMP) ## Write the IAM report (calls, grants, least-privilege debt) into docs/operations.md
	$(BIN)/python -m events_api_cli.local.iam.report

bench: $(STAMP) ## Benchmarks: writes docs/performance.md and benchmarks/results.json
	$(BIN)/python -m benchmarks.run

bench-console: $(STAMP) ## The console's explore view over a million local events (item 11 alone)
	$(BIN)/python -m benchmarks.run --only console

# The console's browser tests drive Debian's chromium through chromium-driver (Playwright's
# and Selenium Manager's own browser downloads are not used). CI runs as root and installs
# them; elsewhere, install them yourself or the browser tests skip (they fail under CI=true).
browser: ## Debian's chromium and chromium-driver for the console's browser tests
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
	else \
		echo "make browser: run as root, or: sudo apt-get install chromium chromium-driver"; \
	fi

reliability: $(STAMP) ## Long reliability suites, fuzz and checkov; writes docs/reliability.md
	status=0; \
	RELIABILITY_SCALE=long $(BIN)/pytest -m reliability $(PYTEST_ARGS) || status=1; \
	$(MAKE) fuzz FUZZ_SECONDS=$(FUZZ_SECONDS) || status=1; \
	$(MAKE) checkov || status=1; \
	$(BIN)/python -m tests.reliability.report; \
	exit $$status

fuzz: $(STAMP) ## atheris fuzz of the body decoder, then of OTLP decoding, FUZZ_SECONDS (60) each
	$(BIN)/python -c "import atheris" 2>/dev/null || $(BIN)/pip install --quiet "atheris>=2.3"
	status=0; \
	FUZZ_SECONDS=$(FUZZ_SECONDS) $(BIN)/python fuzz/run.py body || status=1; \
	FUZZ_SECONDS=$(FUZZ_SECONDS) $(BIN)/python fuzz/run.py otlp || status=1; \
	exit $$status

$(CHECKOV): scripts/find-python
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/pip install --quiet "checkov>=3.2"

checkov: $(STAMP) $(CHECKOV) ## checkov on template.yaml (own venv): findings fixed or explained
	$(BIN)/python -m tests.reliability.checkov_check --checkov $(CHECKOV)

$(SAM): scripts/find-python
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet --upgrade pip
	$(SAM_VENV)/bin/pip install --quiet "aws-sam-cli>=1.150"

validate: $(SAM) ## sam validate --lint (SAM CLI in its own venv: its pins clash with ours)
	$(SAM) validate --lint

build: $(SAM) ## sam build (no container; arm64 wheels come from PyPI)
	PATH="$(CURDIR)/$(SAM_VENV)/bin:$$PATH" $(SAM) build

deploy: build ## sam deploy --config-env $(ENV) (ENV=dev by default; needs AWS credentials)
	$(SAM) deploy --config-env $(or $(ENV),dev)

clean: ## Remove virtual environments and build output
	rm -rf $(VENV) $(SAM_VENV) $(CHECKOV_VENV) .aws-sam .mypy_cache .ruff_cache .pytest_cache
