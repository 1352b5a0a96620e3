"""A learner's clone of the course and the JupyterLab that ``make lab`` starts in it, for tests.

:func:`learner_clone` makes a git repository from the working tree (the
"upstream") and clones it, as a learner clones the course. :class:`MakeLab`
runs ``make lab ARGS=--no-browser`` in that clone, exactly as the README says,
and reads the URL it prints. The clone uses the project's own ``.venv``
(``make -o`` keeps make from reinstalling into it), and all of Jupyter's
state (config, data, runtime, settings, workspaces) goes to a temporary
directory, so the developer's own Jupyter setup neither leaks in nor is touched.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
VENV = Path(sys.prefix)

#: What a fresh clone does not have: installs, caches, the developer's own work.
NOT_IN_A_CLONE = shutil.ignore_patterns(".git", ".venv", "my-work", "__pycache__", ".ipynb_checkpoints",
                                        ".pytest_cache", "*.egg-info", "build")
#: The URL lines JupyterLab prints ("Or copy and paste one of these URLs:").
PRINTED_URL = re.compile(r"^\s+(http://127\.0\.0\.1:\d+/\S+)$", re.M)


def git(cwd: Path, *args: str) -> str:
    """Run git in ``cwd`` with a fixed identity; return its stdout."""
    env = {**os.environ, "GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "test@example.invalid",
           "GIT_COMMITTER_NAME": "Test", "GIT_COMMITTER_EMAIL": "test@example.invalid"}
    done = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    if done.returncode:
        raise AssertionError(f"git {' '.join(args)} failed in {cwd}:\n{done.stdout}{done.stderr}")
    return done.stdout


def learner_clone(tmp: Path) -> tuple[Path, Path]:
    """``(upstream, clone)``: the working tree committed as a repository, and a learner's clone of it."""
    upstream = tmp / "upstream"
    shutil.copytree(REPO_ROOT, upstream, ignore=NOT_IN_A_CLONE)
    git(upstream, "init", "-q", "-b", "main")
    git(upstream, "add", "-A")
    git(upstream, "commit", "-q", "-m", "the course")
    clone = tmp / "learner"
    git(tmp, "clone", "-q", str(upstream), str(clone))
    return upstream, clone


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class MakeLab:
    """``make lab ARGS=--no-browser`` running in ``checkout``; ``url`` is the URL it printed."""

    def __init__(self, checkout: Path, state: Path, *, instructor: bool = False, timeout: float = 90.0):
        self.checkout = checkout
        self.state = state
        self.instructor = instructor
        self.timeout = timeout
        self.log_path = state / "make-lab.log"
        self.proc: subprocess.Popen | None = None
        self.url = ""

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if k not in ("JUPYTER_PATH", "JUPYTER_CONFIG_PATH", "JUPYTER_TOKEN", "MAKEFLAGS", "MAKELEVEL")}
        for name in ("config", "data", "runtime", "settings", "workspaces", "ipython"):
            (self.state / name).mkdir(parents=True, exist_ok=True)
        env.update(JUPYTER_CONFIG_DIR=str(self.state / "config"), JUPYTER_DATA_DIR=str(self.state / "data"),
                   JUPYTER_RUNTIME_DIR=str(self.state / "runtime"),
                   JUPYTERLAB_SETTINGS_DIR=str(self.state / "settings"),
                   JUPYTERLAB_WORKSPACES_DIR=str(self.state / "workspaces"),
                   IPYTHONDIR=str(self.state / "ipython"), PYDEVD_DISABLE_FILE_VALIDATION="1")
        return env

    def command(self) -> list[str]:
        stamp = VENV / ".installed-stamp"
        args = f"--no-browser --ServerApp.ip=127.0.0.1 --ServerApp.port={free_port()} --ServerApp.port_retries=0"
        cmd = ["make", "--no-print-directory", "-o", str(stamp), "lab", f"VENV={VENV}", f"ARGS={args}"]
        if self.instructor:
            cmd.append("INSTRUCTOR=1")
        return cmd

    def output(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    def start(self) -> "MakeLab":
        self.state.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(self.command(), cwd=self.checkout, env=self.environment(),
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            found = PRINTED_URL.findall(self.output())
            if found and self._answers(found[0]):
                self.url = found[0]
                return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.25)
        self.stop()
        raise AssertionError(f"`make lab` printed no working URL within {self.timeout:.0f} s:\n{self.output()}")

    @staticmethod
    def _answers(url: str) -> bool:
        base, _, query = url.partition("?")
        api = re.sub(r"^(http://[^/]+)/.*$", r"\1/api/status", base) + "?" + query
        try:
            with urllib.request.urlopen(api, timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    def api(self, path: str) -> str:
        """``path`` on this server, with the token from the printed URL."""
        base = re.match(r"^(http://[^/]+)", self.url).group(1)
        token = re.search(r"token=([0-9a-f]+)", self.url).group(1)
        return f"{base}/{path.lstrip('/')}{'&' if '?' in path else '?'}token={token}"

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)  # make, jupyter and its kernels and terminals
            proc.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def __enter__(self) -> "MakeLab":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
