"""Things an instructor should look at in a submission, even when its score is valid: the report's ``flags``.

* **Tampering.** :class:`autograder.guard.GuardedExecute` records, in each
  test cell's metadata, what it found changed in the kernel's machinery (and
  put back) before or during the test. :func:`tampering` lists it.
* **The course's own implementation.** Each assignment asks for code the
  course package already has (the resilience assignment's ``RetryPolicy`` and
  ``CircuitBreaker`` live in ``course.sim.policies``). Importing it passes
  the tests without doing the work. :func:`course_imports` finds, in any code
  cell, an import from ``course`` of a name that the student version's answer
  cells define, and attribute access to such a name on a ``course`` module
  (``import course.sim.policies as p; p.CircuitBreaker``).

Both are for a person to judge: the flag never changes a score.
"""

from __future__ import annotations

import ast
from pathlib import Path

from .guard import META


def _code_cells(nb) -> list:
    return [c for c in nb.cells if c.get("cell_type") == "code"]


def answer_names(source_nb) -> set[str]:
    """Classes and functions the answer (solution) cells of the source or student notebook define."""
    names = set()
    for cell in _code_cells(source_nb):
        if not cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        names |= {n.name for n in tree.body if isinstance(n, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))}
    return names


def course_imports(submitted_nb, source_nb) -> list[str]:
    """``course.x.Name`` for every answer name the submission takes from the course package instead."""
    wanted = answer_names(source_nb)
    found = set()
    for cell in _code_cells(submitted_nb):
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        course_aliases = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "course":
                for alias in node.names:
                    if alias.name in wanted:
                        found.add(f"{node.module}.{alias.name}")
                    else:
                        course_aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] == "course":
                        course_aliases[alias.asname or alias.name.split(".")[0]] = alias.asname and alias.name \
                            or alias.name.split(".")[0]
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in wanted:
                root = node.value
                while isinstance(root, ast.Attribute):
                    root = root.value
                if isinstance(root, ast.Name) and root.id in course_aliases:
                    found.add(f"{course_aliases[root.id]}...{node.attr}")
    return sorted(found)


def tampering(executed_nb) -> list[str]:
    """What the guard found changed and put back, with the test cells it was found around."""
    found = {}
    for cell in _code_cells(executed_nb):
        for item in cell.get("metadata", {}).get(META, {}).get("tampered", []):
            found.setdefault(item, cell.get("metadata", {}).get("nbgrader", {}).get("grade_id", "?"))
    return [f"{item} (first seen at {grade_id})" for item, grade_id in found.items()]


def submission_flags(submitted: Path | None, executed: Path | None, source: Path) -> list[str]:
    """The flags of one submission: its notebook as submitted, as executed, and the source notebook."""
    import nbformat

    flags = []
    source_nb = nbformat.read(str(source), as_version=4)
    if submitted is not None and Path(submitted).is_file():
        try:
            imports = course_imports(nbformat.read(str(submitted), as_version=4), source_nb)
        except Exception:  # an unreadable notebook is reported as not graded, not here
            imports = []
        if imports:
            flags.append("uses the course's own implementation: " + ", ".join(imports))
    if executed is not None and Path(executed).is_file():
        changed = tampering(nbformat.read(str(executed), as_version=4))
        if changed:
            flags.append("changed the grader's machinery (put back before the tests): " + "; ".join(changed[:8])
                         + (f"; and {len(changed) - 8} more" if len(changed) > 8 else ""))
    return flags
