# The front door. Each verb bootstraps .venv from requirements.lock on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | sha1sum | cut -c1-12)

.DEFAULT_GOAL := help
.PHONY: help serve build test check accuracy mutants bench claims sources diff lock clean

help: ## list the verbs
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-9s %s\n", $$1, $$2}'

$(STAMP): requirements.lock pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements.lock
	@rm -f $(VENV)/.installed-*; touch $@

serve: $(STAMP) ## build and serve the site on http://127.0.0.1:8000; an edit to catalog/ or docs/ is served in about a second
	$(PY) -m macros.serve --dev-addr 127.0.0.1:8000

build: $(STAMP) ## build the static site into site/ (swapped in only when the build succeeds)
	$(PY) -m macros build

test: $(STAMP) ## run the whole test suite (what CI runs)
	$(PY) -m pytest

check: $(STAMP) ## load and validate the catalog, then check the published claims
	$(PY) -m macros check

accuracy: $(STAMP) ## print the engine's error against every measurement in the catalog
	$(PY) -m macros accuracy

claims: $(STAMP) ## print every published claim with its verdict
	$(PY) -m macros claims

sources: $(STAMP) ## list every source domain by kind of field, and the records resting on a weak source
	$(PY) -m macros.sources

REV ?= HEAD
diff: $(STAMP) ## list every published figure and claim verdict the catalog changes move since REV (default HEAD)
	$(PY) -m macros diff $(REV)

mutants: $(STAMP) ## plant one-line engine bugs one at a time and count how many the fast tests catch (target 90%)
	$(PY) scripts/mutants.py

bench: $(STAMP) ## measure build time, scaling, engine throughput and serve edit latency
	$(PY) scripts/bench.py

lock: ## re-resolve requirements.lock from pyproject.toml (needs network)
	$(PYTHON) -m venv /tmp/lock-venv && /tmp/lock-venv/bin/pip install --quiet pip-tools
	/tmp/lock-venv/bin/pip-compile --quiet --generate-hashes --allow-unsafe --extra test --strip-extras -o requirements.lock pyproject.toml

clean: ## remove the built site and caches (keeps .venv)
	rm -rf site site.tmp* .pytest_cache .hypothesis
