# The commands the README names. Each one sets up .venv itself on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint bench soak clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-dev: $(BIN)/python pyproject.toml
	$(BIN)/pip install -q -e '.[dev]'
	touch $(VENV)/.installed $@

run: $(VENV)/.installed
	@bash scripts/run.sh $(HOST) $(PORT)

test: $(VENV)/.installed-dev
	@bash scripts/test.sh

lint: $(VENV)/.installed-dev
	@bash scripts/test.sh --lint-only

bench: $(VENV)/.installed-dev
	@bash scripts/bench.sh

soak: $(VENV)/.installed-dev
	$(BIN)/python bench/soak.py

clean:
	rm -rf $(VENV) pulseboard-data .mypy_cache .ruff_cache
