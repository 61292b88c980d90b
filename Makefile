# The README's two commands for a fresh machine: `make run` (install, then the main job) and
# `make test` (install with the test extras, then the test suite). Both use a virtual environment
# in .venv, made on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
ARGS ?=

.PHONY: run test bench

$(BIN)/python:
	@echo "Making a virtual environment in $(VENV)"
	@$(PYTHON) -m venv $(VENV)

run: $(BIN)/python
	@echo "Installing multimodal-genre with TensorFlow, XGBoost and the rest into $(VENV)"
	@echo "(a few minutes the first time, a few seconds after; pip's own messages are kept quiet)"
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[cpu]"
	@echo "Installed. Running: multimodal-genre compare $(ARGS)"
	@$(BIN)/multimodal-genre compare $(ARGS)

test: $(BIN)/python
	@echo "Installing multimodal-genre with its test tools into $(VENV)"
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[cpu,test]"
	$(BIN)/python -m pytest $(ARGS)

# The quick benchmarks, results in reports/benchmarks/ (over an hour on 2 cores from empty caches), e.g.
# make bench ARGS="--data ../shared/gtzan"; the nested tuning benchmark (benchmarks/tuning.py) takes a day.
bench: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[cpu]"
	$(BIN)/python benchmarks/data_load.py $(ARGS)
	$(BIN)/python benchmarks/defaults.py $(ARGS)
	$(BIN)/python benchmarks/literature.py
