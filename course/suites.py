"""Run a test file you wrote in a notebook, with pytest, in a fresh process.

In the testing assignment your tests live in a file (a ``%%writefile
test_....py`` cell writes it). :func:`run_tests` runs that file the way the
grader does, in a process of its own so nothing your notebook defined leaks
into it, and shows pytest's verdict for each test::

    run_tests("test_payments_client.py")

It raises ``AssertionError`` naming the failing tests if any test fails, so a
cell that calls it fails too. You can also run the file from a terminal:
``python -m pytest test_payments_client.py``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

#: pytest's one line per test in ``-rA`` summaries: ``PASSED test_x.py::test_name``.
_RESULT = re.compile(r"^(PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS)\s+(\S+?)(?:\s+-\s+(.*))?$")
#: Characters of output shown when pytest could not run the file at all.
SHOWN_CHARS = 4_000


@dataclass(frozen=True)
class TestRun:
    """What one run of a test file gave: every test's outcome, and pytest's exit status."""

    outcomes: tuple[tuple[str, str, str], ...]  # (outcome, test name, short reason)
    status: int
    output: str

    @property
    def passed(self) -> list[str]:
        return [name for outcome, name, _ in self.outcomes if outcome == "PASSED"]

    @property
    def failed(self) -> list[str]:
        return [name for outcome, name, _ in self.outcomes if outcome in ("FAILED", "ERROR")]


def _environment(pact_dir: str | None) -> dict[str, str]:
    env = dict(os.environ)
    env["PACT_DO_NOT_TRACK"] = "true"
    env.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # the course's own pytest plugins cost seconds and test nothing here
    if pact_dir is not None:
        env["PACT_DIR"] = pact_dir
    return env


def run_tests(path: str | os.PathLike, *, timeout: float = 120.0, pact_dir: str | None = None,
              show: bool = True) -> TestRun:
    """Run the pytest file at ``path`` in a fresh process and report each test (see the module docstring).

    ``pact_dir`` sets ``PACT_DIR``, the folder a pact consumer test writes its
    pact into. ``timeout`` (seconds) stops a suite that hangs.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"path: no test file {str(path)!r} here ({Path.cwd()}); run the cell that "
                                "writes it (%%writefile ...) first")
    if not timeout > 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
    command = [sys.executable, "-m", "pytest", str(path), "-q", "-rA", "--no-header", "--color=no", "-p", "no:cacheprovider",
               "-o", "addopts=", "--rootdir", str(path.resolve().parent), "-W", "ignore::DeprecationWarning"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                              cwd=path.resolve().parent, env=_environment(pact_dir), stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"the tests in {path.name} did not finish within {timeout:g} s: does one of them wait "
                             "for a server that never answers, with no timeout?") from None
    outcomes = []
    for line in done.stdout.splitlines():
        match = _RESULT.match(line.strip())
        if match:
            outcome, node, reason = match.groups()
            outcomes.append((outcome, node.split("::", 1)[-1], (reason or "").strip()))
    run = TestRun(tuple(outcomes), done.returncode, done.stdout + done.stderr)
    if show:
        _show(run, path)
    if done.returncode == 5 or not outcomes and done.returncode == 0:
        raise AssertionError(f"pytest found no tests in {path.name}: name your test functions test_...")
    if not outcomes or done.returncode not in (0, 1):
        errors = [line.strip()[2:].strip() for line in run.output.splitlines() if line.strip().startswith("E ")]
        why = errors[-1] if errors else f"exit status {done.returncode}"
        print(run.output[-SHOWN_CHARS:])
        raise AssertionError(f"pytest could not run {path.name} ({why}); its output is above")
    if run.failed:
        raise AssertionError(f"{len(run.failed)} of {len(outcomes)} tests failed: {', '.join(run.failed)}")
    return run


def _show(run: TestRun, path: Path) -> None:
    marks = {"PASSED": "passed", "FAILED": "FAILED", "ERROR": "ERROR", "SKIPPED": "skipped"}
    for outcome, name, reason in run.outcomes:
        detail = f": {reason}" if reason and outcome != "PASSED" else ""
        print(f"  {marks.get(outcome, outcome.lower()):7} {name}{detail}")
    if run.outcomes:
        print(f"{len(run.passed)} of {len(run.outcomes)} tests in {path.name} passed.")


def show_pact(folder: str | os.PathLike = "pacts") -> list[dict]:
    """Print what the pact files in ``folder`` promise, one line per interaction, and return the pacts.

    For each interaction: its provider state, the request, and the status
    the consumer expects, with the fields of the response body it names.
    """
    import json

    folder = Path(folder)
    files = sorted(folder.glob("*.json")) if folder.is_dir() else []
    if not files:
        raise AssertionError(f"no pact file in {str(folder)!r}: run your consumer tests first (they write it there)")
    pacts = []
    for path in files:
        pact = json.loads(path.read_text(encoding="utf-8"))
        pacts.append(pact)
        consumer = pact.get("consumer", {}).get("name", "?")
        provider = pact.get("provider", {}).get("name", "?")
        interactions = pact.get("interactions", [])
        print(f"{path.name}: {consumer} expects of {provider}, in {len(interactions)} interaction(s):")
        for interaction in interactions:
            request, response = interaction.get("request", {}), interaction.get("response", {})
            states = ", ".join(s.get("name", "?") for s in interaction.get("providerStates", [])) or "no state"
            body = response.get("body", {})
            content = body.get("content") if isinstance(body, dict) and "content" in body else body
            fields = f" with {', '.join(content)}" if isinstance(content, dict) else ""
            print(f"  - {interaction.get('description', '?')} [given: {states}]: "
                  f"{request.get('method', '?')} {request.get('path', '?')} -> {response.get('status', '?')}{fields}")
    return pacts
