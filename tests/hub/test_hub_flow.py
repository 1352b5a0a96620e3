"""A real JupyterHub, two real Unix users, the whole nbgrader flow through the HTTP APIs a person's clicks use.

The hub is configured by ``python -m autograder hub config`` (PAM, the local
process spawner, an exchange with the sticky bit), listens on 127.0.0.1 on free
ports, and spawns each user's server as that user from an environment they
can run (:mod:`tests.hub.userenv`). The student logs in at the login page
with their Unix password (a wrong one is refused). The instructor generates and releases
through formgrader's API; the student fetches, answers (the contents API) and
submits through the assignment list's API; the instructor collects through
formgrader; ``python -m autograder cohort grade`` grades the collected
submission in the sandbox and writes feedback; formgrader generates it again
(as after hand grading) and releases it, and the student fetches it: it must hold their score and no hidden test. Then
everything is stopped and the users removed, also when a step fails, and the
test checks that no user, process or port is left.

Runs as root with ``useradd``, configurable-http-proxy (npm), jupyterhub and
bubblewrap present and Debian's ``/usr/bin/python3`` of the project's minor
version; skipped with the reason otherwise, unless ``REQUIRE_HUB=1`` (as CI
sets), which makes a missing tool a failure.
"""

from __future__ import annotations

import csv
import html
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import pytest

from tests.grading import build_submissions as bs
from tests.grading.test_autograder_cli import assert_no_hidden_source, hidden_test_lines

pytestmark = pytest.mark.hub

REPO_ROOT = Path(__file__).resolve().parents[2]
SYSTEM_PYTHON = "/usr/bin/python3"
COURSE_ID = "mup-e2e"
INSTRUCTOR, STUDENT = "muphub-teacher", "muphub-learner"
SPEC = bs.RESILIENCE
ASSIGNMENT = SPEC.id
#: The student's answer: the reference solution with this bug (so the score is neither 0 nor full marks).
BUG = "no_jitter"
CELL_TIMEOUT = 10
SERVER_TIMEOUT = 90.0


def _unavailable(reason: str) -> None:
    """Skip with ``reason``, or fail with it when ``REQUIRE_HUB=1``."""
    if os.environ.get("REQUIRE_HUB") == "1":
        pytest.fail(f"{reason} (REQUIRE_HUB=1 is set)", pytrace=False)
    pytest.skip(reason)


def _require_tools() -> None:
    if os.geteuid() != 0:
        _unavailable("the hub test creates Unix users and runs JupyterHub's local spawner: it runs as root only")
    for tool in ("useradd", "userdel", "configurable-http-proxy"):
        if shutil.which(tool) is None:
            hint = "npm install -g configurable-http-proxy" if tool == "configurable-http-proxy" else "apt-get install passwd"
            _unavailable(f"{tool} is not on PATH ({hint}), or set REQUIRE_HUB=1 to make this a failure")
    try:
        import jupyterhub  # noqa: F401
        import requests  # noqa: F401
    except ImportError as error:
        _unavailable(f"{error.name} is not installed (pip install -e '.[test]')")
    if not os.access(SYSTEM_PYTHON, os.X_OK):
        _unavailable(f"{SYSTEM_PYTHON} is missing: the users' environment is made from a Python they can run")
    from autograder.sandbox import probe

    problem = probe()
    if problem:
        _unavailable(f"cohort grade's sandbox cannot run here: {problem}")


# -- Unix users, processes, ports ---------------------------------------------------------------

def _uid(name: str) -> int | None:
    try:
        return pwd.getpwnam(name).pw_uid
    except KeyError:
        return None


def _pids_of(uid: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    pids.append(int(entry))
            except FileNotFoundError:
                pass
    return pids


def _kill_user_processes(uid: int, timeout: float = 10.0) -> None:
    """TERM, then KILL, every process of ``uid`` (only this test's users ever run any)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in _pids_of(uid):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + timeout
        while _pids_of(uid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if not _pids_of(uid):
            return


def remove_user(name: str) -> None:
    uid = _uid(name)
    if uid is None:
        return
    _kill_user_processes(uid)
    subprocess.run(["userdel", "-r", name], capture_output=True)  # -r: a mail spool may be missing (exit 12)
    if _uid(name) is not None:
        raise RuntimeError(f"userdel could not remove {name}")


def create_user(name: str, password: str) -> None:
    """A fresh user with ``password`` (for PAM); one left by a crashed run is removed first."""
    remove_user(name)
    subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", name], check=True, capture_output=True)
    subprocess.run(["chpasswd"], input=f"{name}:{password}\n", text=True, check=True, capture_output=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


# -- the hub --------------------------------------------------------------------------------------

class Hub:
    """A running JupyterHub and a client for it (the test's admin service token, users' own tokens)."""

    def __init__(self, work: Path):
        import requests

        self.work = work
        self.ports = {"public": _free_port(), "api": _free_port(), "hub": _free_port()}
        self.url = f"http://127.0.0.1:{self.ports['public']}"
        self.token = secrets.token_hex(32)
        self.session = requests.Session()
        self.proc: subprocess.Popen | None = None
        self.user_tokens: dict[str, str] = {}
        self.timings: dict[str, float] = {}

    def start(self, config: Path) -> None:
        state = self.work / "state"
        state.mkdir()
        overlay = state / "test_config.py"
        overlay.write_text("\n".join([
            f"load_subconfig({str(config)!r})",
            f"c.JupyterHub.hub_ip = '127.0.0.1'",
            f"c.JupyterHub.hub_port = {self.ports['hub']}",
            f"c.ConfigurableHTTPProxy.api_url = 'http://127.0.0.1:{self.ports['api']}'",
            f"c.JupyterHub.db_url = 'sqlite:///{state}/jupyterhub.sqlite'",
            f"c.JupyterHub.cookie_secret_file = '{state}/cookie_secret'",
            "c.JupyterHub.services = [{'name': 'e2e', 'api_token': %r}]" % self.token,
            "c.JupyterHub.load_roles = [{'name': 'e2e', 'services': ['e2e'], 'scopes': "
            "['admin:users', 'admin:servers', 'tokens', 'access:servers']}]",
            f"c.Spawner.start_timeout = {int(SERVER_TIMEOUT)}",
            f"c.Spawner.http_timeout = {int(SERVER_TIMEOUT)}",
            "c.JupyterHub.log_level = 'INFO'",
        ]) + "\n")
        env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
        self.log = open(state / "jupyterhub.log", "w")
        self.proc = subprocess.Popen([sys.executable, "-m", "jupyterhub", "-f", str(overlay)], cwd=state, env=env,
                                     stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        self._wait(lambda: self.api("GET", "/hub/api/").ok, 60, "the hub's API")

    def log_tail(self) -> str:
        path = self.work / "state" / "jupyterhub.log"
        return path.read_text(errors="replace")[-6000:] if path.exists() else ""

    def _wait(self, ready, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc and self.proc.poll() is not None:
                raise AssertionError(f"the hub exited ({self.proc.returncode}) waiting for {what}:\n{self.log_tail()}")
            try:
                if ready():
                    return
            except Exception:  # not up yet
                pass
            time.sleep(0.2)
        raise AssertionError(f"{what} not ready in {timeout:.0f} s:\n{self.log_tail()}")

    def api(self, method: str, path: str, token: str | None = None, **kwargs):
        headers = {"Authorization": f"token {token or self.token}"}
        return self.session.request(method, self.url + path, headers=headers, timeout=120, **kwargs)

    def spawn(self, user: str) -> None:
        response = self.api("POST", f"/hub/api/users/{user}/server")
        assert response.status_code in (201, 202), (response.status_code, response.text, self.log_tail())
        token = self.api("POST", f"/hub/api/users/{user}/tokens", json={"note": "e2e", "expires_in": 3600})
        assert token.status_code == 201, token.text
        self.user_tokens[user] = token.json()["token"]

    def wait_ready(self, user: str) -> None:
        def ready():
            server = self.api("GET", f"/hub/api/users/{user}").json()["servers"].get("", {})
            return server.get("ready") and self.as_user(user, "GET", "/api/status").ok
        self._wait(ready, SERVER_TIMEOUT, f"{user}'s server")

    def log_in(self, user: str, password: str):
        """What a person does at the hub's login page: a fresh browser session, the form posted with its _xsrf."""
        import requests

        browser = requests.Session()
        browser.get(self.url + "/hub/login", timeout=30)
        response = browser.post(self.url + "/hub/login", timeout=120,
                                data={"username": user, "password": password, "_xsrf": browser.cookies.get("_xsrf")})
        return browser, response

    def as_user(self, user: str, method: str, path: str, **kwargs):
        """A request to ``user``'s own server, with their token (what their browser's session carries)."""
        return self.api(method, f"/user/{user}{path}", token=self.user_tokens[user], **kwargs)

    def stop(self) -> None:
        if self.proc is None:
            return
        for user in list(self.user_tokens):
            try:
                self.api("DELETE", f"/hub/api/users/{user}/server", timeout=30)
            except Exception:
                pass
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)  # the hub stops the servers and its proxy
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        try:  # anything left in the hub's process group (the proxy, if the hub was killed)
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.log.close()
        self.session.close()


_HUBS: list[Hub] = []


def _ok(response, what: str):
    log = _HUBS[-1].log_tail() if _HUBS else ""
    assert response.ok, f"{what}: HTTP {response.status_code}: {html_text_of(response.text)[-1500:]}\n{log}"
    return response.json() if response.content else None


def html_text_of(text: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", text))


# -- the flow -------------------------------------------------------------------------------------

def test_cohort_on_a_real_hub():
    _require_tools()
    started = time.perf_counter()
    # World-readable: the users' servers read the hub's layers and run the environment from here.
    work = Path(tempfile.mkdtemp(prefix="mup-hub-", dir="/tmp"))
    work.chmod(0o755)
    hub = Hub(work)
    _HUBS.append(hub)
    try:
        passwords = {user: secrets.token_urlsafe(12) for user in (INSTRUCTOR, STUDENT)}
        for user in (INSTRUCTOR, STUDENT):
            create_user(user, passwords[user])
        t = time.perf_counter()
        from tests.hub.userenv import build_user_env

        env = build_user_env(work / "env", SYSTEM_PYTHON)
        hub.timings["user env"] = time.perf_counter() - t
        exchange = work / "exchange"
        made = subprocess.run(
            [sys.executable, "-m", "autograder", "hub", "config", "--course-id", COURSE_ID,
             "--instructors", INSTRUCTOR, "--students", STUDENT, "--out", str(work / "hub"),
             "--exchange", str(exchange), "--user-env", str(env), "--ip", "127.0.0.1",
             "--port", str(hub.ports["public"])], capture_output=True, text=True)
        assert made.returncode == 0, made.stderr
        t = time.perf_counter()
        hub.start(work / "hub" / "jupyterhub_config.py")
        assert oct(exchange.stat().st_mode & 0o7777) == "0o1777"
        for user in (INSTRUCTOR, STUDENT):
            hub.spawn(user)
        for user in (INSTRUCTOR, STUDENT):
            hub.wait_ready(user)
        hub.timings["hub up, two servers"] = time.perf_counter() - t
        course = Path(pwd.getpwnam(INSTRUCTOR).pw_dir) / COURSE_ID
        assert (course / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").is_file()
        assert (Path(pwd.getpwnam(STUDENT).pw_dir) / "course" / "00_start_here.ipynb").is_file()
        # The student logs in at the login page with their Unix password (PAM) and reaches their JupyterLab;
        # a wrong password is refused.
        browser, response = hub.log_in(STUDENT, passwords[STUDENT])
        assert response.ok and f"/user/{STUDENT}/" in response.url, (response.status_code, response.url)
        assert "jupyter-config-data" in browser.get(f"{hub.url}/user/{STUDENT}/lab", timeout=60).text
        browser.close()
        _, refused = hub.log_in(STUDENT, "not-" + passwords[STUDENT])
        assert refused.status_code == 403 and "/hub/login" in refused.url
        # Each user's JupyterLab: the learner without nbgrader's authoring tools, the instructor with them.
        status = hub.as_user(INSTRUCTOR, "GET", "/formgrader/api/status")
        assert status.ok, hub.log_tail()
        assert hub.as_user(STUDENT, "GET", "/formgrader/api/status").status_code == 404
        page = hub.as_user(STUDENT, "GET", "/lab").text
        assert '"@jupyter/nbgrader:formgrader"' in page and '"@jupyter/nbgrader:create-assignment"' in page
        assert "@jupyter/nbgrader:formgrader" not in hub.as_user(INSTRUCTOR, "GET", "/lab").text.split(
            "disabledExtensions", 1)[-1].split("]", 1)[0]

        # The instructor: the roster, then Generate and Release in formgrader.
        t = time.perf_counter()
        _ok(hub.as_user(INSTRUCTOR, "PUT", f"/formgrader/api/student/{STUDENT}",
                        json={"first_name": "Lee", "last_name": "Learner", "email": None}), "add student")
        generated = _ok(hub.as_user(INSTRUCTOR, "POST", f"/formgrader/api/assignment/{ASSIGNMENT}/assign"),
                        "generate")
        assert generated["success"], generated
        released = _ok(hub.as_user(INSTRUCTOR, "POST", f"/formgrader/api/assignment/{ASSIGNMENT}/release"),
                       "release")
        assert released["success"], released

        # The student: the Assignments tab lists it; Fetch, answer, save, Submit.
        query = {"course_id": COURSE_ID, "assignment_id": ASSIGNMENT}
        listed = _ok(hub.as_user(STUDENT, "GET", "/assignments", params={"course_id": COURSE_ID}), "list")
        assert [a["status"] for a in listed["value"] if a["assignment_id"] == ASSIGNMENT] == ["released"]
        fetched = _ok(hub.as_user(STUDENT, "POST", "/assignments/fetch", params=query), "fetch")
        notebook_path = next(nb["path"] for a in fetched["value"] if a["status"] == "fetched"
                             for nb in a["notebooks"])
        assert notebook_path == f"{COURSE_ID}/{ASSIGNMENT}/{ASSIGNMENT}.ipynb"
        model = _ok(hub.as_user(STUDENT, "GET", f"/api/contents/{notebook_path}"), "open the notebook")
        student_version = nbformat.from_dict(model["content"])
        answer = bs._filled(student_version, SPEC._with_bug(SPEC.solution_code(), BUG))
        _ok(hub.as_user(STUDENT, "PUT", f"/api/contents/{notebook_path}",
                        json={"type": "notebook", "format": "json", "content": answer}), "save")
        submitted = _ok(hub.as_user(STUDENT, "POST", "/assignments/submit", params=query), "submit")
        assert "submitted" in {a["status"] for a in submitted["value"]}, submitted

        # The instructor: Collect in formgrader, then grade with our sandboxed cohort grade.
        collected = _ok(hub.as_user(INSTRUCTOR, "POST", f"/formgrader/api/assignment/{ASSIGNMENT}/collect"),
                        "collect")
        assert collected["success"], collected
        assert (course / "submitted" / STUDENT / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").is_file()
        hub.timings["generate, release, fetch, submit, collect"] = time.perf_counter() - t
        t = time.perf_counter()
        graded = subprocess.run([sys.executable, "-m", "autograder", "cohort", "grade", str(course),
                                 "--assignment", ASSIGNMENT, "--workers", "1", "--timeout", str(CELL_TIMEOUT),
                                 "--no-progress"], capture_output=True, text=True, timeout=600)
        hub.timings["cohort grade"] = time.perf_counter() - t
        assert graded.returncode == 0, graded.stderr
        subprocess.run(["chown", "-R", f"{INSTRUCTOR}:{INSTRUCTOR}", str(course)], check=True)  # the course stays theirs
        rows = list(csv.DictReader(open(course / "reports" / f"{ASSIGNMENT}_report.csv", encoding="utf-8")))
        assert [(r["student"], r["status"]) for r in rows] == [(STUDENT, "graded")], rows
        autograded = SPEC.autograded_ids()
        expected = sum(autograded.values()) - sum(autograded[g] for g in SPEC.bug_losses[BUG])
        assert float(rows[0]["score"]) == expected, rows

        # Formgrader shows the score, releases the feedback; the student fetches it.
        t = time.perf_counter()
        submissions = _ok(hub.as_user(INSTRUCTOR, "GET", f"/formgrader/api/submissions/{ASSIGNMENT}"), "submissions")
        assert [(s["student"], s["score"]) for s in submissions] == [(STUDENT, expected)], submissions
        # Generate feedback again, as the instructor does after hand grading (formgrader's button, on their
        # server, with the course's settings): it must stay free of hidden tests too.
        regenerated = _ok(hub.as_user(INSTRUCTOR, "POST",
                                      f"/formgrader/api/assignment/{ASSIGNMENT}/generate_feedback"), "generate feedback")
        assert regenerated["success"], (regenerated.get("log", "") + regenerated.get("error", ""))[-6000:]
        returned = _ok(hub.as_user(INSTRUCTOR, "POST",
                                   f"/formgrader/api/assignment/{ASSIGNMENT}/release_feedback"), "release feedback")
        assert returned["success"], returned
        feedback = _ok(hub.as_user(STUDENT, "POST", "/assignments/fetch_feedback", params=query), "fetch feedback")
        assert '"has_local_feedback": true' in json.dumps(feedback), feedback
        feedback_dir = f"{COURSE_ID}/{ASSIGNMENT}/feedback"
        stamps = _ok(hub.as_user(STUDENT, "GET", f"/api/contents/{feedback_dir}"), "feedback folder")["content"]
        page = _ok(hub.as_user(STUDENT, "GET", f"/api/contents/{feedback_dir}/{stamps[0]['name']}/{ASSIGNMENT}.html",
                               params={"format": "text", "type": "file"}), "feedback page")["content"]
        text = html_text_of(page)
        total = sum(autograded.values()) + sum(SPEC.manual_ids().values())
        assert re.search(rf"Score:\s*{expected:g}(\.0)?\s*/\s*{total:g}(\.0)?", text), text[:3000]
        # No hidden test source (the lines of hidden regions that neither the student version nor the solution holds).
        hidden = hidden_test_lines("\n".join(c.source for c in student_version.cells), SPEC)
        assert_no_hidden_source(text, hidden, "the feedback the student fetched")
        hub.timings["feedback"] = time.perf_counter() - t
    finally:
        uids = [uid for uid in map(_uid, (INSTRUCTOR, STUDENT)) if uid is not None]
        hub.stop()
        for user in (INSTRUCTOR, STUDENT):
            remove_user(user)
        shutil.rmtree(work, ignore_errors=True)
    # Nothing left behind: users, their processes, the hub's ports.
    assert _uid(INSTRUCTOR) is None and _uid(STUDENT) is None
    assert not [pid for uid in uids for pid in _pids_of(uid)], "the users' processes outlived the test"
    assert hub.proc.poll() is not None
    assert not [p for p in hub.ports.values() if _listening(p)], hub.ports
    hub.timings["total"] = time.perf_counter() - started
    print("hub test timings (s): " + ", ".join(f"{k} {v:.1f}" for k, v in hub.timings.items()))
