"""The adversarial corpus (:mod:`tests.grading.attacks`) through ``cohort grade`` and ``check``.

One cohort per assignment: the honest solution (student ``honest``), a blank
notebook (``blank``) and every attack on that assignment, graded by
``autograder.cohort.grade_cohort(course, workers=2, timeout=8, progress=False)``.
It runs in a process of its own, in a session of its own, so that an attack
that kills its grader fails these tests instead of ending the test run, and
under a wall-clock limit, so that a grader that hangs fails them too.

Around the grading the tests watch what a sandbox must prevent: every file of
the course directory outside the attackers' own submission folders
(sha256, before and after; what grading writes is left out), listeners on the
host's loopback and network address that no submission may reach, a client
that tries to reach the server an attack opens on 0.0.0.0, and every process
left over afterwards (the attacks' children carry the test's token, or a
``sleep`` duration of the corpus). Then, for every attack, the outcome it
declares; for the honest learner, full marks in the report and the gradebook;
for everybody, manual scores untouched and feedback without scripts, event
handlers or hidden tests (verbatim or in base64).

``check`` runs too (two at a time), on the attacks that try to cheat the score
or leak (by default all that reach for solutions or leak and one transformer
attack: see ``_for_check``), and must give no more than a blank notebook and
clean feedback.

Run it alone with ``pytest tests/grading/test_attacks.py`` (or ``-m attacks``);
``ATTACKS=name,name`` runs only those attacks, ``ATTACKS_CHECK=all`` runs every
cheating attack through ``check`` too.
"""

from __future__ import annotations

import base64
import binascii
import csv
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest

from tests.grading import attacks as A
from tests.grading import build_submissions as bs
from tests.grading.test_autograder_cli import (assert_no_hidden_source, assert_no_mark_scheme, hidden_test_lines,
                                               html_text)

pytestmark = pytest.mark.attacks

#: ``ATTACKS=name,name`` in the environment runs only those attacks (one to investigate, say); default all.
SELECTED = [a for a in A.ATTACKS if not os.environ.get("ATTACKS")
            or a.name in os.environ["ATTACKS"].split(",")]
ASSIGNMENTS = [spec for spec in bs.SPECS if any(a.assignment == spec for a in SELECTED)]
#: nbgrader's per-cell limit for the cohorts and check (the slowest reference cell takes about 0.5 s).
CELL_TIMEOUT = 8
#: The most one cohort's grading may take before the test calls it hung and kills it.
GRADE_DEADLINE = 600
#: What a graded report's reason may not read like, for a rejected notebook: a Python exception's name.
EXCEPTION_NAME = re.compile(r"\b[A-Z]\w*(?:Error|Exception)\b")
#: A run of base64 long enough to carry a hidden test line.
BASE64_RUN = re.compile(r"[A-Za-z0-9+/]{24,}={0,2}")
#: An HTML tag (for event handlers and javascript: URLs in attributes).
TAG = re.compile(r"<[A-Za-z][^>]*>", re.S)
SCRIPT = re.compile(r"<script\b.*?(?:</script\s*>|$)", re.S | re.I)
HANDLER = re.compile(r"\son[a-z]+\s*=", re.I)
LITERAL_ONERROR = re.compile(r"(?<![a-z])onerror\s*=", re.I)

#: A unique string in every path and command line of this module's cohorts (see attacks.Arena).
TOKEN = "atk" + secrets.token_hex(5)


def _host_ip() -> str:
    import psutil

    for addresses in psutil.net_if_addrs().values():
        for address in addresses:
            if address.family == socket.AF_INET and not address.address.startswith("127."):
                return address.address
    return ""


def _free_port(host: str = "0.0.0.0") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class Listener:
    """A TCP server that records every connection it accepts (no submission may ever reach it)."""

    def __init__(self, host: str):
        self.sock = socket.create_server((host, 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.seen: list[tuple] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stop.is_set():
            try:
                conn, peer = self.sock.accept()
            except OSError:
                continue
            conn.settimeout(1)
            try:
                data = conn.recv(200)
            except OSError:
                data = b""
            conn.close()
            self.seen.append((peer, data))

    def close(self):
        self.stop.set()
        self.thread.join(5)
        self.sock.close()


class Watcher:
    """While grading runs: keep trying to reach the server ``listens_on_all_interfaces`` opens on 0.0.0.0,
    and note every process the grader starts (their sandboxes' uids are derived from their pids).

    That server greets every connection with the run's token. Only a greeting with it counts as reached:
    the port was free when the test chose it, and another process on the host (a kernel, a test's server)
    may bind it meanwhile, which says nothing about the sandbox."""

    def __init__(self, hosts: list[str], port: int, grader_pid: int):
        self.targets = [(h, port) for h in hosts if h]
        self.grader_pid = grader_pid
        self.reached: list[tuple] = []
        self.descendants: set[int] = set()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.thread.start()

    def _watch(self):
        import psutil

        while not self.stop.is_set():
            for target in self.targets:
                try:
                    with socket.create_connection(target, timeout=0.3) as s:
                        s.settimeout(0.5)
                        try:
                            data = s.recv(200)
                        except OSError:
                            data = b""
                    if TOKEN.encode() in data:
                        self.reached.append((target, data))
                except OSError:
                    pass
            try:
                self.descendants.update(p.pid for p in psutil.Process(self.grader_pid).children(recursive=True))
            except psutil.Error:
                pass
            time.sleep(0.1)

    def close(self):
        self.stop.set()
        self.thread.join(5)


@pytest.fixture(scope="module")
def network():
    host_ip = _host_ip()
    loopback = Listener("127.0.0.1")
    outside = Listener(host_ip) if host_ip else None
    yield {"host_ip": host_ip, "loopback": loopback, "outside": outside, "listen_port": _free_port()}
    loopback.close()
    if outside:
        outside.close()


@pytest.fixture(scope="module")
def arena(network):
    return A.Arena(token=TOKEN, host_pid_ns=os.readlink("/proc/self/ns/pid"), host_ip=network["host_ip"],
                   loopback_port=network["loopback"].port,
                   outside_port=network["outside"].port if network["outside"] else 0,
                   listen_port=network["listen_port"], sleep_base=400_000 + 1000 * secrets.randbelow(500))


@pytest.fixture(scope="module")
def base_dir(tmp_path_factory):
    base = tmp_path_factory.mktemp(f"arena-{TOKEN}")
    assert TOKEN in str(base)
    return base


# -- processes ------------------------------------------------------------------------------------


#: The uid a sandboxed kernel runs as (nobody), and, as root, the base of the lead's per-grader uids.
NOBODY = 65534
SANDBOX_UID_BASE = 1_500_000_000


def _leftovers(arena: A.Arena, since: float, grader_pids: set[int] = frozenset()) -> list[dict]:
    """Processes an attack started, or sandboxes, that are still alive: their command line carries the
    token or a corpus ``sleep`` duration, or they run as a sandbox's user (nobody, or the per-grader uid
    ``SANDBOX_UID_BASE + pid`` of one of this grading's processes) and started during grading."""
    import psutil

    sleeps = {str(arena.sleep_base + i) for i in range(1000 * len(A.ATTACKS))}
    sandbox_uids = {SANDBOX_UID_BASE + pid for pid in grader_pids}
    me = os.getpid()
    found = []
    for proc in psutil.process_iter(["pid", "cmdline", "uids", "create_time", "name"]):
        info = proc.info
        if info["pid"] == me:
            continue
        cmdline = info["cmdline"] or []
        text = " ".join(cmdline)
        uid = info["uids"].real if info["uids"] else None
        ours = TOKEN in text or (info["name"] == "sleep" and len(cmdline) == 2 and cmdline[1] in sleeps)
        ours = ours or uid in sandbox_uids
        if not ours and uid == NOBODY and (info["create_time"] or 0) >= since:
            try:
                ours = any(TOKEN in v for v in proc.environ().values()) or TOKEN in proc.cwd()
            except (psutil.Error, OSError):
                ours = False
        if ours:
            found.append({"pid": info["pid"], "cmdline": text, "uid": info["uids"].real if info["uids"] else None,
                          "create_time": info["create_time"]})
    return found


def _end(processes: list[dict]) -> None:
    """Kill, by pid, leftover processes the attacks started (checking it is still the same process)."""
    import psutil

    for p in processes:
        try:
            proc = psutil.Process(p["pid"])
            if abs(proc.create_time() - p["create_time"]) < 0.01:
                proc.kill()
        except psutil.Error:
            pass


# -- the cohorts ------------------------------------------------------------------------------------

GRADE = r"""
import json, sys
from autograder.cohort import grade_cohort
result = grade_cohort(sys.argv[1], workers=2, timeout=%d, progress=False)
print(json.dumps({"seconds": result.seconds, "notes": result.notes}))
""" % CELL_TIMEOUT

#: What grading itself writes in the course directory (left out of the before/after comparison).
WRITTEN_BY_GRADING = ("autograded", "feedback", "reports")
GRADEBOOK_FILES = ("gradebook.db", "gradebook.db-journal", "gradebook.db-wal", "gradebook.db-shm")


def _snapshot(course: Path, attackers: set[str]) -> dict[str, str]:
    digests = {}
    for path in sorted(course.rglob("*")):
        relative = path.relative_to(course)
        parts = relative.parts
        if not path.is_file() or parts[0] in WRITTEN_BY_GRADING or (len(parts) == 1 and parts[0] in GRADEBOOK_FILES):
            continue
        if parts[0] == "submitted" and len(parts) > 1 and parts[1] in attackers:
            continue
        digests[str(relative)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digests


#: The gradebook's record of the assignment itself: grading adds submissions and grades, never changes these.
ASSIGNMENT_TABLES = ("assignment", "notebook", "base_cell", "source_cell", "grade_cells", "solution_cells",
                     "task_cells")


def _assignment_in_gradebook(course: Path) -> dict[str, list]:
    """The rows of :data:`ASSIGNMENT_TABLES` in the course gradebook (the source cells and their checksums)."""
    import sqlite3

    path = course / "gradebook.db"
    if not path.is_file():
        return {}
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30) as conn:
        rows = {table: sorted(map(repr, conn.execute(f"SELECT * FROM {table}"))) for table in ASSIGNMENT_TABLES}
    conn.close()
    return rows


def _read_report(course: Path, assignment: str) -> tuple[list[str], dict[str, dict]]:
    path = course / "reports" / f"{assignment}_report.csv"
    if not path.is_file():
        return [], {}
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        rows = {row["student"]: row for row in reader}
        return list(reader.fieldnames or []), rows


def _gradebook(course: Path, spec) -> dict[str, dict]:
    """student -> {"auto": autograded points (score of test cells), "manual": {cell: manual_score}}."""
    from nbgrader.api import Gradebook, MissingEntry

    autograded = spec.autograded_ids()
    found = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "mup") as gb:
        for student in gb.students:
            try:
                sub = gb.find_submission(spec.id, student.id)
            except MissingEntry:
                continue
            auto, manual = 0.0, {}
            for nb in sub.notebooks:
                for grade in nb.grades:
                    if grade.name in autograded:
                        auto += grade.score or 0.0
                    manual[grade.name] = grade.manual_score
            found[student.id] = {"auto": auto, "manual": manual, "score": sub.score}
    return found


def _gradebook_or_nothing(course: Path, spec) -> dict[str, dict]:
    try:
        return _gradebook(course, spec)
    except Exception as error:  # a gradebook an attack broke: the tests that read it say so
        return {"(unreadable)": {"auto": -1.0, "manual": {"error": repr(error)}, "score": -1.0}}


def _outputs_text(notebook: Path) -> str:
    """Every output of a graded notebook, as text."""
    if not notebook.is_file():
        return ""
    nb = nbformat.read(str(notebook), as_version=4)
    chunks = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                chunks.append(out.get("text", ""))
            elif out.get("output_type") == "error":
                chunks.append(f"{out.get('ename')}: {out.get('evalue')}\n" + "\n".join(out.get("traceback", [])))
            else:
                chunks += [v if isinstance(v, str) else json.dumps(v) for v in out.get("data", {}).values()]
    return "\n".join(chunks)


@pytest.fixture(scope="module")
def student_versions(base_dir):
    """assignment -> (course directory, student version path, visible sources), generated once each."""
    made = {}
    for assignment in ASSIGNMENTS:
        spec = bs.SPECS[assignment]
        course = spec.make_course(base_dir / assignment / "course", timeout=CELL_TIMEOUT)
        student = spec.generate_student_version(course)
        sources = "\n".join(c.source for c in nbformat.read(student, as_version=4).cells)
        made[assignment] = {"course": course, "student": student, "sources": sources,
                            "hidden": hidden_test_lines(sources, spec)}
    return made


@pytest.fixture(scope="module")
def cohorts(student_versions, arena, network, base_dir):
    """assignment -> what grading its cohort did (graded lazily, once each)."""
    done: dict[str, dict] = {}
    started_processes: list[dict] = []

    def get(assignment: str) -> dict:
        if assignment not in done:
            done[assignment] = _grade(assignment, student_versions[assignment], arena, network, base_dir,
                                      started_processes)
        return done[assignment]

    yield get
    _end(started_processes + _leftovers(arena, 0))
    Path(A.config_poison_file(arena)).unlink(missing_ok=True)
    for assignment in done:
        shutil.rmtree(Path(tempfile.gettempdir()) / f"{TOKEN}-{assignment}", ignore_errors=True)


def _grade(assignment, made, arena, network, base_dir, started_processes) -> dict:
    spec = bs.SPECS[assignment]
    course = made["course"]
    student = nbformat.read(made["student"], as_version=4)
    attacks = [a for a in SELECTED if a.assignment == assignment]
    for name, nb in (("honest", _solution(student, spec)), ("blank", A._copy(student))):
        A.write(A.Submission(nb), course / "submitted" / name / assignment, f"{assignment}.ipynb")
    for attack in attacks:
        A.write(A.build(attack, student, spec, arena), course / "submitted" / attack.name / assignment,
                f"{assignment}.ipynb")
    attackers = {a.name for a in attacks}
    before = _snapshot(course, attackers)
    source_before = _assignment_in_gradebook(course)

    # The grader's temporary files (its run folder: the workers' gradebook copy, executed notebooks, the
    # kernels' folders) in a folder named by the token, so attacks may aim at them; short, because a
    # kernel's Unix socket path must fit in 107 bytes.
    tmp = Path(tempfile.gettempdir()) / f"{TOKEN}-{assignment}"
    tmp.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, TMPDIR=str(tmp))
    seen_before = {side: len(network[side].seen) for side in ("loopback", "outside") if network[side]}
    since = time.time()
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", GRADE, str(course)], cwd=base_dir / assignment, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    watcher = Watcher(["127.0.0.1", network["host_ip"]], network["listen_port"], proc.pid)
    try:
        out, err = proc.communicate(timeout=GRADE_DEADLINE)
        hung = False
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        hung = True
    wall = time.perf_counter() - started
    watcher.close()
    connections = [c for side, n in seen_before.items() for c in network[side].seen[n:]]

    leftovers = _leftovers(arena, since, watcher.descendants | {proc.pid})
    started_processes += leftovers
    # A delayed writer that outlived grading: let it do its harm, so the checks below see it.
    delayed = [p for p in leftovers if "-delayed" in p["cmdline"] or "overwrites_other" in p["cmdline"]]
    if delayed:
        import psutil

        deadline = time.time() + A.DELAYED_WRITE_SECONDS + 20
        while time.time() < deadline and any(psutil.pid_exists(p["pid"]) for p in delayed):
            time.sleep(1)
    after = _snapshot(course, attackers)
    try:
        source_after = _assignment_in_gradebook(course)
    except Exception as error:  # an attack broke the gradebook
        source_after = {"error": [repr(error)]}
    header, report = _read_report(course, assignment)
    return {"assignment": assignment, "spec": spec, "course": course, "attacks": attacks, "returncode": proc.returncode,
            "stdout": out, "stderr": err, "hung": hung, "wall": wall, "before": before, "after": after,
            "source_before": source_before, "source_after": source_after,
            "header": header, "report": report, "leftovers": leftovers, "reached": list(watcher.reached),
            "connections": connections,
            "gradebook": _gradebook_or_nothing(course, spec),
            "hidden": made["hidden"], "sources": made["sources"]}


def _solution(student, spec):
    nb = A._copy(student)
    for grade_id, code in spec.solution_code().items():
        A.cell_by_id(nb, grade_id).source = code
    return nb


def _autograded(cohort: dict, name: str) -> Path:
    a = cohort["assignment"]
    return cohort["course"] / "autograded" / name / a / f"{a}.ipynb"


def _feedback(cohort: dict, name: str) -> Path:
    a = cohort["assignment"]
    return cohort["course"] / "feedback" / name / a / f"{a}.html"


def _flag_column(header: list[str]) -> str:
    column = next((c for c in header if "flag" in c.lower()), None)
    if column is None:
        pytest.skip("TODO(lead): the report has no column whose name contains 'flag' yet")
    return column


# -- feedback ---------------------------------------------------------------------------------------


def _page_scripts(raw: str) -> set[str]:
    """The scripts of the feedback page itself (nbconvert's template puts MathJax in the <head>, before
    anything of the notebook): a learner's output or markdown can only land in the <body>."""
    head = raw.split("<body", 1)[0] if "<body" in raw else ""
    return set(SCRIPT.findall(head))


def _decoded_runs(text: str) -> list[str]:
    decoded = []
    for run in BASE64_RUN.findall(text):
        for candidate in (run, run.rstrip("=")):
            padded = candidate + "=" * (-len(candidate) % 4)
            try:
                decoded.append(base64.b64decode(padded, validate=True).decode("utf-8", errors="ignore"))
                break
            except (binascii.Error, ValueError):
                continue
    return decoded


def feedback_problems(path: Path, hidden: set[str], spec) -> list[str]:
    """What is wrong with one feedback page: scripts, event handlers, javascript: URLs, hidden tests
    (verbatim or in base64), mark schemes, attack markers."""
    raw = path.read_text(encoding="utf-8", errors="replace")
    problems = []
    allowed = _page_scripts(raw)
    scripts = [s for s in SCRIPT.findall(raw) if s not in allowed]
    if scripts:
        problems.append(f"a <script> element: {scripts[0][:120]!r}")
    for tag in TAG.findall(SCRIPT.sub("", raw)):
        if HANDLER.search(tag) or "javascript:" in tag.lower() or re.match(r"<(iframe|object|embed)\b", tag, re.I):
            problems.append(f"an active tag: {tag[:120]!r}")
            break
    if LITERAL_ONERROR.search(raw):
        problems.append("the text 'onerror='")
    text = html_text(path)
    try:
        assert_no_hidden_source(text, hidden, str(path))
        assert_no_mark_scheme(text, str(path), spec)
    except AssertionError as error:
        problems.append(str(error)[:300])
    prefixes = {line[:24] for line in hidden if len(line) >= 24}
    for decoded in _decoded_runs(text) + _decoded_runs(raw):
        leaked = [line for line in hidden if line in decoded] or [p for p in prefixes if p in decoded]
        if leaked:
            problems.append(f"hidden test source in base64: {leaked[0]!r}")
            break
    if A.WON in text:
        problems.append("an attack's success line: " + text[text.index(A.WON):][:120])
    return problems


# -- the tests: cohort grade ----------------------------------------------------------------------------


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_cohort_grading_finishes_with_a_report(cohorts, assignment):
    cohort = cohorts(assignment)
    assert not cohort["hung"], f"grading hung (killed after {GRADE_DEADLINE} s)"
    assert cohort["returncode"] == 0, cohort["stderr"][-3000:]
    names = {"honest", "blank", *(a.name for a in cohort["attacks"])}
    assert set(cohort["report"]) == names, set(cohort["report"]) ^ names


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_the_honest_learner_keeps_full_marks(cohorts, assignment):
    cohort = cohorts(assignment)
    spec = cohort["spec"]
    full = spec.autograded_points
    honest = cohort["report"].get("honest")
    assert honest is not None, "no report row for the honest learner"
    assert (honest["status"], float(honest["score"])) == ("graded", full), honest
    assert cohort["gradebook"].get("honest", {}).get("auto") == full, cohort["gradebook"].get("honest")
    assert cohort["gradebook"]["honest"]["score"] == full, "the honest learner's total in the gradebook changed"
    grades = cohort["course"] / "reports" / "grades.csv"
    with grades.open(newline="") as f:
        exported = {row["student_id"]: row for row in csv.DictReader(f)}
    assert float(exported["honest"]["raw_score"]) == full


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_manual_scores_are_untouched(cohorts, assignment):
    cohort = cohorts(assignment)
    assert cohort["gradebook"], "no gradebook submissions"
    changed = {(student, cell): score for student, got in cohort["gradebook"].items()
               for cell, score in got["manual"].items() if score not in (None, 0, 0.0)}
    assert not changed, f"manual scores written: {sorted(changed.items())[:5]}"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_no_file_outside_the_attackers_own_folders_changed(cohorts, arena, assignment):
    cohort = cohorts(assignment)
    before, after = cohort["before"], cohort["after"]
    changed = sorted(p for p in before.keys() | after.keys() if before.get(p) != after.get(p))
    assert not changed, f"changed, created or deleted: {changed[:10]}"
    assert not Path(A.config_poison_file(arena)).exists(), "the course configuration ran code a learner wrote"
    source_before, source_after = cohort["source_before"], cohort["source_after"]
    altered = [t for t in source_before.keys() | source_after.keys() if source_before.get(t) != source_after.get(t)]
    assert not altered, f"the assignment's own records in the gradebook changed (tests, checksums): {altered}"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_no_process_outlives_grading(cohorts, assignment):
    cohort = cohorts(assignment)
    leftovers = [{**p, "cmdline": p["cmdline"][:120] + " ... " + p["cmdline"][-80:]} for p in cohort["leftovers"]]
    assert not leftovers, f"{len(leftovers)} processes outlived grading, e.g. {leftovers[:3]}"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_no_submission_reaches_the_host_network(cohorts, assignment):
    cohort = cohorts(assignment)
    reached = cohort["connections"]
    assert not reached, f"a submission connected to the host's listeners: {reached[:3]}"
    assert not cohort["reached"], f"the host reached a server a submission opened: {cohort['reached'][:3]}"


@pytest.mark.parametrize("attack", SELECTED, ids=lambda a: a.name)
def test_attack_gets_its_expected_outcome(cohorts, attack):
    cohort = cohorts(attack.assignment)
    row = cohort["report"].get(attack.name)
    assert row is not None, f"no report row for {attack.name} (grading finished: {cohort['returncode'] == 0})"
    score = float(row["score"])
    in_gradebook = cohort["gradebook"].get(attack.name, {}).get("auto", 0.0)
    if attack.expect_max_score is not None:
        assert score <= attack.expect_max_score, f"{attack.what}: scored {score} ({row['reason'][:300]})"
        assert in_gradebook <= attack.expect_max_score, f"{attack.what}: {in_gradebook} in the gradebook"
    if attack.expect_score is not None:
        assert (row["status"], score) == ("graded", attack.expect_score), row
    if attack.expect_status is not None:
        assert row["status"] == attack.expect_status, row
    if attack.expect_reason is not None:
        # A rejection says why in its reason; a notebook graded anyway may say it in the flags column.
        keyword = A.REASON_KEYWORDS[attack.expect_reason]
        said = row["reason"] + " " + " ".join(row[c] for c in cohort["header"] if "flag" in c.lower())
        assert keyword in said.lower(), f"the reason should mention {keyword!r}: {said!r}"
        if row["status"] != "graded":  # a rejection: one sentence, not a Python exception
            assert not EXCEPTION_NAME.search(row["reason"]), f"a reason a learner can read, please: {row['reason']!r}"
    if attack.limit is not None and row["status"] != "graded":
        assert attack.limit in row["reason"].lower(), f"not graded, and the reason does not name the {attack.limit} " \
                                                      f"limit: {row['reason']!r}"
    outputs = _outputs_text(_autograded(cohort, attack.name))
    assert A.WON not in outputs, outputs[outputs.index(A.WON):][:300]
    if attack.base == "blank":
        seen = outputs + (_feedback(cohort, attack.name).read_text(errors="replace")
                          if _feedback(cohort, attack.name).is_file() else "")
        leaked = [s for s in cohort["spec"].solution_secrets if s in seen]
        assert not leaked, f"a blank submission's outputs show a solution: {leaked}"
    if attack.required_output is not None:
        assert attack.required_output in outputs, f"{attack.required_output!r} missing from its outputs"
    if attack.max_notebook_bytes is not None and _autograded(cohort, attack.name).is_file():
        assert _autograded(cohort, attack.name).stat().st_size <= attack.max_notebook_bytes
    if attack.max_feedback_bytes is not None and _feedback(cohort, attack.name).is_file():
        assert _feedback(cohort, attack.name).stat().st_size <= attack.max_feedback_bytes


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_the_report_flags_own_implementations_and_only_them(cohorts, assignment):
    cohort = cohorts(assignment)
    column = _flag_column(cohort["header"])
    report = cohort["report"]
    for name in ("honest", "blank"):
        assert not report[name][column].strip(), f"{name} is flagged: {report[name][column]!r}"
    for attack in cohort["attacks"]:
        if attack.flag is not None:
            assert bool(report[attack.name][column].strip()) == attack.flag, (attack.name, report[attack.name][column])


@pytest.mark.parametrize("attack", SELECTED, ids=lambda a: a.name)
def test_feedback_shows_no_script_and_no_hidden_test(cohorts, attack):
    cohort = cohorts(attack.assignment)
    row = cohort["report"].get(attack.name)
    assert row is not None, f"no report row for {attack.name}"
    feedback = _feedback(cohort, attack.name)
    if row["status"] != "graded":
        return  # nothing to show a learner whose notebook was not graded
    assert feedback.is_file(), f"no feedback for a graded submission: {feedback}"
    problems = feedback_problems(feedback, cohort["hidden"], cohort["spec"])
    assert not problems, problems


# -- the tests: check ------------------------------------------------------------------------------------

CHECK = r"""
import json, sys
from autograder import AutograderError
from autograder.check import check
try:
    result = check(sys.argv[1], sys.argv[2], timeout=%d)
except AutograderError as error:
    print(json.dumps({"error": str(error)}))
else:
    print(json.dumps({"score": result.score, "max_score": result.max_score, "notes": result.notes,
                      "feedback": str(result.feedback) if result.feedback else None}))
""" % CELL_TIMEOUT

def _for_check(attacks: list[A.Attack]) -> list[A.Attack]:
    """What ``check`` runs: by default one transformer attack, and every attack that reaches for
    the solutions or leaks into feedback (where check's own scratch course differs from a cohort's);
    ``ATTACKS_CHECK=all`` runs every attack that tries to cheat or leak. ``cohort grade`` runs them all
    anyway, through the same guarded execution, and each check costs a scratch course of its own."""
    checked = [a for a in attacks if a.checked]
    if os.environ.get("ATTACKS_CHECK") == "all":
        return checked
    firsts = {}
    for attack in checked:
        firsts.setdefault(attack.kind, attack)
    # check shares cohort grade's guarded execution; what differs is its scratch course (solution theft)
    # and its feedback (leaks), so those run in full and one transformer attack stands for the rest.
    return [a for a in checked
            if a.kind in ("solution_theft", "leak") or (a.kind == "transformer" and firsts[a.kind] is a)]


CHECKED = _for_check(SELECTED)


@pytest.fixture(scope="module")
def checks(student_versions, arena, base_dir):
    """``check`` on every attack in CHECKED (two at a time): name -> its JSON answer."""

    def one(attack):
        spec = bs.SPECS[attack.assignment]
        student = nbformat.read(student_versions[attack.assignment]["student"], as_version=4)
        folder = base_dir / "check" / attack.name
        path = A.write(A.build(attack, student, spec, arena), folder, f"{attack.assignment}.ipynb")
        run = subprocess.run([sys.executable, "-c", CHECK, str(path), attack.assignment], cwd=folder,
                             capture_output=True, text=True, timeout=GRADE_DEADLINE, start_new_session=True)
        try:
            answer = json.loads(run.stdout.strip().splitlines()[-1])
        except (IndexError, ValueError):
            answer = {"crashed": run.stderr[-3000:]}
        return attack.name, answer

    with ThreadPoolExecutor(2) as pool:
        return dict(pool.map(one, CHECKED))


@pytest.mark.parametrize("attack", CHECKED, ids=lambda a: a.name)
def test_check_gives_no_more_than_blank_and_clean_feedback(checks, student_versions, attack):
    answer = checks[attack.name]
    assert "crashed" not in answer, answer.get("crashed")
    if "error" in answer:  # check refused to grade it: nothing earned, nothing shown
        assert "Traceback" not in answer["error"]
        return
    assert answer["score"] <= (attack.expect_max_score or 0), f"{attack.what}: check gave {answer['score']}"
    assert answer["feedback"], f"check wrote no feedback: {answer['notes']}"
    made = student_versions[attack.assignment]
    problems = feedback_problems(Path(answer["feedback"]), made["hidden"], bs.SPECS[attack.assignment])
    assert not problems, problems


# -- the corpus itself (no grading) ----------------------------------------------------------------------


def test_the_corpus_covers_both_assignments_and_every_kind():
    assert len(A.ATTACKS) >= 25
    for assignment in ASSIGNMENTS:
        assert len(A.attacks_of(assignment)) >= 10, assignment
    assert {a.kind for a in A.ATTACKS} == set(A.KINDS)


@pytest.mark.parametrize("attack", A.ATTACKS, ids=lambda a: a.name)
def test_every_attack_builds_a_notebook_with_the_attack_in_an_answer_cell(attack, tmp_path):
    """Built from a stand-in student version (the source notebook): readable, and its test cells untouched."""
    spec = bs.SPECS[attack.assignment]
    student = nbformat.read(spec.source, as_version=4)
    arena = A.Arena(token="atktoken", host_pid_ns="pid:[1]", host_ip="192.0.2.1", loopback_port=1, outside_port=2,
                    listen_port=3)
    sub = A.build(attack, student, spec, arena)
    path = A.write(sub, tmp_path, f"{spec.id}.ipynb")
    nbformat.validate(nbformat.read(str(path), as_version=4))
    if attack.kind != "notebook":
        tests = {A._meta(c)["grade_id"]: c.source for c in student.cells
                 if A._meta(c).get("grade") and not A._meta(c).get("solution")}
        built = {A._meta(c)["grade_id"]: c.source for c in sub.notebook.cells if A._meta(c).get("grade_id") in tests}
        assert built == tests, "an attack must live in answer cells (nbgrader restores test cells)"
    for cell in sub.notebook.cells:
        if cell.cell_type == "code":
            compile(cell.source, attack.name, "exec")  # every cell is valid Python
