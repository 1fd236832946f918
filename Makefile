# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The CPU build of PyTorch is installed first so that nothing pulls a CUDA build.
TORCH := torch==2.13.0

.PHONY: venv demo test bench clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

demo: venv
	$(BIN)/latentatlas demo photos --atlas demo.atlas

test: venv
	$(BIN)/python -m pytest -q

bench: venv
	$(BIN)/python bench/encode.py

clean:
	rm -rf $(VENV) demo.atlas .pytest_cache
