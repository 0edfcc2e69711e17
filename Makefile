# Two commands on a fresh machine: `make demo` (the main job) and `make test`.
VENV := .venv
PY := $(VENV)/bin/python
# the CPU build of torch (the test oracle) lies on disk here; elsewhere pip finds it on PyPI
export PIP_FIND_LINKS ?= $(wildcard /opt/wheels)

.PHONY: demo test bench bench-ddp lint format venv clean data docs docs-serve docs-check

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

venv: $(VENV)/.installed

$(VENV)/.docs-installed: $(VENV)/.installed pyproject.toml
	$(PY) -m pip install -q -e '.[docs]'
	touch $@

# the site, built offline into site/ (no web fonts, no inventories): every warning is an error
docs: $(VENV)/.docs-installed
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

docs-serve: $(VENV)/.docs-installed
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs serve

# every code block of the docs and the README, the guide programs at their full sizes (`make test`
# runs the same blocks with the guides on small sizes)
docs-check: venv data
	ZEROGRAD_DOCS_QUICK=0 $(PY) -m pytest -q tests/test_docs.py

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
	rm -rf $(VENV) build *.egg-info .pytest_cache site
