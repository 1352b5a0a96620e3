# Microservices Under Pressure — developer and learner entry points.
#   make lab    install into .venv and open the course in JupyterLab
#   make test   install and run the whole test suite (lessons included)
#   make bench  print the benchmark figures
#   make update pull a newer version of the course, keeping any lesson you edited

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
ARGS   ?=
# JupyterLab's configuration for this course (.jupyter/): learners get the
# learner/ layer on top (nbgrader's authoring tools hidden); INSTRUCTOR=1 drops it.
LAB_CONFIG := $(CURDIR)/.jupyter
LAB_CONFIG_PATH := $(if $(INSTRUCTOR),,$(LAB_CONFIG)/learner:)$(LAB_CONFIG)$(if $(JUPYTER_CONFIG_PATH),:$(JUPYTER_CONFIG_PATH),)
# pact-python's core sends usage data unless told not to (lesson 06, the testing assignment).
export PACT_DO_NOT_TRACK := true
# JupyterLab refuses to run as root unless told it may (containers, CI).
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: install lab test bench update clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed; set PYTHON=python3.x")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "Installing the course into $(VENV) (a few minutes the first time)..."
	@PYTHONWARNINGS=ignore $(PY) -m pip install -qq --upgrade pip
	@PYTHONWARNINGS=ignore $(PY) -m pip install -qq -e '.[test]'
	@touch $(STAMP)

lab: $(STAMP)
	JUPYTER_CONFIG_PATH="$(LAB_CONFIG_PATH)" $(VENV)/bin/jupyter lab $(ROOT_FLAG) $(ARGS)

# Test files run on TEST_WORKERS processes (pytest-xdist). A file's tests stay
# together (a class's, where a file has test classes), so its module fixtures (a
# graded cohort, a JupyterLab) are built once; tests/conftest.py starts the
# longest files first. Six on two cores: much of the time a process waits on a
# kernel, a sandboxed test run or a browser.
TEST_WORKERS ?= 6
test: $(STAMP)
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadscope tests course --nbval-lax $(ARGS)

bench: $(STAMP)
	$(PY) -m course.bench $(ARGS)

# Lessons save without outputs (.jupyter/), so running them changes nothing git
# sees. A lesson you edited yourself is copied to my-work/lesson-edits/ first.
# The next `make lab` reinstalls if the dependencies changed.
update:
	@edited="$$(git diff --name-only -- 'course/*.ipynb')"; \
	if [ -n "$$edited" ]; then \
	  mkdir -p my-work/lesson-edits; stamp="$$(date +%Y%m%d-%H%M%S)"; \
	  for f in $$edited; do \
	    copy="my-work/lesson-edits/$$(basename "$$f" .ipynb).$$stamp.ipynb"; \
	    cp "$$f" "$$copy" && echo "Your edited $$f is kept as $$copy"; \
	  done; \
	  git checkout -- $$edited; \
	fi
	git pull --ff-only

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
