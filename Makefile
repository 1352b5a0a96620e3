# Microservices Under Pressure — developer and learner entry points.
#   make lab    install into .venv and open the course in JupyterLab
#   make test   install and run the whole test suite (lessons included)
#   make bench  print the benchmark figures

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
ARGS   ?=
# JupyterLab refuses to run as root unless told it may (containers, CI).
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: install lab test bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "Python 3.10 or newer is needed; set PYTHON=python3.x")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

lab: $(STAMP)
	$(VENV)/bin/jupyter lab course/00_start_here.ipynb $(ROOT_FLAG) $(ARGS)

test: $(STAMP)
	$(PY) -m pytest tests course --nbval-lax $(ARGS)

bench: $(STAMP)
	$(PY) -m course.bench $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
