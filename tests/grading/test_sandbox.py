"""The grading sandbox (:mod:`autograder.sandbox`) on its own: what a process inside it can and cannot do.

Each test runs a short Python program inside :func:`autograder.sandbox.build_command`
exactly as a learner's kernel is run, and checks one property the instructor
guide promises. The kernel-level guard and the whole grading path are tested
by the adversarial corpus (``test_attacks.py``).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from autograder import sandbox

pytestmark = pytest.mark.skipif(sandbox.probe() is not None and not os.environ.get("CI"),
                                reason=f"this machine cannot build the sandbox: {sandbox.probe()}")


def run_inside(tmp_path: Path, code: str, *, hide=(), limits: sandbox.Limits = sandbox.Limits(),
               timeout: float = 60) -> subprocess.CompletedProcess:
    """Run ``code`` with this Python inside the sandbox, with a fresh working directory."""
    work = sandbox.prepare_workdir(tmp_path / "work")
    command = sandbox.build_command([sys.executable, "-c", textwrap.dedent(code)], work, hide=hide, limits=limits,
                                    env={"HOME": str(work), "PATH": "/usr/bin:/bin"})
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout)


def test_the_kernel_is_unprivileged_and_sees_only_its_own_folder(tmp_path):
    course = tmp_path / "course"
    (course / "source").mkdir(parents=True)
    (course / "gradebook.db").write_text("secret")
    done = run_inside(tmp_path, f"""
        import os
        print(os.getuid())
        print(os.path.exists({str(course / "gradebook.db")!r}))
        print(os.path.exists({str(Path(__file__).resolve())!r}))   # the repository's tests
        print(os.listdir("/tmp"))                      # a private /tmp: nothing of the host's
        for path in [{str(course / "x")!r}, "/etc/x", "/usr/x", os.getcwd() + "/ok"]:
            try:
                open(path, "w").close()
                print("wrote", path)
            except OSError as error:
                print("refused", type(error).__name__)
        import course.sim, numpy                       # what a kernel needs is there
        print("imports ok")
    """, hide=[course, Path(__file__).resolve().parents[2]])
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == str(sandbox.NOBODY if os.geteuid() else sandbox.sandbox_uid())
    assert int(lines[0]) not in (0, os.getuid())
    assert lines[1:3] == ["False", "False"]
    # Its home, and only the folders leading to what is mounted back (its sockets' folder, and the Python
    # installation or the course package when they live under /tmp): nothing else of the host's /tmp.
    mounted = [tmp_path, sandbox.course_package(), *sandbox.python_paths()]
    allowed = {"work"} | {p.parts[2] for p in mounted if len(p.parts) > 2 and p.parts[1] == "tmp"}
    assert set(eval(lines[3])) <= allowed and "work" in eval(lines[3]), lines[3]
    assert all(line.startswith("refused") for line in lines[4:7]), lines
    assert lines[7].startswith("wrote ") and lines[-1] == "imports ok"


def test_no_network_beyond_its_own_loopback(tmp_path):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    try:
        done = run_inside(tmp_path, f"""
            import socket
            own = socket.socket(); own.bind(("127.0.0.1", 0)); own.listen()
            socket.create_connection(own.getsockname(), timeout=2).close()
            print("own loopback ok")
            for address in [("127.0.0.1", {port}), ("1.1.1.1", 53)]:
                try:
                    socket.create_connection(address, timeout=2).close()
                    print("reached", address)
                except OSError as error:
                    print("unreachable", address[0])
        """)
    finally:
        server.close()
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:3] == ["own loopback ok", "unreachable 127.0.0.1", "unreachable 1.1.1.1"]


def test_limits_stop_memory_files_and_processes(tmp_path):
    limits = sandbox.Limits(memory_bytes=1024 ** 3, file_bytes=1024 ** 2, processes=32)
    done = run_inside(tmp_path, """
        import os, subprocess
        try:
            block = bytearray(2 * 1024 ** 3)
            print("allocated")
        except MemoryError:
            print("memory limit")
        try:
            with open("big", "wb") as f:
                f.write(b"x" * (2 * 1024 ** 2))
            print("wrote 2 MiB")
        except OSError as error:
            print("file limit", error.strerror)
        started = []
        try:
            for _ in range(200):
                started.append(subprocess.Popen(["sleep", "30"]))
            print("started 200")
        except OSError as error:
            print("process limit after", len(started))
        for p in started:
            p.kill()
    """, limits=limits)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "memory limit"
    assert lines[1] == "file limit File too large"
    assert lines[2].startswith("process limit after") and int(lines[2].split()[-1]) < 32


def _marked_processes(marker: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if marker in Path(f"/proc/{entry}/cmdline").read_bytes().decode(errors="replace"):
                    found.append(int(entry))
            except OSError:
                pass
    return found


def test_nothing_it_started_outlives_it(tmp_path):
    marker = f"{time.time_ns() % 10 ** 9 + 1000}"
    done = run_inside(tmp_path, f"""
        import os, subprocess
        for _ in range(3):   # detached: new session, double fork, the parent gone
            subprocess.Popen(["setsid", "sh", "-c", "sleep {marker} & exit 0"], start_new_session=True)
        os.system("nohup sleep {marker} >/dev/null 2>&1 &")
        import time; time.sleep(0.5)
        print("started")
    """)
    assert done.returncode == 0 and done.stdout.strip() == "started", done.stderr
    deadline = time.monotonic() + 5
    while _marked_processes(f"sleep\0{marker}") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _marked_processes(f"sleep\0{marker}") == []


def test_killing_the_sandbox_kills_everything_in_it(tmp_path):
    marker = f"{time.time_ns() % 10 ** 9 + 2000}"
    work = sandbox.prepare_workdir(tmp_path / "work")
    command = sandbox.build_command(["/bin/sh", "-c", f"setsid sleep {marker} & sleep {marker}"], work)
    process = subprocess.Popen(command, start_new_session=True)
    try:
        deadline = time.monotonic() + 10
        while len(_marked_processes(f"sleep\0{marker}")) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(_marked_processes(f"sleep\0{marker}")) == 2
    finally:
        os.killpg(process.pid, 9)  # what the kernel manager does to a kernel that will not stop
        process.wait()
    deadline = time.monotonic() + 5
    while _marked_processes(f"sleep\0{marker}") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _marked_processes(f"sleep\0{marker}") == []


def test_a_machine_without_bubblewrap_is_told_what_is_missing(monkeypatch):
    monkeypatch.setenv(sandbox.BWRAP_ENV, "/nonexistent/bwrap")
    problem = sandbox.probe()
    assert problem and "not an executable" in problem and "--no-sandbox" in problem
    with pytest.raises(sandbox.SandboxUnavailable, match="--no-sandbox"):
        sandbox.require()


def test_cohort_grade_refuses_without_a_sandbox_and_names_the_flag(tmp_path):
    env = dict(os.environ, **{sandbox.BWRAP_ENV: "/nonexistent/bwrap"})
    done = subprocess.run([sys.executable, "-m", "autograder", "cohort", "grade", str(tmp_path)], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "sandbox" in done.stderr and "--no-sandbox" in done.stderr and "bubblewrap" in done.stderr


@pytest.mark.parametrize("field, value", [("memory_bytes", 0), ("processes", -1), ("cpu_seconds", 1.5),
                                          ("file_bytes", True), ("tmp_bytes", "1G")])
def test_a_bad_limit_names_the_limit(field, value):
    with pytest.raises(ValueError, match=f"sandbox limit {field} must be a positive whole number"):
        sandbox.Limits(**{field: value})
