"""A Jupyter kernel manager that starts the kernel inside the sandbox (:mod:`autograder.sandbox`).

:class:`SandboxedKernelManager` is jupyter_client's ``AsyncKernelManager``
with four changes:

* the kernel command is wrapped by :func:`autograder.sandbox.build_command`,
  with a fresh private working directory per kernel;
* the kernel talks over Unix sockets in that directory (``transport = "ipc"``),
  because the sandbox has its own network namespace and cannot reach the
  grader's loopback; the connection file lives there too, readable by the
  sandbox's user;
* interrupts are sent as ``interrupt_request`` messages: a signal would reach
  bubblewrap, not the kernel;
* cleaning up kills what is left of the sandbox (its PID namespace goes with
  it) and removes the working directory.
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from traitlets import Dict, List, Unicode

from . import sandbox


def kernel_environment(workdir: Path) -> dict[str, str]:
    """The whole environment of a sandboxed kernel (nothing of the grader's passes in)."""
    import sys

    bin_dir = os.path.dirname(sys.executable)
    home = sandbox.PRIVATE_HOME
    return {
        "HOME": home, "PATH": f"{bin_dir}:/usr/local/bin:/usr/bin:/bin", "TMPDIR": "/tmp",
        "LANG": "C.UTF-8", "MPLCONFIGDIR": "/tmp/matplotlib", "IPYTHONDIR": f"{home}/.ipython",
        "JUPYTER_CONFIG_DIR": f"{home}/.jupyter", "JUPYTER_RUNTIME_DIR": str(workdir),
        "PYDEVD_DISABLE_FILE_VALIDATION": "1", "PYTHONDONTWRITEBYTECODE": "1",
        # 1: no parent poller (its parent in the sandbox is the PID namespace's init) and no banner.
        "JPY_PARENT_PID": "1",
        # Fewer threads and malloc arenas keep numpy's address space well inside the memory limit.
        "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "MALLOC_ARENA_MAX": "2",
    }


#: A Unix socket's path has at most 107 bytes (``sockaddr_un``).
MAX_SOCKET_PATH = 107
#: The environment variable that names the prefix of kernels' folders (``cohort grade`` sets one per run,
#: so that it can remove what a killed worker left behind).
PREFIX_ENV = "AUTOGRADER_KERNEL_PREFIX"


def kernel_folder_prefix() -> str:
    """The name prefix of a kernel's private folder."""
    return os.environ.get(PREFIX_ENV) or "autograder-kernel-"


def socket_root() -> str:
    """Where kernels' folders go: ``/tmp`` (short, for the socket paths) unless it is not writable."""
    return "/tmp" if os.access("/tmp", os.W_OK) else tempfile.gettempdir()


class SandboxedKernelManager(AsyncKernelManager):
    """An ``AsyncKernelManager`` whose kernel runs in the sandbox; see the module docstring."""

    hide = List(Unicode(), help="More directories the kernel must not see (the course directory, "
                                "the source assignments).").tag(config=True)
    limits = Dict(help="Resource limits, as keyword arguments of autograder.sandbox.Limits, e.g. "
                       "{'memory_bytes': 4 * 1024**3}.").tag(config=True)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.sandbox_limits = sandbox.Limits(**self.limits)
        self.workdir = sandbox.prepare_workdir(Path(tempfile.mkdtemp(prefix=kernel_folder_prefix(),
                                                                     dir=socket_root())) / "work")
        if len(str(self.workdir / "kernel-65535")) > MAX_SOCKET_PATH:
            raise RuntimeError(f"the kernel's socket folder {self.workdir} has too long a path for a Unix socket "
                               f"(at most {MAX_SOCKET_PATH} characters): give /tmp a shorter name or TMPDIR a "
                               "shorter path")
        self.transport = "ipc"
        self.ip = str(self.workdir / "kernel")
        self.connection_file = str(self.workdir / "kernel.json")

    @property
    def kernel_spec(self):
        spec = super().kernel_spec
        if spec is not None:
            spec.interrupt_mode = "message"
            spec.env = {}
        return spec

    def write_connection_file(self, **kwargs) -> None:
        super().write_connection_file(**kwargs)
        if os.geteuid() == 0:
            os.chown(self.connection_file, sandbox.sandbox_uid(), sandbox.sandbox_uid())

    def format_kernel_cmd(self, extra_arguments=None) -> list[str]:
        command = super().format_kernel_cmd(extra_arguments)
        return sandbox.build_command(command, self.workdir, hide=self.hide, limits=self.sandbox_limits,
                                     env=kernel_environment(self.workdir))

    async def _async_start_kernel(self, **kw) -> None:
        kw["cwd"] = str(self.workdir)
        env = {key: os.environ[key] for key in ("PATH", "LANG") if key in os.environ}
        kw["env"] = env  # only bubblewrap and prlimit see it; the kernel gets kernel_environment()
        await super()._async_start_kernel(**kw)

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        if self.provisioner is not None and getattr(self.provisioner, "process", None) is not None:
            process = self.provisioner.process
            if process.poll() is None:  # the kernel is gone or going: take its sandbox with it
                try:
                    os.killpg(process.pid, signal.SIGKILL)
                except OSError:
                    process.kill()
                process.wait()
        await super()._async_cleanup_resources(restart=restart)
        if not restart:
            shutil.rmtree(self.workdir.parent, ignore_errors=True)
