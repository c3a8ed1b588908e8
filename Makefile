# Two entry points that work on a fresh machine: `make run` and `make test`.
# torch is installed first, pinned, so pip takes the local CPU build instead of
# pulling gigabytes of CUDA packages for an unpinned `torch` requirement.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.qcalo-installed
# Real CLIC-8 data next to the checkout (as on the developers' machines and CI), if present.
DATA ?= $(firstword $(wildcard ../shared/data/clic8))
RUNS ?= runs

.PHONY: setup run test bench clean

$(STAMP): pyproject.toml setup.py $(wildcard src/qcalo/quantum/*.c src/qcalo/quantum/*.h)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

setup: $(STAMP)

# The main job: qcalo's recipe (the default: Adam, exact gradients) and the seed's Table 1 reproduction
# (COBYLA), each trained and evaluated against the real-vs-real floor and a Gaussian baseline at n = 250
# and 1000, with figures in its run directory; then both side by side.
run: $(STAMP)
	$(VENV)/bin/qcalo train qag --out $(RUNS)/qag-adam $(if $(DATA),--data $(DATA),) --overwrite
	$(VENV)/bin/qcalo evaluate $(RUNS)/qag-adam $(if $(DATA),--data $(DATA),)
	$(VENV)/bin/qcalo train qag --config qag-clic8 --out $(RUNS)/qag-table1 $(if $(DATA),--data $(DATA),) --overwrite
	$(VENV)/bin/qcalo evaluate $(RUNS)/qag-table1 $(if $(DATA),--data $(DATA),)
	$(VENV)/bin/qcalo table $(RUNS)/qag-adam $(RUNS)/qag-table1

test: $(STAMP)
	$(PY) -m ruff check src tests benchmarks
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) -m pip install --quiet -e '.[test,bench]'
	$(VENV)/bin/qcalo bench simulator

clean:
	rm -rf $(VENV) runs
