"""``python -m autograder fetch ID [--dest DIR]``: write a learner's copy of an assignment.

The copy is nbgrader's student version, made by ``nbgrader
generate_assignment`` in a throwaway course: solution regions replaced by
``raise NotImplementedError()`` / "YOUR ANSWER HERE", hidden tests removed,
outputs cleared, plus any data files of the assignment. It goes to
``DEST/<id>/``. The default DEST is the learner's work folder,
:func:`default_dest`: ``my-work/`` at the top of the course checkout when the
command runs anywhere inside it (git ignores that folder, and JupyterLab shows
it beside ``course/``), else ``my-work/`` in the current directory.

A learner's work is never lost: if any file to be written already exists,
nothing is written and the command fails, unless ``force`` is given; then
each existing file is first renamed to ``<stem>.backup-<time><suffix>``.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from . import AutograderError
from .assignments import find_assignment
from .scratch import ScratchCourse

#: The name of the learner's work folder.
WORK_DIR_NAME = "my-work"


def course_checkout() -> Path | None:
    """The course repository this package runs from (an editable install or a clone), if it does."""
    root = Path(__file__).resolve().parent.parent
    return root if (root / "course").is_dir() and (root / "assignments").is_dir() else None


def default_dest(cwd: Path | None = None) -> Path:
    """Where ``fetch`` writes and ``check ID`` looks: see the module docstring."""
    cwd = (Path.cwd() if cwd is None else Path(cwd)).resolve()
    root = course_checkout()
    if root is not None and (cwd == root or root in cwd.parents):
        return root / WORK_DIR_NAME
    return cwd / WORK_DIR_NAME


def shown(path: Path, cwd: Path | None = None) -> str:
    """``path`` as a learner finds it: relative to ``cwd`` when it is below it, else relative to the
    course checkout (the top of JupyterLab's file browser) when it is in there, else absolute."""
    cwd = (Path.cwd() if cwd is None else Path(cwd)).resolve()
    path = Path(path).resolve()
    for base in (cwd, course_checkout()):
        if base is not None and (base == path or base in path.parents):
            return path.relative_to(base).as_posix()
    return str(path)


@dataclass
class Fetched:
    """What :func:`fetch` wrote: the files, and the backups it made of files it replaced."""

    assignment: str
    directory: Path
    files: list[Path]
    backups: list[Path]

    @property
    def notebook(self) -> Path:
        return self.directory / f"{self.assignment}.ipynb"


def _backup_name(path: Path, stamp: str) -> Path:
    candidate = path.with_name(f"{path.stem}.backup-{stamp}{path.suffix}")
    n = 1
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.stem}.backup-{stamp}-{n}{path.suffix}")
    return candidate


def fetch(assignment_id: str, dest: Path | None = None, *, force: bool = False) -> Fetched:
    """Generate the student version of ``assignment_id`` and copy it to ``dest/<id>/`` (default :func:`default_dest`)."""
    assignment = find_assignment(assignment_id)
    target = (default_dest() if dest is None else Path(dest)) / assignment.id
    with ScratchCourse(assignment) as course:
        release = course.generate()
        files = sorted(p.relative_to(release) for p in release.rglob("*") if p.is_file())
        existing = [target / f for f in files if (target / f).exists()]
        if existing and not force:
            listing = "\n".join(f"  {shown(p)}" for p in existing)
            raise AutograderError(
                f"not overwriting your work; these files already exist:\n{listing}\n"
                f"Check them with `python -m autograder check {assignment.id}`, or fetch into another "
                "folder with --dest DIR. To replace them anyway use --force "
                "(each existing file is kept as a .backup copy).")
        stamp = time.strftime("%Y%m%d-%H%M%S")
        backups = []
        for path in existing:
            backup = _backup_name(path, stamp)
            path.rename(backup)
            backups.append(backup)
        written = []
        for relative in files:
            out = target / relative
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(release / relative, out)
            written.append(out)
    return Fetched(assignment.id, target, written, backups)


def describe(fetched: Fetched) -> str:
    """The message ``fetch`` prints: where the files went and what to do next."""
    lines = [f"Fetched the student version of {fetched.assignment!r} "
             "(nbgrader generate_assignment: solutions and hidden tests removed) into "
             f"{shown(fetched.directory)}/:"]
    lines += [f"  {shown(p)}" for p in fetched.files]
    for backup in fetched.backups:
        lines.append(f"  (your previous file was kept as {shown(backup)})")
    in_work_dir = fetched.directory.resolve().parent == default_dest().resolve()
    target = fetched.assignment if in_work_dir else shown(fetched.notebook)
    lines += ["",
              f"Next: open {shown(fetched.notebook)} in JupyterLab's file browser, fill in the solution cells "
              "and save, then check it:",
              f"  python -m autograder check {target}"]
    return "\n".join(lines)
