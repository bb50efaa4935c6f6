# reachwatch: `make demo` runs the product locally, `make test` runs every test. Both set up
# the virtual environment on first use, so they work on a clean clone.
.DEFAULT_GOAL := help
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

# constraints.txt pins every package to the versions CI ran; `make lock` refreshes it.
$(STAMP): pyproject.toml constraints.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -c constraints.txt -e ".[dev]"
	touch $(STAMP)

.PHONY: help
help: ## List the targets.
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

.PHONY: install
install: $(STAMP) ## Create .venv and install reachwatch with its dev tools.

.PHONY: lint
lint: $(STAMP) ## ruff lint and format checks.
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

.PHONY: typecheck
typecheck: $(STAMP) ## mypy over streams/, and --strict over the pure core.
	$(VENV)/bin/mypy
	$(VENV)/bin/mypy --strict streams/core

.PHONY: test
test: lint typecheck ## Lint, type-check, then every unit and integration test against a real local Kafka broker.
	bash deploy/tools/install-validators.sh
	@export REACHWATCH_RUN_ID="make-test-$$$$"; status=0; \
	$(PY) -m pytest || status=$$?; \
	$(PY) -m streams.local_kafka.child_process --fail-if-any "$$REACHWATCH_RUN_ID" || status=1; \
	exit $$status

.PHONY: demo
demo: $(STAMP) ## Local broker, topics, worker, simulated traffic and live alerts (Ctrl-C stops).
	$(VENV)/bin/reachwatch demo

.PHONY: bench
bench: $(STAMP) ## Benchmarks (not tests): prints figures, writes bench-results/*.json, README's table.
	$(VENV)/bin/pip install -q -c constraints.txt -e ".[bench]"
	$(PY) -m tests.perf.run_all
	$(PY) -m tests.perf.readme_table

.PHONY: lock
lock: ## Re-resolve dependencies (dev and bench) into constraints.txt after editing pyproject.toml.
	rm -rf .lock-venv && python3 -m venv .lock-venv
	.lock-venv/bin/pip install -q --upgrade pip
	.lock-venv/bin/pip install -q -e ".[dev,bench]"
	{ head -n 2 constraints.txt; .lock-venv/bin/pip freeze --exclude-editable | grep -v '^reachwatch'; } \
		> constraints.txt.new
	mv constraints.txt.new constraints.txt
	rm -rf .lock-venv

.PHONY: clean
clean: ## Remove caches and local state (keeps .venv and the Kafka jar cache).
	rm -rf .pytest_cache .ruff_cache .hypothesis bench-results .demo
