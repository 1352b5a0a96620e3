"""The sandbox a learner's kernel runs in: bubblewrap (Linux namespaces) plus resource limits.

Grading runs a learner's code, and in a cohort that code must be treated as
hostile. We do not invent isolation; we use what Linux has, through
`bubblewrap <https://github.com/containers/bubblewrap>`_ (``bwrap``, Debian
package ``bubblewrap``), the tool Flatpak builds on, plus ``prlimit`` from
util-linux. The kernel that runs one submission:

* **sees only its own working directory.** The whole filesystem is mounted
  read-only, then every place that may hold something secret or someone
  else's work is covered by an empty directory: ``/root``, ``/home``, the
  grader's home, ``/tmp``, ``/var/tmp``, ``/run``, ``/mnt``, ``/media``,
  ``/srv``, ``/opt``, the instructor's course directory and the course's own
  repository. Only what the kernel needs comes back, read-only: the Python
  installation, the virtual environment and the ``course`` package (not
  ``assignments/``, where the solutions are, nor ``autograder/``). ``/tmp``
  is a private tmpfs of :attr:`Limits.tmp_bytes`, and the kernel starts in
  :data:`PRIVATE_HOME` inside it; a private folder on the host holds the
  kernel's sockets (the one writable host directory).
* **has no network** but its own loopback (a new network namespace): a test
  may start a server on 127.0.0.1; nothing outside, not even the host's
  loopback, is reachable.
* **runs unprivileged**, with no capabilities and ``no_new_privs``. Started
  as root, bubblewrap builds the mounts and ``setpriv`` drops to an unused uid
  of its own (:func:`sandbox_uid`) before Python starts; started by a normal
  user, it uses an unprivileged user namespace, so the kernel is ``nobody``
  inside and that user outside.
* **is limited** (:class:`Limits`, rlimits set by ``prlimit``): address space,
  processes, CPU seconds, the size of any file it writes, open files.
  Outputs are capped by the grader (:mod:`autograder.guard`).
* **leaves nothing behind**: it has its own PID namespace, so when the kernel
  exits or is killed, or the grader dies (``--die-with-parent``), the kernel
  sees every process it started, double-forked or in a new session, killed
  by the kernel's namespace going away.

Where namespaces are not available (inside a Docker container with the
default seccomp profile, a kernel with user namespaces disabled, no
bubblewrap), :func:`probe` says what is missing and how to allow it, and
``cohort grade`` refuses unless the instructor passes ``--no-sandbox``.
``AUTOGRADER_BWRAP`` names another bubblewrap binary (tests use a missing
one to play a machine without it).
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

#: The environment variable that names the bubblewrap binary (default: ``bwrap`` on PATH).
BWRAP_ENV = "AUTOGRADER_BWRAP"
#: The user a kernel runs as inside the sandbox when a normal user grades (``nobody``).
NOBODY = 65534
#: As root, each sandbox runs as its own unused uid: :data:`UID_BASE` + the grader process's pid.
#: (RLIMIT_NPROC counts every process of a uid, so a shared uid would let one submission's fork bomb
#: stop another's kernel from starting.)
UID_BASE = 1_500_000_000
#: What always hides, when it exists: homes, temporary and runtime directories, mounted media.
HIDDEN_ROOTS = ("/root", "/home", "/tmp", "/var/tmp", "/run", "/var/run", "/mnt", "/media", "/srv", "/opt")
#: The sandbox's working folder (and ``HOME``), inside its private ``/tmp``.
PRIVATE_HOME = "/tmp/work"
GiB = 1024 ** 3
MiB = 1024 ** 2


class SandboxUnavailable(RuntimeError):
    """This machine cannot build the sandbox; the message says what is missing and how to allow it."""


@dataclass(frozen=True)
class Limits:
    """Resource limits of one sandboxed kernel (each an rlimit but ``tmp_bytes``).

    ``memory_bytes``: address space of each process (a ``MemoryError`` beyond it);
    ``processes``: processes and threads of the sandbox user; ``cpu_seconds``: CPU
    time of each process (then it is killed); ``file_bytes``: the largest file it
    may write; ``open_files``: file descriptors per process; ``tmp_bytes``: the size
    of its private ``/tmp``.
    """

    memory_bytes: int = 2 * GiB
    processes: int = 256
    cpu_seconds: int = 600
    file_bytes: int = 64 * MiB
    open_files: int = 1024
    tmp_bytes: int = 256 * MiB

    def __post_init__(self):
        for name in ("memory_bytes", "processes", "cpu_seconds", "file_bytes", "open_files", "tmp_bytes"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"sandbox limit {name} must be a positive whole number, got {value!r}")


#: Where system tools live when the grader's PATH does not say (a virtualenv's bin only, say).
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def system_tool(name: str) -> str | None:
    """The full path of a system command, from PATH or else the standard system folders."""
    return shutil.which(name) or shutil.which(name, path=SYSTEM_PATH)


def bwrap_binary() -> str | None:
    """The bubblewrap executable to use, or None if there is none."""
    named = os.environ.get(BWRAP_ENV)
    if named:
        return named if os.access(named, os.X_OK) else None
    return system_tool("bwrap")


def _is_root() -> bool:
    return os.geteuid() == 0


def sandbox_uid() -> int:
    """The uid this process's sandboxes run as on the host: unique to this grader process as root
    (no other process, sandboxed or not, shares its process limit), the grader's own uid otherwise."""
    return UID_BASE + os.getpid() if _is_root() else os.getuid()


def _namespace_flags() -> list[str]:
    """Every namespace but the user one as root (root builds them directly), all of them otherwise."""
    flags = ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try"]
    if not _is_root():
        flags = ["--unshare-user", *flags, "--uid", str(NOBODY), "--gid", str(NOBODY), "--disable-userns"]
    return flags


def _inside(path: Path, roots) -> Path | None:
    for root in roots:
        if path == root or root in path.parents:
            return root
    return None


def _visible(paths) -> list[Path]:
    """The real paths of ``paths`` that exist, without duplicates or paths inside another."""
    found = sorted({Path(os.path.realpath(p)) for p in paths if p and os.path.exists(p)})
    return [p for p in found if not any(q in p.parents for q in found)]


def python_paths() -> list[Path]:
    """What the kernel must read to run this Python: its installation and virtual environment."""
    return _visible([sys.base_prefix, sys.prefix, os.path.dirname(os.path.realpath(sys.executable))])


def course_package() -> Path:
    """The directory of the installed ``course`` package (the only part of the repository a kernel sees).

    Found beside this package (they are installed together), not by importing
    ``course``: a folder called ``course`` in the current directory would win.
    """
    return Path(__file__).resolve().parent.parent / "course"


def build_command(argv: list[str], workdir: Path, *, hide=(), limits: Limits = Limits(),
                  env: dict | None = None) -> list[str]:
    """``argv`` wrapped to run in the sandbox, with ``workdir`` its only writable host directory
    (it starts in :data:`PRIVATE_HOME`).

    ``hide`` adds directories to cover (the instructor's course, the repository);
    ``env`` is the whole environment the command sees (nothing else passes in).
    """
    bwrap = bwrap_binary()
    if bwrap is None:
        raise SandboxUnavailable(describe_missing())
    workdir = Path(workdir).resolve()
    hidden = [Path(p) for p in HIDDEN_ROOTS] + [Path.home()] + [Path(os.path.realpath(h)) for h in hide]
    hidden = _visible([str(h) for h in hidden])
    readable = python_paths() + [course_package()]
    command = [bwrap, *_namespace_flags(), "--die-with-parent", "--new-session", "--ro-bind", "/", "/"]
    for path in hidden:  # /tmp becomes the private, size-limited /tmp; the others are empty and read-only
        if path == Path("/tmp"):
            command += ["--perms", "1777", "--size", str(limits.tmp_bytes), "--tmpfs", "/tmp"]
        else:
            command += ["--perms", "0755", "--tmpfs", str(path)]
    made: set[Path] = set()
    for path in readable + [workdir]:
        root = _inside(path, hidden)
        if root is None:
            continue
        # Rebuild the covered directories down to the path, traversable by the sandbox's user.
        for parent in reversed(path.parents):
            if root in parent.parents and parent not in made:
                command += ["--perms", "0755", "--dir", str(parent)]
                made.add(parent)
        if path == workdir:
            command += ["--bind", str(path), str(path)]
        else:
            command += ["--ro-bind", str(path), str(path)]
    if _inside(workdir, hidden) is None:
        command += ["--bind", str(workdir), str(workdir)]
    for path in hidden:
        if path != Path("/tmp"):
            command += ["--remount-ro", str(path)]
    # The command starts in a folder of the private, size-limited /tmp; ``workdir`` (on the host's disk)
    # is where the kernel's sockets go.
    command += ["--perms", "1777", "--dir", PRIVATE_HOME, "--proc", "/proc", "--dev", "/dev",
                "--chdir", PRIVATE_HOME, "--clearenv"]
    for key, value in (env or {}).items():
        command += ["--setenv", key, str(value)]
    if _is_root():
        command += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--",
                    system_tool("setpriv") or "setpriv", f"--reuid={sandbox_uid()}", f"--regid={sandbox_uid()}", "--clear-groups",
                    "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--"]
    else:
        command += ["--"]
    return _limited(limits) + command + list(argv)


def _limited(limits: Limits) -> list[str]:
    """``prlimit`` with the limits, as a command prefix.

    RLIMIT_NPROC counts every process of the sandbox's real user. As root the
    kernel has a uid of its own (:func:`sandbox_uid`), so the limit is the
    sandbox's alone; as a normal user it is that user's, so the processes the
    user already runs are added to it (and sandboxes graded at the same time
    share what is left).
    """
    processes = limits.processes
    if not _is_root():
        processes += _tasks_of(os.getuid())
    return [system_tool("prlimit") or "prlimit", f"--as={limits.memory_bytes}", f"--nproc={processes}", f"--cpu={limits.cpu_seconds}",
            f"--fsize={limits.file_bytes}", f"--nofile={limits.open_files}", "--core=0", "--"]


def _tasks_of(uid: int) -> int:
    """How many processes and threads ``uid`` runs now (what RLIMIT_NPROC counts)."""
    count = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            if entry.stat().st_uid == uid:
                count += len(os.listdir(f"/proc/{entry.name}/task"))
        except OSError:
            pass
    return count


def prepare_workdir(path: Path) -> Path:
    """Create ``path`` as the sandbox's working directory, writable by the sandbox's user."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    if _is_root():
        os.chown(path, sandbox_uid(), sandbox_uid())
    path.chmod(0o700)
    return path


def describe_missing() -> str:
    """Why there is no bubblewrap, and how to get it."""
    named = os.environ.get(BWRAP_ENV)
    where = f"{BWRAP_ENV}={named} is not an executable" if named else "bubblewrap (bwrap) is not installed"
    return (f"{where}. Install it (Debian/Ubuntu: apt-get install bubblewrap; Fedora: dnf install bubblewrap), "
            "or grade without a sandbox with --no-sandbox (learner code then runs with your permissions "
            "and can read and change your files).")


@functools.lru_cache(maxsize=None)
def _probe(bwrap: str | None, uid: int) -> str | None:
    if bwrap is None:
        return describe_missing()
    if system_tool("prlimit") is None or (uid == 0 and system_tool("setpriv") is None):
        return ("prlimit and setpriv (util-linux) are needed to limit the sandbox; install util-linux, "
                "or grade without a sandbox with --no-sandbox.")
    import tempfile

    with tempfile.TemporaryDirectory(prefix="autograder-probe-") as tmp:
        work = prepare_workdir(Path(tmp) / "work")
        command = build_command(["/bin/sh", "-c", "exit 0"], work)
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired) as error:
            return f"bubblewrap could not start ({error})."
    if done.returncode == 0:
        return None
    detail = (done.stderr or done.stdout).strip().splitlines()
    detail = detail[-1] if detail else f"exit status {done.returncode}"
    return (f"bubblewrap cannot create the namespaces the sandbox needs ({detail}). User namespaces may be "
            "disabled (sysctl kernel.unprivileged_userns_clone=1 and user.max_user_namespaces > 0), or this "
            "is a container whose seccomp profile blocks them (Docker: run it with "
            "--security-opt seccomp=unconfined --security-opt apparmor=unconfined, or grade on the host). "
            "Or grade without a sandbox with --no-sandbox (learner code then runs with your permissions).")


def probe() -> str | None:
    """None if this machine can run the sandbox; otherwise what is missing and how to allow it."""
    return _probe(bwrap_binary(), os.geteuid())


def require() -> None:
    """Raise :class:`SandboxUnavailable` unless :func:`probe` passes."""
    problem = probe()
    if problem:
        raise SandboxUnavailable(problem)
