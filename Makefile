VENV ?= .venv
PYTHON ?= python3
BIN = $(VENV)/bin

.PHONY: setup test lint demo clean

# torch is installed first, pinned: on this machine 2.13.0 is a CPU build on local disk, while a bare
# "torch" requirement would pull a multi-GB CUDA build.
setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e ".[test]"
	touch $@

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest

demo: setup
	$(BIN)/s2k demo

clean:
	rm -rf $(VENV) s2k-demo .pytest_cache .ruff_cache
