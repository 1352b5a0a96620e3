"""``python -m autograder fetch ID [--dest DIR]``: write a learner's copy of an assignment.

The copy is nbgrader's student version, made by ``nbgrader
generate_assignment`` in a throwaway course: solution regions replaced by
``raise NotImplementedError()`` / "YOUR ANSWER HERE", hidden tests removed,
outputs cleared, plus any data files of the assignment. It goes to
``DEST/<id>/`` (default ``my-work/<id>/``, which git ignores).

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

DEFAULT_DEST = Path("my-work")


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


def fetch(assignment_id: str, dest: Path = DEFAULT_DEST, *, force: bool = False) -> Fetched:
    """Generate the student version of ``assignment_id`` and copy it to ``dest/<id>/``."""
    assignment = find_assignment(assignment_id)
    target = Path(dest) / assignment.id
    with ScratchCourse(assignment) as course:
        release = course.generate()
        files = sorted(p.relative_to(release) for p in release.rglob("*") if p.is_file())
        existing = [target / f for f in files if (target / f).exists()]
        if existing and not force:
            listing = "\n".join(f"  {p}" for p in existing)
            raise AutograderError(
                f"not overwriting your work; these files already exist:\n{listing}\n"
                "Check them with `python -m autograder check ...`, or fetch into another "
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
             f"{fetched.directory}/:"]
    lines += [f"  {p}" for p in fetched.files]
    for backup in fetched.backups:
        lines.append(f"  (your previous file was kept as {backup})")
    lines += ["",
              f"Next: open {fetched.notebook} in JupyterLab and fill in the solution cells, then check it:",
              f"  python -m autograder check {fetched.notebook}"]
    return "\n".join(lines)
