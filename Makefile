# pnil: `make run` starts everything on an embedded PostgreSQL; `make test` runs every test.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: install run test bench bench-compare bench-scale lint clean-data chromium

CONSOLE_BUNDLE := web/console/static/build/editor.js
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

PYTHON_RUNTIME := .cache/python-runtime/.built

install: $(VENV)/.installed node_modules/.installed $(CONSOLE_BUNDLE) $(PYTHON_RUNTIME)

$(VENV)/.installed: pyproject.toml client/pyproject.toml
	@echo "==> Python dependencies into $(VENV)" >&2
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check --progress-bar on -e '.[dev]' -e ./client >&2
	@touch $@

node_modules/.installed: package.json package-lock.json
	@echo "==> AssemblyScript compiler (npm)" >&2
	npm ci --no-audit --no-fund >&2
	@touch $@

# The console's editor: CodeMirror from the pinned npm packages, bundled into one file.
$(CONSOLE_BUNDLE): web/console/editor_entry.js node_modules/.installed
	@echo "==> console editor bundle (esbuild)" >&2
	./node_modules/.bin/esbuild web/console/editor_entry.js --bundle --minify --format=iife \
		--global-name=PnilEditor --log-level=warning --outfile=$@ >&2

# Python functions' shared CPython runtime: built by componentize-py once per content, then
# compiled once into the per-user cache (rebuilt only when the WIT, guest or versions change).
$(PYTHON_RUNTIME): runner/python/wit/runtime.wit $(wildcard runner/python/guest/*.py) $(VENV)/.installed
	@echo "==> Python function runtime (componentize-py)" >&2
	$(PY) -m runner.python.runtime
	@mkdir -p $(@D) && touch $@

# The console's browser tests drive Debian's chromium (browser downloads are not reachable).
chromium:
	@command -v chromium >/dev/null || { echo "==> Chromium (Debian package) for the console tests" >&2; \
		$(SUDO) apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq \
		--no-install-recommends chromium >&2; }

run: install
	$(PY) -m localrun

test: install chromium
	$(PY) -m pytest $(PYTEST_ARGS)

bench: install
	@$(PY) -m bench $(BENCH)

# make bench-compare REF=<commit> [BENCH="broker async"] [ROUNDS=3]: this tree against REF, alternately.
bench-compare: install
	@test -n "$(REF)" || { echo 'usage: make bench-compare REF=<commit> [BENCH="name ..."] [ROUNDS=n]' >&2; exit 2; }
	@$(PY) -m bench.compare $(REF) $(BENCH) $(if $(ROUNDS),--rounds $(ROUNDS))

# 10 million executions over 30 days (ROWS=... for fewer): minutes and gigabytes, so not in `bench`.
bench-scale: install
	@$(PY) -m bench.scale --rows $${ROWS:-10000000}

lint: install
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

clean-data:
	rm -rf .pgdata
