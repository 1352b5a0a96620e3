"""How JupyterLab serves the course to a learner (used by ``.jupyter/jupyter_server_config.py`` and by every
hub user's server, ``assignments/hub/jupyter/common/jupyter_server_config.py``).

:func:`configure` applies the settings both share. Two pieces are plain Jupyter Server extension points:

* :class:`CourseContentsManager` hides, from the file browser only, what a
  learner never opens (the simulator's modules, the tests, the instructor's
  source assignments). Hidden entries are matched by their path from the
  server's root, so a learner's own ``tests/`` folder in ``my-work/`` stays
  visible, and every hidden file can still be opened by its path and imported.
* :func:`save_lessons_without_outputs` is a pre-save hook: a lesson notebook
  (``course/NN_*.ipynb``) is written without outputs, execution counts or the
  metadata the front end adds, so working through a lesson leaves the file as
  git has it and ``git pull`` keeps working. Learners' own notebooks are saved
  untouched.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shutil
import sys
from pathlib import Path

from jupyter_server.services.contents.largefilemanager import AsyncLargeFileManager
from traitlets import List, Unicode

#: API paths of the lesson notebooks (relative to the server root, always with ``/``).
LESSON_PATH = re.compile(r"^/?course/\d\d_[^/]*\.ipynb$")

#: Cell metadata the front end writes while a notebook runs; never part of a lesson.
VOLATILE_CELL_METADATA = ("collapsed", "scrolled", "execution", "jupyter")


def configure(c, terminal_rc: Path) -> None:
    """The course's JupyterLab settings on the server config ``c``, wherever it runs (``make lab``, Binder, a hub).

    Lessons are saved without outputs and the file browser hides what a learner
    never opens; the terminal starts bash with ``terminal_rc``, which puts the
    Python running this server first on PATH (whatever the user's shell start-up
    files put there), so ``python -m autograder ...`` finds the course's
    packages; and the browser makes no network look-ups.
    """
    c.ServerApp.contents_manager_class = "course.lab.CourseContentsManager"
    c.FileContentsManager.pre_save_hook = "course.lab.save_lessons_without_outputs"
    os.environ["COURSE_PYTHON_BIN"] = str(Path(sys.executable).parent)
    bash = shutil.which("bash")
    if bash:
        c.ServerApp.terminado_settings = {"shell_command": [bash, "--rcfile", str(terminal_rc), "-i"]}
    c.LabApp.news_url = None
    c.LabApp.check_for_updates_class = "jupyterlab.NeverCheckForUpdate"


def is_hidden_path(path: str, patterns: list[str] | tuple[str, ...]) -> bool:
    """Whether the API ``path`` (e.g. ``course/sim``) matches one of the glob ``patterns``."""
    path = path.strip("/")
    return any(fnmatch.fnmatchcase(path, pattern.strip("/")) for pattern in patterns)


class CourseContentsManager(AsyncLargeFileManager):
    """Jupyter Server's default contents manager, with some paths left out of directory listings."""

    hidden_paths = List(
        Unicode(), [], config=True,
        help="Glob patterns of paths, from the server root, to leave out of directory listings "
             "(e.g. 'course/sim' or 'course/*.py'). The files stay readable by their paths.")

    async def _dir_model(self, path, content=True):
        model = await super()._dir_model(path, content=content)
        if content and self.hidden_paths:
            model["content"] = [entry for entry in model["content"]
                                if not is_hidden_path(entry["path"], self.hidden_paths)]
        return model


def _on_disk(contents_manager, path: str) -> dict | None:
    """The notebook currently saved at ``path`` as JSON, or None if there is none (or it is unreadable)."""
    try:
        os_path = Path(contents_manager._get_os_path(path))
        return json.loads(os_path.read_text(encoding="utf-8"))
    except (OSError, ValueError, AttributeError):
        return None


def strip_notebook(notebook: dict, saved: dict | None = None) -> dict:
    """``notebook`` (nbformat JSON) without outputs and run state, changed in place and returned.

    Code cells lose their outputs and execution counts. Metadata the front end
    adds (the kernel's ``language_info``, cells' collapsed/scrolled state and
    timings) is replaced by what the ``saved`` copy of the same notebook has,
    cell by cell (matched by cell id), so an unedited lesson saves byte for byte
    as it was.
    """
    saved_cells = {}
    if saved:
        notebook["metadata"] = saved.get("metadata", notebook.get("metadata", {}))
        saved_cells = {cell.get("id"): cell for cell in saved.get("cells", []) if cell.get("id")}
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
        before = saved_cells.get(cell.get("id"))
        if before is not None and before.get("cell_type") == cell.get("cell_type"):
            cell["metadata"] = before.get("metadata", {})
        else:
            for key in VOLATILE_CELL_METADATA:
                cell.get("metadata", {}).pop(key, None)
    return notebook


def save_lessons_without_outputs(model: dict, path: str, contents_manager, **kwargs) -> None:
    """Jupyter Server pre-save hook: strip a lesson notebook (see the module docstring)."""
    if model.get("type") != "notebook" or not LESSON_PATH.match(path or ""):
        return
    content = model.get("content")
    if isinstance(content, dict):
        strip_notebook(content, _on_disk(contents_manager, path))
