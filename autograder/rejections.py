"""Why a submitted notebook cannot be graded, in a sentence a learner understands, found before nbgrader runs.

nbgrader's ``autograde`` first *sanitizes* a submission against the
assignment's source cells (its ``DeduplicateIds``, ``OverwriteCells`` and
``CheckCellMetadata`` preprocessors). Some of what it finds it repairs
silently: a test cell's edited source, type, lock or points are put back,
and deleted test cells and tasks are added back (our configuration turns on
``OverwriteCells.add_missing_cells``). The rest makes it stop with a
traceback that means nothing to a learner (``KeyError: 'grade_id'``,
``RuntimeError: Inconsistent checksums for cell ...``). Tried on nbgrader
0.9.6, it cannot grade:

* a grade id that appears on two cells (a cell copied, pasted or split keeps
  its nbgrader metadata), that the assignment does not have (a cell from
  another notebook, a renamed id), or nbgrader metadata without a grade id;
* a cell whose nbgrader role changed (a test cell marked as an answer, an
  answer marked as graded): its checksum can no longer be made to match;
* nbgrader metadata its validator refuses (an edited ``schema_version``, an
  added key, a test cell without ``points``, metadata that is not a dict);
* a missing test cell that it cannot put back because the cell it follows
  in the assignment is missing too (or lost its metadata): a deleted answer
  cell together with the test after it, a notebook whose editor dropped
  every cell's metadata, a notebook with no cells.

:func:`precheck` finds each of these, and also refuses what nbgrader would
repair behind the learner's back: a cell whose type changed (a code answer
or a test turned into Markdown: the grader would run it unlike the learner's
Jupyter did) and edited grading settings (points, a task or read-only cell
unmarked). It rejects a file over :data:`DEFAULT_MAX_BYTES` or that is not a
notebook. Each sentence names the cell and says what to do.

It does not refuse what nbgrader grades as the learner meant: a deleted
test cell or task (put back), a deleted answer cell or one that lost its
metadata (its code runs, or its tests fail and say why), an edited test
(its source is put back), an edited checksum (replaced).
:func:`notices` describes the first two for the learner.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

#: The largest notebook file graded, in bytes. An honest notebook is well under 1 MB even with its
#: outputs; one far larger almost always carries a huge saved output.
DEFAULT_MAX_BYTES = 20 * 1000 * 1000

#: Cell types as a learner reads them.
_TYPES = {"code": "code", "markdown": "Markdown", "raw": "raw"}

#: The longest grade id quoted back (ids come from the learner's file).
_MAX_ID = 60


def _quote(grade_id) -> str:
    text = " ".join(str(grade_id).split())
    return repr(text if len(text) <= _MAX_ID else text[: _MAX_ID - 1] + "…")


def _fresh_copy(assignment: str) -> str:
    command = f"python -m autograder fetch {assignment} --dest fresh-copy" if assignment else ""
    return ("start from a fresh copy of the assignment" + (f" ({command})" if command else "")
            + " and paste your answers into it")


# -- the file itself ---------------------------------------------------------------------------------

def file_problem(path: Path, *, max_bytes: int | None = DEFAULT_MAX_BYTES) -> str | None:
    """What is wrong with ``path`` as a notebook *file* (missing, too large, not JSON, not a notebook), or None.

    The message has no path in it; :func:`autograder.check.validate_notebook` puts
    the path in front. ``max_bytes=None`` skips the size check.
    """
    return _load(path, max_bytes)[0]


def _load(path: Path, max_bytes: int | None):
    """(what is wrong with the file, or None; the notebook read with nbformat, or None)."""
    import warnings

    import nbformat

    path = Path(path)
    if not path.exists():
        return "no such file", None
    if not path.is_file():
        return "not a file", None
    size = path.stat().st_size
    if max_bytes is not None and size > max_bytes:
        return (f"the notebook file's size is {size / 1e6:.1f} MB, over the grader's size limit of "
                f"{max_bytes / 1e6:.0f} MB. That is almost always a huge output saved in it (a long printout, many "
                "plots) or an image pasted into a Markdown cell: clear all outputs (in JupyterLab: Edit > Clear "
                "Outputs of All Cells), remove large pasted images, save, and submit it again"), None
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return "not a notebook (not a text file)", None
    try:
        data = json.loads(text)
    except ValueError as error:
        return (f"not valid JSON, so not a readable notebook ({error}). Was it edited outside Jupyter or "
                "cut short?"), None
    if not isinstance(data, dict) or "cells" not in data or "nbformat" not in data:
        return "JSON, but not a Jupyter notebook (no 'cells'/'nbformat')", None
    try:
        with warnings.catch_warnings():  # nbformat repairs duplicate or missing cell ids, and says so
            warnings.simplefilter("ignore")
            nb = nbformat.reads(text, as_version=4)
    except Exception as error:  # nbformat's own reader errors
        return f"not a readable Jupyter notebook ({type(error).__name__}: {error})", None
    return None, nb


# -- the assignment's cells --------------------------------------------------------------------------

@dataclass(frozen=True)
class SourceCell:
    """One nbgrader cell of the source notebook: its grade id, type and role flags."""

    grade_id: str
    cell_type: str
    grade: bool
    solution: bool
    locked: bool
    task: bool
    points: float | None = None

    @property
    def role(self) -> str:
        """How a learner knows the cell: ``answer cell``, ``test cell``, ``task`` or ``read-only cell``."""
        if self.solution:
            return "answer cell"
        if self.grade:
            return "test cell"
        if self.task:
            return "task"
        return "read-only cell"

    def named(self) -> str:
        """``the answer cell 'retry_policy'``."""
        return f"the {self.role} {_quote(self.grade_id)}"


def _flags(meta: dict) -> tuple[bool, bool, bool, bool]:
    """(grade, solution, locked, task) as nbgrader's ``utils.is_*`` read them."""
    grade, solution = bool(meta.get("grade", False)), bool(meta.get("solution", False))
    locked = False if solution else (True if grade else bool(meta.get("locked", False)))
    task = bool(meta.get("task", False))
    return grade, solution, locked, task


def source_cells(source_notebook) -> list[SourceCell]:
    """The source notebook's cells nbgrader records (graded, answer, locked or task), in order.

    ``source_notebook`` is a path or an nbformat notebook.
    """
    if not hasattr(source_notebook, "cells"):
        path = Path(source_notebook).resolve()
        return list(_source_cells_of_file(str(path), path.stat().st_mtime_ns))
    cells = []
    for cell in source_notebook.cells:
        meta = cell.get("metadata", {}).get("nbgrader")
        if not isinstance(meta, dict) or not meta.get("grade_id"):
            continue
        grade, solution, locked, task = _flags(meta)
        if grade or solution or locked or task:
            points = float(meta["points"]) if grade and "points" in meta else None
            cells.append(SourceCell(str(meta["grade_id"]), cell.get("cell_type", "code"), grade, solution, locked,
                                    task, points))
    return cells


@functools.lru_cache(maxsize=16)
def _source_cells_of_file(path: str, mtime_ns: int) -> tuple[SourceCell, ...]:
    return tuple(source_cells(_read(path)))


def _read(path):
    """The notebook at ``path`` (nbformat's warnings about cell ids, which it repairs, kept quiet)."""
    import warnings

    import nbformat

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return nbformat.read(str(path), as_version=4)


def _assignment_id(source_notebook) -> str:
    try:
        return Path(source_notebook).stem
    except TypeError:
        return ""


# -- the submission against the source ---------------------------------------------------------------

def _role_of(grade: bool, solution: bool, locked: bool, task: bool) -> str:
    if solution:
        return "a hand-graded answer" if grade else "an answer"
    if grade:
        return "a test"
    if task:
        return "a task"
    return "a read-only cell" if locked else "an ordinary cell"


def _where(index: int, cell, by_id: dict[str, SourceCell]) -> str:
    """A cell the learner can find: by the assignment's cell id when it kept one, else by position."""
    cell_id = cell.get("id")
    if isinstance(cell_id, str) and cell_id in by_id:
        return by_id[cell_id].named()
    return f"cell {index + 1} (counting from the top)"


def _metadata_problem(cells, by_id: dict[str, SourceCell], fresh: str) -> str | None:
    """Damaged nbgrader metadata, or grade ids that are unknown or appear twice: nbgrader cannot grade these."""
    seen: dict[str, int] = {}
    for index, cell in enumerate(cells):
        metadata = cell.get("metadata", {})
        if "nbgrader" not in metadata:
            continue
        meta = metadata["nbgrader"]
        if not isinstance(meta, dict):
            return (f"{_where(index, cell, by_id)} has damaged nbgrader metadata (not a set of settings), so "
                    f"the grader cannot tell what it is: {fresh}")
        if not meta.get("grade_id"):
            return (f"{_where(index, cell, by_id)} has nbgrader metadata without a grade id (was its metadata "
                    f"edited?), so the grader cannot match it to the assignment: {fresh}")
        grade_id = str(meta["grade_id"])
        if grade_id not in by_id:
            where = _where(index, cell, by_id)
            how = ("an edited id?" if where.startswith("the ") else
                   "a cell copied from another notebook or an older copy, or an edited id?")
            return (f"{where} has the grade id {_quote(grade_id)}, which the assignment does not have ({how}), "
                    f"so the grader cannot match it to the assignment: {fresh}")
    for index, cell in enumerate(cells):
        meta = cell.get("metadata", {}).get("nbgrader")
        if meta is None or not any(_flags(meta)[:3]):
            continue
        grade_id = str(meta["grade_id"])
        if grade_id in seen:
            return (f"{by_id[grade_id].named()} appears twice in your notebook (cells {seen[grade_id] + 1} and "
                    f"{index + 1}): a copied, pasted or split cell keeps the original's grade id, and the grader "
                    "cannot tell which is the real one. Keep one cell with that id (move your code into it and "
                    f"delete the copy), or {fresh}")
        seen[grade_id] = index
    return None


def _settings_problem(cells, by_id: dict[str, SourceCell], fresh: str) -> str | None:
    """A cell whose type or nbgrader settings differ from the assignment's.

    nbgrader itself cannot grade a cell whose role changed (a test marked as
    an answer: "Inconsistent checksums") or whose metadata its validator
    refuses; it silently puts back a changed cell type, lock or points. Those
    are refused too: a learner's notebook should run as it is graded, and
    grading settings are not the learner's to edit.
    """
    for index, cell in enumerate(cells):
        meta = cell.get("metadata", {}).get("nbgrader")
        if meta is None:
            continue
        source = by_id[str(meta["grade_id"])]
        grade, solution, locked, task = _flags(meta)
        if (grade, solution, locked, task) != (source.grade, source.solution, source.locked, source.task):
            return (f"{source.named()} has had its nbgrader settings changed (your notebook marks it as "
                    f"{_role_of(grade, solution, locked, task)}, the assignment as "
                    f"{_role_of(source.grade, source.solution, source.locked, source.task)}); grading settings "
                    f"are not yours to change: {fresh}")
        if source.grade:
            try:
                points = float(meta["points"])
            except (KeyError, TypeError, ValueError):
                return (f"{source.named()} has lost its points in its nbgrader metadata (was its metadata "
                        f"edited?), so the grader cannot score it: {fresh}")
            if points != source.points:
                return (f"{source.named()} has had its points changed in its nbgrader metadata (your notebook "
                        f"says {_quote(meta['points'])}, the assignment {source.points:g}); grading settings are "
                        f"not yours to change: {fresh}")
        if cell.get("cell_type") != source.cell_type:
            mine = _TYPES.get(cell.get("cell_type"), str(cell.get("cell_type")))
            theirs = _TYPES.get(source.cell_type, source.cell_type)
            return (f"{source.named()} has a different cell type in your notebook ({mine}) than in the "
                    f"assignment ({theirs}), so the grader would run it differently from how it ran for you: set "
                    f"its type back to {theirs} (the cell type menu in the toolbar), save, and submit again")
        repaired = dict(meta)
        for key in ("cell_type", "checksum"):  # nbgrader puts the assignment's checksum back
            repaired.pop(key, None)
        invalid = _invalid_metadata(source.cell_type, json.dumps(repaired, sort_keys=True, default=str))
        if invalid:
            return (f"{source.named()} has nbgrader metadata that is no longer valid ({invalid}); was it edited? "
                    f"{fresh[0].upper() + fresh[1:]}")
    return None


@functools.lru_cache(maxsize=512)
def _invalid_metadata(cell_type: str, meta_json: str) -> str | None:
    """What nbgrader's metadata validator says of a cell's nbgrader metadata, or None (cached: the
    validator checks its whole schema on every call)."""
    from nbformat import from_dict
    from nbgrader.nbgraderformat import MetadataValidator

    cell = {"cell_type": cell_type, "metadata": {"nbgrader": json.loads(meta_json)}, "source": ""}
    if cell_type == "code":
        cell.update(outputs=[], execution_count=None)
    try:
        MetadataValidator().validate_cell(from_dict(cell))
    except Exception as error:  # nbgrader's ValidationError or SchemaTooOld/NewError, jsonschema's errors
        return " ".join(str(error).split("\n", 1)[0].split())[:120]
    return None


def _missing_problem(cells, source: list[SourceCell], fresh: str) -> str | None:
    """A missing test cell nbgrader cannot put back: it goes after the assignment's cell before it,
    which must be in the notebook as an answer or test cell (nbgrader 0.9.6 ``add_missing_grade_cells``)."""
    present = {}  # grade id -> kept its nbgrader metadata as an answer or test cell
    ids_without_metadata = set()
    for cell in cells:
        meta = cell.get("metadata", {}).get("nbgrader")
        if isinstance(meta, dict) and meta.get("grade_id"):
            grade, solution, _, _ = _flags(meta)
            if grade or solution:
                present[str(meta["grade_id"])] = True
        elif isinstance(cell.get("id"), str):
            ids_without_metadata.add(cell["id"])
    order = [c.grade_id for c in source]
    by_id = {c.grade_id: c for c in source}
    for position, cell in enumerate(source):
        if not cell.grade or cell.grade_id in present:
            continue
        if position == 0:
            present[cell.grade_id] = True
            continue
        before = by_id[order[position - 1]]
        if before.grade_id not in present:
            if not cells:
                return f"the notebook has no cells: submit the notebook you worked in, or {fresh}"
            if not any(isinstance(c.get("metadata", {}).get("nbgrader"), dict) for c in cells):
                return ("no cell of your notebook has its nbgrader metadata any more (was it saved by an editor "
                        "that drops cell metadata, such as Google Colab?), so the grader cannot find your answers "
                        f"or put the tests back: {fresh}")
            if before.grade_id in ids_without_metadata:
                lost = f"{before.named()} has lost its nbgrader metadata"
            else:
                lost = f"{before.named()} is missing from your notebook (deleted?)"
            return (f"{lost} and {cell.named()} after it is missing too, so the grader cannot put the test back "
                    f"in its place: {fresh}")
        present[cell.grade_id] = True
    return None


def precheck(path, source_notebook, *, max_bytes: int | None = DEFAULT_MAX_BYTES) -> str | None:
    """Why nbgrader cannot grade the notebook file ``path``, in one sentence for the learner, or None.

    Run it before nbgrader. ``source_notebook`` is the assignment's source
    notebook (a path, e.g. ``assignments/<id>/<id>.ipynb`` or a course's
    ``source/<id>/<id>.ipynb``, or an nbformat notebook); the submission's grade
    ids, roles, types, points and order are compared with its cells. See the
    module docstring for what is rejected (every honest notebook passes).
    """
    problem, nb = _load(path, max_bytes)
    if problem:
        return problem
    source = source_cells(source_notebook)
    fresh = _fresh_copy(_assignment_id(source_notebook))
    cells = nb.get("cells", [])
    if not cells:
        return f"the notebook has no cells: submit the notebook you worked in, or {fresh}"
    by_id = {c.grade_id: c for c in source}
    return (_metadata_problem(cells, by_id, fresh) or _settings_problem(cells, by_id, fresh)
            or _missing_problem(cells, source, fresh))


def precheck_submission(submitted_dir, source_dir, *, max_bytes: int | None = DEFAULT_MAX_BYTES) -> str | None:
    """:func:`precheck` for a submission folder: each source notebook ``source_dir/<name>.ipynb`` against
    ``submitted_dir/<name>.ipynb`` when that exists (a missing notebook is nbgrader's to report)."""
    sources = sorted(Path(source_dir).glob("*.ipynb"))
    for source in sources:
        submitted = Path(submitted_dir) / source.name
        if submitted.is_file():
            problem = precheck(submitted, source, max_bytes=max_bytes)
            if problem:
                return f"{source.name}: {problem}" if len(sources) > 1 else problem
    return None


def notices(path, source_notebook) -> list[str]:
    """What will cost points or was repaired, in a sentence each, for a notebook :func:`precheck` passed.

    An answer cell that was deleted (its tests fail) or lost its nbgrader
    metadata (it runs as an ordinary cell); a test cell or task that was
    deleted or lost its metadata (the grader puts the assignment's back).
    """
    nb = _read(path)
    source = source_cells(source_notebook)
    by_id = {c.grade_id: c for c in source}
    found, unmarked = set(), set()
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader")
        if isinstance(meta, dict) and meta.get("grade_id") in by_id:
            found.add(str(meta["grade_id"]))
        elif isinstance(cell.get("id"), str) and cell["id"] in by_id:
            unmarked.add(cell["id"])
    notes = []
    for sc in source:
        if sc.grade_id in found:
            continue
        if sc.solution and sc.grade_id in unmarked:
            notes.append(f"{sc.named()} has lost its nbgrader metadata; it was run as an ordinary cell")
        elif sc.solution:
            notes.append(f"{sc.named()} is missing from your notebook (deleted?), so the tests that use it fail")
        elif sc.grade or sc.task:
            notes.append(f"{sc.named()} was missing from your notebook; the grader put it back")
    return notes
