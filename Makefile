# Two commands on a fresh machine: `make demo` (the main job) and `make test`.
VENV := .venv
PY := $(VENV)/bin/python
# the CPU build of torch (the test oracle) lies on disk here; elsewhere pip finds it on PyPI
export PIP_FIND_LINKS ?= $(wildcard /opt/wheels)

.PHONY: demo test bench bench-ddp lint format venv clean data

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

venv: $(VENV)/.installed

demo: venv data
	$(VENV)/bin/zerograd train fashion-mnist

data:
	bash scripts/install-data.sh

test: venv data
	$(PY) -m pytest -n 2 tests

bench: venv
	$(PY) -m benchmarks --runs 3
	$(PY) -m benchmarks.ddp --ranks 2

bench-ddp: venv
	$(PY) -m benchmarks.ddp --ranks 2

lint: venv
	$(VENV)/bin/ruff check zerograd tests benchmarks examples

format: venv
	$(VENV)/bin/ruff format zerograd tests benchmarks examples

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
