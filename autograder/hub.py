"""``python -m autograder hub config``: a JupyterHub for a cohort, written from the templates in ``assignments/hub/``.

One hub on one Linux machine, as nbgrader's documentation sets it up for one
instructor who is also the only grader ("one class, one grader"): the
instructor's own server runs formgrader on the course directory in their
home, every student fetches and submits through nbgrader's exchange (a shared
folder with the sticky bit, mode 1777), and each user's server is started by
JupyterHub's local process spawner as that Unix user. What it writes (OUT is
``--out``)::

    OUT/jupyterhub_config.py              the hub: authenticator, spawner, users, the layers below
    OUT/nbgrader_config.py                the course directory's (course id, exchange, autograder.config.apply);
                                          copied into the course directory at the instructor's first start
    OUT/students.csv                      the roster for `nbgrader db student import` (add names, LMS ids)
    OUT/jupyter/common/                   everyone's JupyterLab as `make lab` sets it up, and the course id
                                          and exchange for nbgrader
    OUT/jupyter/learner/                  learners: nbgrader's authoring tools (formgrader, create
                                          assignment, validate, course list) hidden; the assignment list kept
    OUT/jupyter/instructor/               the instructor: formgrader on COURSE_DIR, our grading settings

The hub passes ``JUPYTER_CONFIG_PATH`` (learner or instructor layer, then
common) to each server. OUT must stay readable by every user (the servers read
the layers), and so must the Python environment the servers run from
(``--user-env``: a virtual environment with the course and jupyterhub
installed, made from a Python outside any private home).
"""

from __future__ import annotations

import csv
import os
import re
import shlex
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from string import Template

from . import AutograderError

ROOT = Path(__file__).resolve().parents[1]
#: The templates (beside the instructor guide).
TEMPLATES = ROOT / "assignments" / "hub"
DEFAULT_EXCHANGE = "/srv/nbgrader/exchange"
AUTH_CHOICES = ("pam", "shared-password")
#: Environment variables the shared-password hub reads its passwords from at start (never written to a file).
PASSWORD_ENV = "MUP_HUB_PASSWORD"
ADMIN_PASSWORD_ENV = "MUP_HUB_ADMIN_PASSWORD"

#: nbgrader's course ids and assignment ids: letters, digits, '-', '_', '.' (they become folder names).
_COURSE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
#: Debian's default NAME_REGEX for user names (useradd, adduser).
_USER_NAME = re.compile(r"^[a-z][-a-z0-9_]{0,31}$")


class HubConfigError(AutograderError):
    """A bad argument to ``hub config``: the message names it."""


@dataclass
class HubSettings:
    """Everything the hub configuration depends on (see :func:`write_hub_config`)."""

    course_id: str
    instructor: str
    students: list[str]
    auth: str = "pam"
    exchange: str = DEFAULT_EXCHANGE
    course_dir: str | None = None          # default: /home/<instructor>/<course_id>
    user_env: str = field(default_factory=lambda: sys.prefix)
    lessons: str | None = field(default_factory=lambda: str(ROOT / "course")
                                if (ROOT / "course" / "00_start_here.ipynb").is_file() else None)
    assignments: list[str] = field(default_factory=lambda: sorted(
        str(d) for d in (ROOT / "assignments").iterdir() if d.is_dir() and (d / f"{d.name}.ipynb").is_file())
        if (ROOT / "assignments").is_dir() else [])
    ip: str = ""
    port: int = 8000

    @property
    def resolved_course_dir(self) -> str:
        return self.course_dir or f"/home/{self.instructor}/{self.course_id}"


def split_names(text: str | None) -> list[str]:
    """``"bob, carol"`` -> ``["bob", "carol"]`` (empty items dropped)."""
    return [name.strip() for name in (text or "").split(",") if name.strip()]


def validate(settings: HubSettings) -> None:
    """Raise :class:`HubConfigError` naming the first bad argument."""
    s = settings
    if not _COURSE_ID.match(s.course_id or ""):
        raise HubConfigError(f"--course-id {s.course_id!r}: use letters, digits, '-', '_' or '.', starting with a "
                             "letter or digit, at most 64 characters (it becomes a folder name)")
    if not s.instructor:
        raise HubConfigError("--instructors: give the instructor's Unix user name")
    for option, names in (("--instructors", [s.instructor]), ("--students", s.students)):
        for name in names:
            if not _USER_NAME.match(name):
                raise HubConfigError(f"{option}: {name!r} is not a valid Unix user name (lower-case letters, "
                                     "digits, '-' and '_', starting with a letter, at most 32 characters)")
    duplicates = sorted({n for n in s.students if s.students.count(n) > 1})
    if duplicates:
        raise HubConfigError(f"--students: listed more than once: {', '.join(duplicates)}")
    if s.instructor in s.students:
        raise HubConfigError(f"--students: {s.instructor!r} is the instructor; a user is one or the other")
    if s.auth not in AUTH_CHOICES:
        raise HubConfigError(f"--auth {s.auth!r}: choose one of {', '.join(AUTH_CHOICES)}")
    for option, value in (("--exchange", s.exchange), ("--course-dir", s.resolved_course_dir),
                          ("--user-env", s.user_env)):
        if not os.path.isabs(value):
            raise HubConfigError(f"{option} {value!r}: give an absolute path")
    python = Path(s.user_env) / "bin" / "python"
    if not python.exists():
        raise HubConfigError(f"--user-env {s.user_env!r}: no bin/python there; make the users' environment "
                             "first (see assignments/README.md, 'Cohort on JupyterHub')")
    blocked = private_ancestor(python)
    if blocked:
        raise HubConfigError(f"--user-env {s.user_env!r}: the users cannot run its Python ({python.resolve()}): "
                             f"{blocked} is not open to other users. Make the environment from a Python outside "
                             "any private home, e.g. python3 -m venv /opt/mup (see the guide)")
    if not isinstance(s.port, int) or not 1 <= s.port <= 65535:
        raise HubConfigError(f"--port {s.port!r}: give a TCP port, 1 to 65535")


def private_ancestor(path: Path) -> str | None:
    """The first folder on the way to ``path`` (symbolic links followed) that other users cannot enter, if any."""
    target = Path(path).resolve()
    for folder in [*reversed(Path(path).absolute().parents), *reversed(target.parents)]:
        if folder.exists() and not os.stat(folder).st_mode & 0o001:
            return str(folder)
    if target.is_file() and os.stat(target).st_mode & 0o005 != 0o005:
        return str(target)
    return None


def _auth_block(auth: str) -> str:
    if auth == "pam":
        return ('# PAM: the machine\'s own accounts and passwords (the hub runs as root).\n'
                'c.JupyterHub.authenticator_class = "pam"')
    return (
        "# A shared password, for trials only: anyone with the learners' password can log in as any learner.\n"
        "# The instructor is an admin, who logs in with the admin password (32 characters or more), so the\n"
        f"# learners' password never opens the instructor's account. Both come from the environment: {PASSWORD_ENV}\n"
        f"# and {ADMIN_PASSWORD_ENV}.\n"
        'c.JupyterHub.authenticator_class = "shared-password"\n'
        f'for _name in ("{PASSWORD_ENV}", "{ADMIN_PASSWORD_ENV}"):\n'
        '    if not os.environ.get(_name):\n'
        '        raise SystemExit(f"jupyterhub_config.py: set {_name} (the shared-password authenticator reads it)")\n'
        f'c.SharedPasswordAuthenticator.user_password = os.environ["{PASSWORD_ENV}"]\n'
        f'c.SharedPasswordAuthenticator.admin_password = os.environ["{ADMIN_PASSWORD_ENV}"]')


def _nbgrader_config(course_id: str, role: str, body: list[str]) -> str:
    template = Template((TEMPLATES / "nbgrader_config.py.template").read_text(encoding="utf-8"))
    return template.substitute(course_id_text=course_id, role=role, body="\n".join(body))


def _apply_lines() -> list[str]:
    return ["",
            "# The autograder's settings: the cell timeout, the sandboxed and guarded kernel, and feedback",
            "# without hidden tests or mark schemes (see assignments/README.md).",
            "from autograder.config import apply",
            "apply(c)"]


def render(settings: HubSettings, out: Path, command_args: str = "") -> dict[str, str]:
    """The generated files, relative path -> text (nothing written)."""
    s = settings
    out = Path(out).resolve()
    config_path = out / "jupyterhub_config.py"
    bind_url = f"http://{s.ip}:{s.port}"
    hub = Template((TEMPLATES / "jupyterhub_config.py.template").read_text(encoding="utf-8")).substitute(
        course_id_text=s.course_id, command_args=command_args, config_path=shlex.quote(str(config_path)),
        course_id=repr(s.course_id), instructor=repr(s.instructor), students=repr(list(s.students)),
        course_dir=repr(s.resolved_course_dir), exchange=repr(s.exchange), user_env=repr(s.user_env),
        lessons=repr(s.lessons), assignments=repr(list(s.assignments)), bind_url=repr(bind_url),
        auth_block=_auth_block(s.auth))
    shared = [f"c.CourseDirectory.course_id = {s.course_id!r}",
              f"c.Exchange.root = {s.exchange!r}",
              "# Fetched assignments go to ~/<course id>/<assignment>/, apart from the lessons in ~/course.",
              "c.Exchange.path_includes_course = True"]
    files = {
        "jupyterhub_config.py": hub,
        "nbgrader_config.py": _nbgrader_config(s.course_id, "the course directory", shared + _apply_lines()),
        "jupyter/common/nbgrader_config.py": _nbgrader_config(s.course_id, "every user", shared),
        "jupyter/instructor/nbgrader_config.py": _nbgrader_config(
            s.course_id, "the instructor: formgrader's course directory",
            [f"c.CourseDirectory.root = {s.resolved_course_dir!r}"] + _apply_lines()),
    }
    roster = [["id", "first_name", "last_name", "email", "lms_user_id"]] + [[name, "", "", "", ""]
                                                                             for name in s.students]
    files["students.csv"] = "".join(",".join(row) + "\n" for row in roster)
    for path in sorted((TEMPLATES / "jupyter").rglob("*")):
        if path.is_file():
            files[path.relative_to(TEMPLATES).as_posix()] = path.read_text(encoding="utf-8")
    # The terminal's start-up file is the one `make lab` uses.
    files["jupyter/common/terminal.bashrc"] = (ROOT / ".jupyter" / "terminal.bashrc").read_text(encoding="utf-8")
    return files


def write_hub_config(settings: HubSettings, out: Path, *, force: bool = False, command_args: str = "") -> list[Path]:
    """Validate ``settings`` and write the hub's files into ``out`` (see the module docstring).

    Refuses to replace an existing file unless ``force``. Every file and folder
    written is readable by everyone (the users' servers read the layers).
    """
    validate(settings)
    if not (TEMPLATES / "jupyterhub_config.py.template").is_file():
        raise HubConfigError(f"the hub templates are not at {TEMPLATES}: run this from the course's repository "
                             "(pip install -e it), not from a copy installed without assignments/")
    out = Path(out).absolute()
    if out.exists() and not out.is_dir():
        raise HubConfigError(f"--out {str(out)!r}: exists and is not a folder")
    existing_ancestor = next(p for p in [out, *out.parents] if p.exists())
    blocked = private_ancestor(existing_ancestor / "x")
    if blocked:
        raise HubConfigError(f"--out {str(out)!r}: the users' servers read it, and {blocked} is not open to other "
                             "users; choose a folder they can reach, e.g. /etc/jupyterhub/<course id>")
    files = render(settings, out, command_args)
    existing = [name for name in files if (out / name).exists()]
    if existing and not force:
        raise HubConfigError(f"--out {str(out)!r}: would replace {', '.join(existing)}; use --force")
    written = []
    for name, text in files.items():
        path = out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        path.chmod(0o644)
        written.append(path)
    for folder in [out, *(p for p in out.rglob("*") if p.is_dir())]:
        folder.chmod(0o755)
    return written


def read_roster(path: Path) -> list[str]:
    """Student ids from an nbgrader roster CSV (an ``id`` column, as ``nbgrader db student import`` reads)."""
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            if not reader.fieldnames or "id" not in reader.fieldnames:
                raise HubConfigError(f"--roster {str(path)!r}: needs an 'id' column (nbgrader's roster format: "
                                     "id,first_name,last_name,email,lms_user_id)")
            return [row["id"].strip() for row in reader if (row.get("id") or "").strip()]
    except OSError as error:
        raise HubConfigError(f"--roster {str(path)!r}: {error.strerror}") from None


def describe(written: list[Path], settings: HubSettings) -> str:
    out = written[0].parent
    lines = [f"Wrote the hub for {settings.course_id} to {out}:"]
    lines += [f"  {p.relative_to(out)}" for p in written]
    lines += ["", "Next (as root; see assignments/README.md, 'Cohort on JupyterHub'):",
              f"  jupyterhub -f {out / 'jupyterhub_config.py'}"]
    if settings.auth == "shared-password":
        lines.insert(-1, f"  export {PASSWORD_ENV}=...  {ADMIN_PASSWORD_ENV}=...   (8 and 32 characters or more)")
    if shutil.which("configurable-http-proxy") is None:
        lines.append("(configurable-http-proxy is not on PATH: npm install -g configurable-http-proxy)")
    return "\n".join(lines)
