"""Find the course's nbgrader source assignments and tell which one a notebook belongs to.

A source assignment is a directory ``<assignments>/<id>/`` holding the
nbgrader source notebook ``<id>.ipynb`` (solutions and hidden tests in place)
and any data files it needs. ``<assignments>`` is the ``assignments/``
directory of this repository, found next to the package, or the directory
named by the environment variable ``AUTOGRADER_ASSIGNMENTS`` (tests use it).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from . import AutograderError

ENV_VAR = "AUTOGRADER_ASSIGNMENTS"

#: What never belongs to an assignment: caches and editor litter (nbgrader's own ignore list).
IGNORED = (".ipynb_checkpoints", "__pycache__", "*.pyc", "feedback", ".DS_Store")


def assignments_dir() -> Path:
    """The directory holding the source assignments (``$AUTOGRADER_ASSIGNMENTS`` or the repo's)."""
    override = os.environ.get(ENV_VAR)
    if override:
        return Path(override).expanduser().resolve()
    return Path(__file__).resolve().parent.parent / "assignments"


@dataclass(frozen=True)
class Assignment:
    """One source assignment: its id, its directory and its source notebook."""

    id: str
    directory: Path

    @property
    def notebook(self) -> Path:
        """The nbgrader source notebook, ``<directory>/<id>.ipynb``."""
        return self.directory / f"{self.id}.ipynb"

    def grade_ids(self) -> set[str]:
        """The nbgrader ``grade_id`` of every cell of the source notebook that has one."""
        return notebook_grade_ids(self.notebook)


def list_assignments(root: Path | None = None) -> list[Assignment]:
    """Every ``<root>/<id>/<id>.ipynb``, sorted by id."""
    root = assignments_dir() if root is None else Path(root)
    if not root.is_dir():
        return []
    return [Assignment(d.name, d) for d in sorted(root.iterdir())
            if d.is_dir() and (d / f"{d.name}.ipynb").is_file()]


def _unknown(message: str, root: Path) -> AutograderError:
    ids = [a.id for a in list_assignments(root)]
    valid = ", ".join(ids) if ids else f"none (no <id>/<id>.ipynb under {root})"
    return AutograderError(f"{message}. Valid assignment ids: {valid}")


def find_assignment(assignment_id: str, root: Path | None = None) -> Assignment:
    """The assignment called ``assignment_id``; an :class:`AutograderError` listing the valid ids if none is."""
    root = assignments_dir() if root is None else Path(root)
    for assignment in list_assignments(root):
        if assignment.id == assignment_id:
            return assignment
    raise _unknown(f"unknown assignment {assignment_id!r}", root)


def notebook_grade_ids(path: Path) -> set[str]:
    """The nbgrader ``grade_id`` values in a notebook file (empty if it cannot be read)."""
    try:
        nb = json.loads(Path(path).read_text(encoding="utf-8"))
        cells = nb.get("cells", [])
    except (OSError, ValueError, AttributeError):
        return set()
    ids = set()
    for cell in cells if isinstance(cells, list) else []:
        meta = cell.get("metadata", {}).get("nbgrader", {}) if isinstance(cell, dict) else {}
        if isinstance(meta, dict) and meta.get("grade_id"):
            ids.add(str(meta["grade_id"]))
    return ids


def infer_assignment(notebook: Path, root: Path | None = None) -> Assignment:
    """The assignment a learner's notebook belongs to.

    Tried in order: the file name (``resilience.ipynb``), the name of the
    folder it is in (``resilience/my copy.ipynb``, as ``fetch`` lays them
    out), then the nbgrader metadata: the assignment whose source notebook
    shares the most cell ``grade_id`` values with it.
    """
    root = assignments_dir() if root is None else Path(root)
    notebook = Path(notebook)
    known = {a.id: a for a in list_assignments(root)}
    for name in (notebook.stem, notebook.resolve().parent.name):
        if name in known:
            return known[name]
    ids = notebook_grade_ids(notebook)
    overlaps = sorted(((len(ids & a.grade_ids()), a.id) for a in known.values()), reverse=True)
    if overlaps and overlaps[0][0] > 0 and (len(overlaps) == 1 or overlaps[1][0] < overlaps[0][0]):
        return known[overlaps[0][1]]
    raise _unknown(f"cannot tell which assignment {notebook} belongs to (give --assignment ID)", root)
