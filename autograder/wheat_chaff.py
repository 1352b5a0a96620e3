"""Grading a learner's tests by wheat and chaff (Wrenn and Krishnamurthi, 2019).

A learner's test suite is run against several implementations of the thing
it tests. *Wheats* are correct; they differ only where the specification is
silent (a key's format, the order of fields, internal structure). *Chaffs*
each carry one plausible bug. A suite is **valid** if it passes on every
wheat and **thorough** to the degree that it fails on chaffs: a suite that
rejects a wheat scores 0 (it tests something the specification does not
promise), otherwise it scores the share of chaffs it catches.

Each run is a fresh process (in the sandbox when there is one, see
:mod:`autograder.sandbox`), with a timeout, in a working folder of its own.
The implementation under test is compiled to a sourceless ``.pyc`` and
loaded under the module name the learner imports (for example
``course.contracts.payments_client``), so every run looks the same from the
inside: same module and class names, same file name, no source to read. A
suite can tell the implementations apart only by how they behave.

What a part of an assignment grades, and with which implementations, is a
:class:`Part` (see :mod:`autograder.implementations.testing` for the testing
assignment); :func:`grade` runs one and returns a :class:`Verdict`, whose
:meth:`~Verdict.report` names every chaff by its bug class (caught or
missed) and never shows an implementation's code.
"""

from __future__ import annotations

import json
import os
import py_compile
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from pathlib import Path

from . import sandbox

#: What the compiled implementation is called in every run's folder.
IMPLEMENTATION_FILE = "implementation.pyc"
#: The pytest plugin that loads it under the learner-visible module name.
LOADER_PLUGIN = "wheat_chaff_loader"
#: Characters of a failing test's message kept for feedback.
MESSAGE_CHARS = 200
#: The most of a run's output read back (a suite may print without end).
OUTPUT_CHARS = 200_000

LOADER_SOURCE = '''\
"""Loads the implementation under test under the name the tests import (written by the grader)."""
import importlib
import importlib.machinery
import importlib.util
import pathlib
import sys

_NAME = {name!r}
_parent, _, _child = _NAME.rpartition(".")
if _parent:
    importlib.import_module(_parent)
_loader = importlib.machinery.SourcelessFileLoader(
    _NAME, str(pathlib.Path(__file__).with_name({file!r})))
_spec = importlib.util.spec_from_loader(_NAME, _loader)
_module = importlib.util.module_from_spec(_spec)
sys.modules[_NAME] = _module
_loader.exec_module(_module)
if _parent:
    setattr(sys.modules[_parent], _child, _module)
del _loader, _spec, _module
'''


class WheatChaffError(Exception):
    """A part is misconfigured (an implementation missing, no wheat or no chaff)."""


@dataclass(frozen=True)
class Implementation:
    """One implementation a suite runs against.

    ``path`` is its source file (read only by the grader); ``wheat`` says
    whether it is correct; ``description`` is all feedback ever shows of it:
    for a chaff its bug class ("makes a new idempotency key for each retry"),
    for a wheat the way it differs ("formats its idempotency key without
    dashes").
    """

    path: Path
    wheat: bool
    description: str

    @property
    def name(self) -> str:
        """The file's stem: for the instructor's logs, never for the learner."""
        return Path(self.path).stem


@dataclass(frozen=True)
class Run:
    """One suite run against one implementation.

    ``outcome`` is ``"passed"``, ``"failed"`` (some test failed or errored),
    ``"timeout"`` or ``"broken"`` (no test ran: the file does not import,
    collects nothing, or the process died). ``failures`` names the failing
    tests, each with a short message.
    """

    implementation: Implementation | None
    outcome: str
    failures: tuple[tuple[str, str], ...] = ()
    detail: str = ""
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return self.outcome == "passed"

    def summary(self) -> str:
        """One sentence on why the suite did not pass (empty if it did)."""
        if self.outcome == "passed":
            return ""
        if self.outcome == "timeout":
            return f"the tests did not finish within the time limit ({self.detail})"
        if self.outcome == "broken":
            return f"no test ran: {self.detail}"
        if self.failures:
            name, message = self.failures[0]
            more = f" (and {len(self.failures) - 1} more)" if len(self.failures) > 1 else ""
            return f"{name} failed: {message}{more}" if message else f"{name} failed{more}"
        return self.detail or "the tests failed"


@dataclass
class Verdict:
    """A part's score and what feedback says about it."""

    points: float
    max_points: float
    rejected: Run | None = None
    caught: list[Implementation] = field(default_factory=list)
    missed: list[Implementation] = field(default_factory=list)
    problem: str = ""
    runs: list[Run] = field(default_factory=list)

    def report(self) -> str:
        """The text a learner sees: the score, then each chaff by bug class, or why the part scored 0."""
        lines = [f"Score: {self.points:g} of {self.max_points:g} points."]
        if self.problem:
            lines.append(self.problem)
            return "\n".join(lines)
        if self.rejected is not None:
            run = self.rejected
            lines.append("Your tests rejected a correct implementation, so this part scores 0.")
            if run.outcome == "failed" and run.failures:
                name, message = run.failures[0]
                more = f" (and {len(run.failures) - 1} more tests)" if len(run.failures) > 1 else ""
                lines.append(f"  {name} failed{more} on the correct implementation that "
                             f"{run.implementation.description}" + (f": {message}" if message else "."))
            else:
                lines.append(f"  On the correct implementation that {run.implementation.description}, "
                             f"{run.summary()}.")
            lines.append("  A test may only insist on what the specification promises.")
            return "\n".join(lines)
        total = len(self.caught) + len(self.missed)
        lines.append(f"Your tests passed on every correct implementation and caught {len(self.caught)} "
                     f"of {total} buggy ones:")
        for chaff in self.caught:
            lines.append(f"  caught: {chaff.description}")
        for chaff in self.missed:
            lines.append(f"  missed: {chaff.description}")
        return "\n".join(lines)

    def as_metadata(self) -> dict:
        """What the autograded notebook keeps (for feedback and the instructor), as plain JSON."""
        return {"points": self.points, "max_points": self.max_points, "report": self.report(),
                "caught": len(self.caught), "chaffs": len(self.caught) + len(self.missed),
                "rejected_wheat": None if self.rejected is None else self.rejected.implementation.name,
                "runs": [{"implementation": r.implementation.name if r.implementation else None,
                          "outcome": r.outcome, "seconds": round(r.seconds, 2)} for r in self.runs]}


def score(max_points: float, runs: list[Run], *, problem: str = "") -> Verdict:
    """The verdict for runs on every implementation: 0 if a wheat failed, else the share of chaffs caught."""
    if problem:
        return Verdict(0.0, max_points, problem=problem, runs=runs)
    rejected = next((r for r in runs if r.implementation.wheat and not r.passed), None)
    if rejected is not None:
        return Verdict(0.0, max_points, rejected=rejected, runs=runs)
    chaffs = [r for r in runs if not r.implementation.wheat]
    caught = [r.implementation for r in chaffs if not r.passed]
    missed = [r.implementation for r in chaffs if r.passed]
    points = round(max_points * len(caught) / len(chaffs), 2) if chaffs else 0.0
    return Verdict(points, max_points, caught=caught, missed=missed, runs=runs)


# -- running a suite -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Runner:
    """How runs are started: in the sandbox or not, and for how long at most."""

    use_sandbox: bool = True
    timeout: float = 60.0
    hide: tuple[str, ...] = ()
    limits: sandbox.Limits = sandbox.Limits()

    def run(self, argv: list[str], workdir: Path, env: dict[str, str]) -> tuple[int | None, str, float]:
        """Run ``argv`` with ``workdir`` its writable folder; the exit status (None on timeout), output, seconds."""
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8",
               "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0", "PACT_DO_NOT_TRACK": "true",
               # the venv's pytest plugins (nbval, xdist, ...) cost seconds to import and test nothing here
               "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
               "MPLBACKEND": "Agg", **env}
        if self.use_sandbox:
            sandbox.prepare_workdir(workdir)
            _hand_over(workdir)
            command = sandbox.build_command(argv, workdir, hide=self.hide, limits=self.limits,
                                            env={**env, "HOME": sandbox.PRIVATE_HOME})
            cwd = None
        else:
            command = argv
            env = {**env, "HOME": str(workdir)}
            cwd = workdir
        started = time.monotonic()
        with tempfile.TemporaryFile() as output:
            process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                       cwd=cwd, env=env, start_new_session=True)
            try:
                status = process.wait(timeout=self.timeout)
            except subprocess.TimeoutExpired:
                status = None
            finally:
                _kill_group(process)
            output.seek(0)
            text = output.read(OUTPUT_CHARS).decode("utf-8", errors="replace")
        return status, text, time.monotonic() - started


def _hand_over(workdir: Path) -> None:
    """Give the sandbox's user the files the grader wrote into ``workdir``."""
    if os.geteuid() != 0:
        return
    uid = sandbox.sandbox_uid()
    for root, dirs, files in os.walk(workdir):
        for name in dirs + files:
            os.chown(os.path.join(root, name), uid, uid, follow_symlinks=False)


def _kill_group(process: subprocess.Popen) -> None:
    import signal

    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    process.wait()


def compile_implementation(source: Path, target: Path, *, module: str) -> None:
    """Compile ``source`` to a sourceless ``target`` whose code names ``<module's last part>.py``."""
    display = module.rpartition(".")[2] + ".py"
    py_compile.compile(str(source), cfile=str(target), dfile=display, doraise=True,
                       invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)


def _pytest_argv(test_file: Path, junit: Path, workdir: Path, plugins: list[str], *,
                 stop_at_first_failure: bool = False) -> list[str]:
    argv = [sys.executable, "-m", "pytest", str(test_file), "-q", "--color=no", "-p", "no:cacheprovider",
            "-p", "no:randomly", "--rootdir", str(workdir), "-o", "addopts=", "-o", "python_files=test_*.py",
            "--junitxml", str(junit), "-W", "ignore::DeprecationWarning"]
    if stop_at_first_failure:
        argv.append("--exitfirst")
    for plugin in plugins:
        argv += ["-p", plugin]
    return argv


def read_junit(path: Path) -> tuple[int, list[tuple[str, str]]]:
    """How many tests ran, and the failing ones with a short message, from pytest's JUnit XML."""
    try:
        if path.stat().st_size > 5_000_000:
            return 0, []
        root = ElementTree.parse(path).getroot()
    except (OSError, ElementTree.ParseError):
        return 0, []
    ran, failures = 0, []
    for case in root.iter("testcase"):
        ran += 1
        for tag in ("failure", "error"):
            found = case.find(tag)
            if found is not None:
                message = (found.get("message") or "").strip().splitlines()
                text = message[0] if message else tag
                failures.append((str(case.get("name", "?"))[:120], text[:MESSAGE_CHARS]))
                break
        else:
            if case.find("skipped") is not None:
                ran -= 1
    return ran, failures


def run_suite(test_source: str, test_file: str, implementation: Implementation | None, *, module: str | None,
              runner: Runner, env: dict[str, str] | None = None, keep: Path | None = None,
              every_test: bool = False) -> Run:
    """Run the learner's test file once, with ``implementation`` loaded as ``module`` (or none).

    ``env`` adds environment variables (``{workdir}`` in a value is the run's
    folder). ``keep``, if given, receives a copy of what the run left in its
    folder (a consumer suite's pact files). On a chaff the run stops at the
    first failing test, which is enough to catch it; ``every_test`` runs the
    rest too (to see which tests catch which bug).
    """
    with tempfile.TemporaryDirectory(prefix="wheat-chaff-") as tmp:
        workdir = Path(tmp) / "run"
        workdir.mkdir()
        (workdir / test_file).write_text(test_source, encoding="utf-8")
        plugins = []
        if implementation is not None:
            if not Path(implementation.path).is_file():
                raise WheatChaffError(f"implementation file {implementation.path} does not exist")
            compile_implementation(Path(implementation.path), workdir / IMPLEMENTATION_FILE, module=module)
            (workdir / f"{LOADER_PLUGIN}.py").write_text(
                LOADER_SOURCE.format(name=module, file=IMPLEMENTATION_FILE), encoding="utf-8")
            plugins.append(LOADER_PLUGIN)
        junit = workdir / ".results.xml"
        # One failing test is enough to catch a chaff (feedback names only its bug class), and the tests
        # after it may each wait out a timeout on a chaff that hangs.
        catching = implementation is not None and not implementation.wheat and not every_test
        status, output, seconds = runner.run(
            _pytest_argv(workdir / test_file, junit, workdir, plugins, stop_at_first_failure=catching), workdir,
            {"PYTHONPATH": str(workdir), **{k: v.format(workdir=workdir) for k, v in (env or {}).items()}})
        ran, failures = read_junit(junit)
        if keep is not None:
            shutil.copytree(workdir, keep, dirs_exist_ok=True, ignore=shutil.ignore_patterns("*.pyc", "*.xml"))
    return _run_from(implementation, status, output, seconds, ran, failures, runner.timeout)


def _run_from(implementation, status, output, seconds, ran, failures, timeout) -> Run:
    if status is None:
        return Run(implementation, "timeout", (), f"{timeout:g} s", seconds)
    if status == 0 and ran > 0 and not failures:
        return Run(implementation, "passed", (), "", seconds)
    if status == 5 or (ran == 0 and status in (0, 5)):
        return Run(implementation, "broken", (), "pytest found no tests in the file (name them test_...)", seconds)
    if status in (2, 3, 4) or (ran == 0 and status not in (0, 1)):
        return Run(implementation, "broken", tuple(failures), _collection_problem(output, status), seconds)
    if status == 0:  # pytest said yes but the report disagrees: believe the failures
        return Run(implementation, "failed", tuple(failures), "", seconds)
    return Run(implementation, "failed", tuple(failures), "" if failures else _last_line(output), seconds)


def _last_line(output: str) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    return lines[-1][:MESSAGE_CHARS] if lines else ""


def _collection_problem(output: str, status) -> str:
    """The line of pytest's output that says why the file could not be collected."""
    for line in output.splitlines():
        stripped = line.strip()
        if stripped.startswith("E ") and ("Error" in stripped or "error" in stripped):
            problem = stripped[2:].strip()[:MESSAGE_CHARS]
            if problem.startswith("NotImplementedError"):
                problem += " (the file still has the cell's raise NotImplementedError(): write your tests there)"
            return problem
    return _last_line(output) or f"pytest exited with status {status}"


def runner_for(sandboxed: str | bool, *, timeout: float, hide=()) -> Runner:
    """A :class:`Runner` for ``sandboxed``: True/``"required"`` (fail without one), ``"auto"``, False/``"off"``."""
    if sandboxed in (True, "required"):
        sandbox.require()
        use = True
    elif sandboxed == "auto":
        use = sandbox.probe() is None
    else:
        use = False
    return Runner(use_sandbox=use, timeout=timeout, hide=tuple(str(h) for h in hide))


def load_json(text: str):
    """JSON from a run's output line (the last line that parses), or None."""
    for line in reversed(text.splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                continue
    return None


# -- the parts of an assignment ------------------------------------------------------------------


def _progress(progress, note: str) -> None:
    if progress is not None:
        progress(note)


def _each(runner: Runner, parallel: int, work, items) -> list:
    """``work(item)`` for every item, ``parallel`` at a time (runs are processes that mostly wait)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        return list(pool.map(work, items))


def _check_catalog(name: str, implementations) -> None:
    if not any(i.wheat for i in implementations) or all(i.wheat for i in implementations):
        raise WheatChaffError(f"part {name!r} needs at least one wheat and one chaff")


@dataclass(frozen=True)
class SuitePart:
    """A part graded by running the learner's pytest file against each implementation of one module.

    ``grade_id`` is the nbgrader test cell whose score this decides;
    ``tests_cell`` the answer cell that holds the learner's test file (a
    ``%%writefile test_file`` cell); ``module`` the name the tests import the
    implementation by.
    """

    grade_id: str
    tests_cell: str
    test_file: str
    module: str
    implementations: tuple[Implementation, ...]
    parallel: int = 6

    def grade(self, source: str, max_points: float, runner: Runner, progress=None) -> Verdict:
        _check_catalog(self.grade_id, self.implementations)
        wheats = [i for i in self.implementations if i.wheat]
        chaffs = [i for i in self.implementations if not i.wheat]

        def one(implementation):
            run = run_suite(source, self.test_file, implementation, module=self.module, runner=runner)
            _progress(progress, f"{'correct' if implementation.wheat else 'buggy'} implementation: {run.outcome}")
            return run

        # Wheats and chaffs at once: a suite that rejects a wheat scores 0 whatever it catches, but most
        # suites pass every wheat, and waiting for the wheats first would double the time to a verdict.
        runs = _each(runner, self.parallel, one, wheats + chaffs)
        broken = next((r for r in runs if r.outcome == "broken" and r.implementation.wheat), None)
        if broken is not None:
            return score(max_points, runs, problem=f"Your test file could not run: {broken.detail}.")
        return score(max_points, runs)


@dataclass(frozen=True)
class PactPart:
    """A part graded by verifying the pact the learner's consumer tests write against each provider.

    The learner's test file runs once (against pact's mock server, with
    ``PACT_DIR`` set to where the pact goes). The pact it writes must name
    ``consumer`` and ``provider``. It is then verified with pact's Verifier
    against every provider implementation, each served on loopback in a
    process of its own.
    """

    grade_id: str
    tests_cell: str
    test_file: str
    consumer: str
    provider: str
    implementations: tuple[Implementation, ...]
    parallel: int = 4

    def grade(self, source: str, max_points: float, runner: Runner, progress=None) -> Verdict:
        _check_catalog(self.grade_id, self.implementations)
        with tempfile.TemporaryDirectory(prefix="wheat-chaff-pact-") as tmp:
            kept = Path(tmp) / "kept"
            consumer_run = run_suite(source, self.test_file, None, module=None, runner=runner,
                                     env={"PACT_DIR": "{workdir}/pacts"}, keep=kept)
            _progress(progress, f"your consumer tests: {consumer_run.outcome}")
            if not consumer_run.passed:
                return score(max_points, [], problem="Your consumer tests did not pass against the orders client, "
                                                     f"so they wrote no pact to verify: {consumer_run.summary()}.")
            pacts, problem = self.pact_files(kept)
            if problem:
                return score(max_points, [], problem=problem)

            def one(implementation):
                run = verify(pacts, implementation, provider=self.provider, runner=runner)
                _progress(progress, f"{'correct' if implementation.wheat else 'buggy'} provider: {run.outcome}")
                return run

            wheats = [i for i in self.implementations if i.wheat]
            chaffs = [i for i in self.implementations if not i.wheat]
            runs = _each(runner, self.parallel, one, wheats + chaffs)
        return score(max_points, runs)

    def pact_files(self, folder: Path) -> tuple[list[tuple[str, bytes]], str]:
        """The pact files the run wrote (name, content), or why there is none worth verifying."""
        found = []
        for path in sorted(folder.rglob("*.json")):
            if path.is_symlink() or not path.is_file() or path.stat().st_size > 2_000_000:
                continue
            try:
                content = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if not isinstance(content, dict) or "interactions" not in content:
                continue
            consumer = (content.get("consumer") or {}).get("name") if isinstance(content.get("consumer"), dict) else None
            provider = (content.get("provider") or {}).get("name") if isinstance(content.get("provider"), dict) else None
            if (consumer, provider) != (self.consumer, self.provider):
                return [], (f"Your tests wrote a pact between {consumer!r} and {provider!r}; it must be between "
                            f"{self.consumer!r} (the consumer) and {self.provider!r} (the provider).")
            interactions = content.get("interactions")
            if not isinstance(interactions, list) or not interactions:
                return [], "Your tests wrote a pact with no interactions: there is nothing to verify."
            found.append((path.name, path.read_bytes()))
        if not found:
            return [], ("Your tests passed but wrote no pact file. Write it with pact.write_file(...) into the "
                        "folder the PACT_DIR environment variable names (the notebook's pact fixture does).")
        return found, ""


VERIFY_DRIVER = Path(__file__).with_name("pact_verify_driver.py")


def verify(pacts: list[tuple[str, bytes]], implementation: Implementation, *, provider: str, runner: Runner) -> Run:
    """Verify the pact files against one provider implementation, served in a process of its own."""
    with tempfile.TemporaryDirectory(prefix="wheat-chaff-verify-") as tmp:
        workdir = Path(tmp) / "run"
        (workdir / "pacts").mkdir(parents=True)
        for name, content in pacts:
            (workdir / "pacts" / name).write_bytes(content)
        compile_implementation(Path(implementation.path), workdir / IMPLEMENTATION_FILE, module="payments_provider")
        shutil.copyfile(VERIFY_DRIVER, workdir / "verify.py")
        status, output, seconds = runner.run([sys.executable, str(workdir / "verify.py"), provider], workdir, {})
    result = load_json(output)
    if status is None:
        return Run(implementation, "timeout", (), f"{runner.timeout:g} s", seconds)
    if not isinstance(result, dict) or "passed" not in result:
        return Run(implementation, "broken", (), f"the verifier did not answer ({_last_line(output)})", seconds)
    if result["passed"]:
        return Run(implementation, "passed", (), "", seconds)
    return Run(implementation, "failed", (("provider verification", str(result.get("message", ""))[:MESSAGE_CHARS]),),
               "", seconds)
