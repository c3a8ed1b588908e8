# Two entry points that work on a fresh machine: `make run` and `make test`.
# torch is installed first, pinned, so pip takes the local CPU build instead of
# pulling gigabytes of CUDA packages for an unpinned `torch` requirement.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.qcalo-installed
# Real CLIC-8 data next to the checkout (as on the developers' machines and CI), if present.
DATA ?= $(firstword $(wildcard ../shared/data/clic8))
RUN_DIR ?= runs/qag-default

.PHONY: setup run test bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

setup: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/qcalo train qag --out $(RUN_DIR) $(if $(DATA),--data $(DATA),) --overwrite
	$(VENV)/bin/qcalo evaluate $(RUN_DIR) $(if $(DATA),--data $(DATA),)

test: $(STAMP)
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) -m pip install --quiet -e '.[test,bench]'
	$(VENV)/bin/qcalo bench simulator

clean:
	rm -rf $(VENV) runs
