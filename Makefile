# Two commands matter: `make run` (dashboard on 127.0.0.1:8501, behind serve.py's Host check) and `make test` (lint + whole suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUNTIME_STAMP := $(VENV)/.installed-runtime
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: run test lint bench venv clean-venv-stamps chromium

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstall only when a requirements file is newer than the stamp.
$(RUNTIME_STAMP): requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install -r requirements.txt
	touch $@

$(DEV_STAMP): requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/python -m pip install -r requirements-dev.txt
	touch $(RUNTIME_STAMP) $@

venv: $(RUNTIME_STAMP)

run: $(RUNTIME_STAMP)
	env -u DIAG_DATA_ROOTS $(BIN)/streamlit run serve.py --server.address 127.0.0.1 --server.port 8501

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

# The browser tests drive Debian's chromium: installed here when missing and possible, else one line
# says the command to run (before anything slow, so a new user learns it at once).
chromium:
	sh scripts/ensure_chromium.sh

test: chromium lint
	$(BIN)/python -m pytest

bench: $(DEV_STAMP)
	$(BIN)/python -m bench

clean-venv-stamps:
	rm -f $(RUNTIME_STAMP) $(DEV_STAMP)
