# The project's single entry point. The README's two commands are `make book` and `make test`.
#
#   make book   install into .venv, execute every chapter with papermill (CI profile, offline),
#               render the HTML with Jupyter Book 1.x            -> _build/html/index.html
#   make test   install into .venv, run the test suite with pytest
#
# Variables: PYTHON (interpreter used to create .venv), PROFILE (notebook profile, default ci),
# HYBRID_IR_DATA_DIR (benchmark data; defaults to ../shared/data when that folder exists).

SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
PROFILE ?= ci
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt | sha1sum | cut -c1-12)

ifneq ($(wildcard ../shared/data/lareqa),)
export HYBRID_IR_DATA_DIR ?= $(abspath ../shared/data)
endif
export HF_HUB_OFFLINE ?= 1
export HF_DATASETS_OFFLINE ?= 1
export TRANSFORMERS_OFFLINE ?= 1
export HF_HUB_DISABLE_TELEMETRY ?= 1
export TOKENIZERS_PARALLELISM ?= false
export PYDEVD_DISABLE_FILE_VALIDATION ?= 1

.PHONY: install book test lint clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	# torch first, pinned: anything unpinned pulls the newest CUDA build (GBs).
	$(PIP) install --quiet -c constraints.txt torch==2.13.0
	$(PIP) install --quiet -c constraints.txt -e ".[dev]"
	rm -f $(VENV)/.installed-*
	touch $@

book: install
	$(PY) tools/build_book.py --profile $(PROFILE)

# The rendered-book tests need a headless Chromium on PATH (chromium, chromium-browser or
# google-chrome); without one they are skipped with one line. `make test` never installs system
# packages: .ci/run installs Chromium before it, and the README says how to get it.
test: install
	$(PY) -m pytest -q --durations=15

lint: install
	$(VENV)/bin/ruff check hybrid_ir tests tools benchmarks

clean:
	rm -rf _build
