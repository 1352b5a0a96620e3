"""Fixtures for the real-browser tests: an isolated JupyterLab server and headless Chromium.

The server runs on a free localhost port with a random token, serves a
temporary *copy* of the repository's ``course/`` directory (so no outputs or
checkpoints are ever written into the committed notebooks), and keeps all of
its state (config, data, runtime, IPython, settings, workspaces) in temporary
directories. Features that could reach the network (news, update checks) are
switched off.

Browser tests are skipped when Debian's Chromium or the Playwright package is
missing, unless ``REQUIRE_BROWSER=1`` is set (as CI does), which turns the skip
into a failure.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
COURSE_DIR = REPO_ROOT / "course"

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]

SERVER_START_TIMEOUT = 60.0


def _unavailable(reason: str) -> None:
    """Skip with ``reason``, or fail with it when ``REQUIRE_BROWSER=1``."""
    if os.environ.get("REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason} (REQUIRE_BROWSER=1 is set)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser_prerequisites() -> None:
    """Skip (or fail under ``REQUIRE_BROWSER=1``) when the browser stack is missing."""
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        _unavailable(
            f"Debian's chromium is not installed at {CHROMIUM}; apt-get install "
            "chromium, or set REQUIRE_BROWSER=1 to make this a failure"
        )
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as exc:
        _unavailable(
            f"the playwright Python package is not importable ({exc}); "
            "pip install -e '.[test]', or set REQUIRE_BROWSER=1 to make this a failure"
        )


@pytest.fixture(scope="session")
def chromium(browser_prerequisites):
    """A headless Debian Chromium driven by Playwright (never a downloaded browser)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _write_json(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1), encoding="utf-8")


class LabServer:
    """A running JupyterLab subprocess and what a test needs to talk to it."""

    def __init__(self, root_dir: Path, state_dir: Path):
        self.root_dir = root_dir
        self.state_dir = state_dir
        self.log_path = state_dir / "jupyterlab.log"
        self.token = secrets.token_hex(24)
        self.port: int | None = None
        self.proc: subprocess.Popen | None = None

    # -- addresses -------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        """``path`` on this server, with the token appended."""
        sep = "&" if "?" in path else "?"
        return f"{self.base_url}/{path.lstrip('/')}{sep}token={self.token}"

    def log_tail(self, lines: int = 80) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            return f"<no server log: {exc}>"
        return "\n".join(text.splitlines()[-lines:])

    # -- lifecycle -------------------------------------------------------
    def _environment(self) -> dict[str, str]:
        s = self.state_dir
        env = dict(os.environ)
        # Anything pointing Jupyter at the developer's own paths would leak in.
        for var in ("JUPYTER_PATH", "JUPYTER_CONFIG_PATH", "JUPYTER_TOKEN"):
            env.pop(var, None)
        env.update(
            JUPYTER_CONFIG_DIR=str(s / "config"),
            JUPYTER_DATA_DIR=str(s / "data"),
            JUPYTER_RUNTIME_DIR=str(s / "runtime"),
            IPYTHONDIR=str(s / "ipython"),
            JUPYTERLAB_SETTINGS_DIR=str(s / "settings"),
            JUPYTERLAB_WORKSPACES_DIR=str(s / "workspaces"),
            JUPYTER_TOKEN=self.token,
            PYDEVD_DISABLE_FILE_VALIDATION="1",
            PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
        )
        return env

    def _write_state(self) -> None:
        s = self.state_dir
        for sub in ("config", "data", "runtime", "ipython", "settings", "workspaces"):
            (s / sub).mkdir(parents=True, exist_ok=True)
        # The kernel must be this interpreter (the project's venv), whatever
        # kernelspecs the machine has elsewhere.
        _write_json(
            s / "data" / "kernels" / "python3" / "kernel.json",
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "Python 3 (ipykernel)",
                "language": "python",
                "metadata": {"debugger": True},
            },
        )
        # No "get notified about Jupyter news?" toast covering the page.
        _write_json(
            s / "config" / "labconfig" / "page_config.json",
            {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}},
        )
        # Attach every cell to the DOM, so off-screen outputs are checked too.
        _write_json(
            s / "settings" / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings",
            {"windowingMode": "none"},
        )

    def _command(self, port: int) -> list[str]:
        s = self.state_dir
        cmd = [
            sys.executable, "-m", "jupyterlab",
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}",
            "--ServerApp.port_retries=0",
            f"--ServerApp.root_dir={self.root_dir}",
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            # Lets the test read the notebook's kernel state (window.jupyterapp).
            "--LabApp.expose_app_in_browser=True",
            f"--LabApp.user_settings_dir={s / 'settings'}",
            f"--LabApp.workspaces_dir={s / 'workspaces'}",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.append("--allow-root")
        return cmd

    def _status_ok(self) -> bool:
        try:
            with urllib.request.urlopen(self.url("/api/status"), timeout=2) as resp:
                return resp.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def start(self) -> None:
        self._write_state()
        env = self._environment()
        for attempt in range(3):
            self.port = _free_port()
            with open(self.log_path, "ab") as log:
                log.write(f"--- attempt {attempt + 1}: port {self.port}\n".encode())
                log.flush()
                self.proc = subprocess.Popen(
                    self._command(self.port),
                    cwd=self.root_dir,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # its kernels share its process group
                )
            deadline = time.monotonic() + SERVER_START_TIMEOUT
            while time.monotonic() < deadline:
                if self._status_ok():
                    return
                if self.proc.poll() is not None:
                    break
                time.sleep(0.25)
            if self.proc.poll() is None:  # still running but never answered
                self.stop()
                raise RuntimeError(
                    f"JupyterLab did not answer {self.base_url}/api/status within "
                    f"{SERVER_START_TIMEOUT:.0f} s. Server log tail:\n{self.log_tail()}"
                )
            # It exited: most likely the port was taken in the meantime; retry.
        raise RuntimeError(
            f"JupyterLab exited with code {self.proc.returncode} on start. "
            f"Server log tail:\n{self.log_tail()}"
        )

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()  # jupyter shuts its kernels down on SIGTERM
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        # Anything left in the server's own process group (stray kernels).
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def _copy_course(dest: Path) -> Path:
    shutil.copytree(
        COURSE_DIR,
        dest,
        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__", "*.pyc"),
    )
    return dest


@pytest.fixture(scope="session")
def lab_root(tmp_path_factory) -> Path:
    """A throwaway copy of the repository's ``course/`` directory."""
    return _copy_course(tmp_path_factory.mktemp("lab-root") / "course")


@pytest.fixture(scope="session")
def lab_server(browser_prerequisites, lab_root, tmp_path_factory):
    """An isolated JupyterLab serving :func:`lab_root`; stopped at the end."""
    server = LabServer(lab_root, tmp_path_factory.mktemp("lab-state"))
    try:
        server.start()
        yield server
    finally:
        server.stop()
