# The README's two commands for a fresh machine: `make run` (install, then the main job) and
# `make test` (install with the test extras, then the test suite). Both use a virtual environment
# in .venv, made on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
ARGS ?=

.PHONY: run test bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

run: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[cpu]"
	$(BIN)/multimodal-genre compare $(ARGS)

test: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[cpu,test]"
	$(BIN)/python -m pytest $(ARGS)

# The quick benchmarks, results in reports/benchmarks/ (over an hour on 2 cores from empty caches), e.g.
# make bench ARGS="--data ../shared/gtzan"; the nested tuning benchmark (benchmarks/tuning.py) takes a day.
bench: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[cpu]"
	$(BIN)/python benchmarks/data_load.py $(ARGS)
	$(BIN)/python benchmarks/defaults.py $(ARGS)
	$(BIN)/python benchmarks/literature.py
