# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The CPU build of PyTorch is installed first so that nothing pulls a CUDA build.
TORCH := torch==2.13.0

.PHONY: venv demo demo-photos test bench clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

# The weather study on a generated year of radar (about 3 minutes); demo-photos: the photo tiles (about 2).
demo: venv
	$(BIN)/latentatlas demo weather --atlas wx.atlas

demo-photos: venv
	$(BIN)/latentatlas demo photos --atlas demo.atlas

# The suite runs on every core (pytest-xdist), each worker on one thread.
test: venv
	$(BIN)/python -m pytest -q -n auto --maxprocesses 4

bench: venv
	$(BIN)/python bench/encode.py

clean:
	rm -rf $(VENV) wx.atlas demo.atlas .pytest_cache
