# pnil: `make run` starts everything on an embedded PostgreSQL; `make test` runs every test.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: install run test bench lint clean-data

install: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: pyproject.toml client/pyproject.toml
	@echo "==> Python dependencies into $(VENV)" >&2
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check --progress-bar on -e '.[dev]' -e ./client >&2
	@touch $@

node_modules/.installed: package.json package-lock.json
	@echo "==> AssemblyScript compiler (npm)" >&2
	npm ci --no-audit --no-fund >&2
	@touch $@

run: install
	$(PY) -m infra.localrun

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

bench: install
	@$(PY) -m bench

lint: install
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

clean-data:
	rm -rf .pgdata
