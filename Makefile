# The two commands of the README's quick start. Each creates the virtual environment on first use.
#   make demo   install, then run the main job (the mini preset: the whole study on CPU, stand-in weights)
#   make test   install, then run the test suite (what .ci/run runs)
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin

.PHONY: install demo test benchmark clean

$(BIN)/dualinv: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e ".[test]"
	touch $@

install: $(BIN)/dualinv

test: install
	$(BIN)/python -m pytest

demo: install
	$(BIN)/python -m snakemake mini --cores 2 --configfile presets/mini.yaml

benchmark: install
	$(BIN)/python benchmarks/panohead_speed.py

clean:
	rm -rf $(VENV) .pytest_cache
