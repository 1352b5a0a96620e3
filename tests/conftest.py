"""Test order for ``make test``: the longest files first.

pytest-xdist (``--dist loadscope``) hands whole files (or test classes) to
its workers in the order they were collected, so a long file collected last runs on after the
other workers have finished. Starting the long files first keeps every
worker busy to the end. The order of tests within a file is unchanged.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

#: Test files that take a minute or more of one worker (measured with ``--junitxml``), longest first.
LONG_FILES = (
    "tests/lessons/test_dashboard_pictures.py",
    "tests/grading/test_autograder_cli.py",
    "tests/grading/test_attacks.py",
    "tests/browser/test_lessons_browser.py",
    "tests/grading/test_assignment_nbgrader.py",
    "tests/lessons/test_lesson03_claims.py",
    "tests/sim/test_queueing.py",
    "tests/grading/test_learner_commands.py",
    "tests/reproductions/test_tail_at_scale.py",
    "tests/grading/test_testing_assignment.py",
    "tests/lessons/test_dashboards.py",
    "tests/lessons/test_lesson00_claims.py",
    "tests/lessons/test_lesson02_claims.py",
    "tests/lessons/test_lesson01_claims.py",
    "tests/browser/test_learner_path.py",
)
_RANK = {name: rank for rank, name in enumerate(LONG_FILES)}
_ROOT = Path(__file__).resolve().parents[1]


def _rank(item) -> int:
    try:
        relative = Path(str(item.path)).resolve().relative_to(_ROOT).as_posix()
    except ValueError:
        return len(LONG_FILES)
    return _RANK.get(relative, len(LONG_FILES))


def pytest_collection_modifyitems(session, config, items):
    items.sort(key=_rank)  # stable: files keep their tests' order, and the rest keep theirs


# -- an optional timeline for tuning the order above: TEST_TIMELINE=<file> makes every xdist worker append
# "worker<TAB>start<TAB>end<TAB>test id" per test (the controller writes nothing). ---------------------------

_STARTS: dict[str, float] = {}


def pytest_runtest_logstart(nodeid, location):
    _STARTS[nodeid] = time.time()


def pytest_runtest_logfinish(nodeid, location):
    path, worker = os.environ.get("TEST_TIMELINE"), os.environ.get("PYTEST_XDIST_WORKER")
    if path and worker:
        with open(path, "a", encoding="utf-8") as out:
            out.write(f"{worker}\t{_STARTS.pop(nodeid, time.time()):.2f}\t{time.time():.2f}\t{nodeid}\n")
