# `make run` and `make test` each create .venv and install the project when needed.
# The install step re-runs only when pyproject.toml or the constraints change.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test bench bundle smoke clean

$(STAMP): pyproject.toml requirements/constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --constraint requirements/constraints.txt --editable ".[dev]"
	touch $(STAMP)

run: $(STAMP)
	$(PY) -m studio $(ARGS)

test: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q $(PYTEST_ARGS)

bench: $(STAMP)
	$(PY) benchmarks/generate_cpu.py

# the Linux desktop bundle (dist/*.tar.gz and dist/*.deb); minutes, outside `make test`
bundle: $(STAMP)
	$(PY) -m pip install --quiet --constraint requirements/constraints.txt -r packaging/requirements.txt
	PY=$(PY) sh packaging/build.sh

# unpack and run the bundle on a bare environment, then install the .deb (needs Xvfb, openbox, root for apt)
smoke:
	sh packaging/smoke_test.sh

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache
