"""Our nbgrader configuration, for a throwaway course or an instructor's course directory.

Three settings, applied by :func:`apply` on top of whatever a course's own
``nbgrader_config.py`` says:

* **Gradebook.** ``CourseDirectory.db_url`` is ``sqlite:///<course>/gradebook.db``
  unless the course names another database.
* **Cell timeout.** nbgrader's ``Execute`` preprocessor (a subclass of
  nbconvert's ``ExecutePreprocessor``) waits ``timeout`` seconds for each
  cell, then interrupts the kernel, records a ``CellTimeoutError`` in that
  cell and goes on with the next one (``interrupt_on_timeout``). A
  ``while True: pass`` therefore costs one timeout per cell that runs it and
  the submission is still graded. We set ``ExecutePreprocessor.timeout`` and
  ``Execute.timeout`` to :data:`DEFAULT_CELL_TIMEOUT` seconds, or to the
  ``timeout`` given (``--timeout`` on the command line), unless the course
  configures its own.
* **Deleted test cells come back.** nbgrader always puts the original source
  back into a test cell a learner edited; with
  ``OverwriteCells.add_missing_cells`` it also puts back test cells a
  learner deleted (otherwise their points are silently lost, with no
  output to explain why). Set to True unless the course says otherwise.
* **Feedback without hidden tests.** nbgrader's ``GenerateFeedback`` renders
  the autograded notebook, in which autograde has restored the hidden tests
  (and the kernel's tracebacks quote them). We add
  :class:`autograder.feedback.StripHiddenTests` to
  ``GenerateFeedback.preprocessors``, so plain ``nbgrader generate_feedback``
  in a course that loads this configuration is safe too.
* **A sandboxed, guarded kernel.** ``Autograde.autograde_preprocessors``
  runs :class:`autograder.guard.GuardedExecute` where nbgrader runs
  ``Execute``: the kernel in the sandbox, the tests guarded, a test cell's
  score only from whether it raised (``GuardedExecute.sandbox``: ``"auto"``
  unless ``apply(c, sandbox=...)`` or the configuration says otherwise).
* **Feedback that cannot leak.** After the steps below,
  :class:`autograder.safe_feedback.FeedbackRun` re-runs the notebook without
  its hidden tests and :class:`~autograder.safe_feedback.SafeOutputs` keeps
  escaped, capped text only.
* **Tests graded by wheat and chaff.** Right after the kernel has run,
  :class:`autograder.wheat_chaff_grade.WheatChaffGrade` scores the test cells
  of questions in which learners write tests (outside the kernel, in the
  sandbox); in feedback, :class:`~autograder.wheat_chaff_grade.WheatChaffFeedback`
  shows its report.
* **Feedback without mark schemes.** For the same reason (autograde restores
  locked cells from the gradebook) feedback would show the ``BEGIN MARK
  SCHEME`` regions of hand-graded tasks: the model answers. nbgrader's own
  ``ClearMarkScheme`` (which ``generate_assignment`` uses) is added after
  ours, unless ``show_mark_scheme=True``.

An instructor's ``nbgrader_config.py`` uses it like this (see
``assignments/README.md``; :func:`write_config_file` writes one)::

    c = get_config()
    c.CourseDirectory.course_id = "microservices-under-pressure"
    from autograder.config import apply
    apply(c)               # or apply(c, timeout=60)
"""

from __future__ import annotations

from pathlib import Path

from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

#: Seconds nbgrader waits for one cell before interrupting the kernel.
DEFAULT_CELL_TIMEOUT = 30

CONFIG_FILE = "nbgrader_config.py"

FEEDBACK_PREPROCESSOR = "autograder.feedback.StripHiddenTests"
EXECUTE_PREPROCESSOR = "autograder.guard.GuardedExecute"
SAFE_FEEDBACK_PREPROCESSORS = ("autograder.safe_feedback.FeedbackRun", "autograder.safe_feedback.SafeOutputs")
WHEAT_CHAFF_PREPROCESSOR = "autograder.wheat_chaff_grade.WheatChaffGrade"
WHEAT_CHAFF_FEEDBACK = "autograder.wheat_chaff_grade.WheatChaffFeedback"


def sqlite_url(path: Path) -> str:
    """An SQLAlchemy URL for an SQLite file."""
    return f"sqlite:///{Path(path).resolve()}"


def _name(preprocessor) -> str:
    if isinstance(preprocessor, str):
        return preprocessor
    return f"{preprocessor.__module__}.{preprocessor.__qualname__}"


def _with_guarded_execute(c: Config) -> None:
    """Autograde runs :class:`autograder.guard.GuardedExecute` where nbgrader runs its ``Execute``."""
    from nbgrader.converters import Autograde

    if "autograde_preprocessors" in c.Autograde:
        preprocessors = list(c.Autograde.autograde_preprocessors)
    else:
        preprocessors = list(Autograde.class_traits()["autograde_preprocessors"].default())
    preprocessors = [EXECUTE_PREPROCESSOR if _name(p).rsplit(".", 1)[-1] in ("Execute", "ExecutePreprocessor") else p
                     for p in preprocessors]
    if WHEAT_CHAFF_PREPROCESSOR not in map(_name, preprocessors):
        at = next(i + 1 for i, p in enumerate(preprocessors) if _name(p) == EXECUTE_PREPROCESSOR)
        preprocessors.insert(at, WHEAT_CHAFF_PREPROCESSOR)
    c.Autograde.autograde_preprocessors = preprocessors


def apply(c: Config, *, timeout: int | None = None, show_mark_scheme: bool = False,
          sandbox: str | None = None) -> Config:
    """Add our settings to ``c`` in place (and return it); see the module docstring.

    ``timeout`` overrides the cell timeout; without it, a timeout the
    configuration already sets is kept and :data:`DEFAULT_CELL_TIMEOUT` is
    used otherwise. ``show_mark_scheme=True`` lets feedback show the mark
    schemes (model answers) of hand-graded tasks, which is otherwise removed.
    ``sandbox`` (``"required"``, ``"auto"`` or ``"off"``) sets
    ``GuardedExecute.sandbox``; without it the configuration's setting, else
    ``"auto"``, stands.
    """
    _with_guarded_execute(c)
    if sandbox is not None:
        c.GuardedExecute.sandbox = sandbox
        c.WheatChaffGrade.sandbox = sandbox
    if timeout is not None:
        c.ExecutePreprocessor.timeout = int(timeout)
        c.Execute.timeout = int(timeout)
    elif "timeout" not in c.Execute and "timeout" not in c.ExecutePreprocessor:
        c.ExecutePreprocessor.timeout = DEFAULT_CELL_TIMEOUT
        c.Execute.timeout = DEFAULT_CELL_TIMEOUT
    c.Execute.interrupt_on_timeout = True
    if "add_missing_cells" not in c.OverwriteCells:
        c.OverwriteCells.add_missing_cells = True

    if "preprocessors" in c.GenerateFeedback:
        preprocessors = list(c.GenerateFeedback.preprocessors)
    else:
        from nbgrader.converters import GenerateFeedback

        preprocessors = list(GenerateFeedback.class_traits()["preprocessors"].default())
    if not any(_name(p) == FEEDBACK_PREPROCESSOR for p in preprocessors):
        from .feedback import StripHiddenTests

        # After GetGrades (which reads the scores by cell id), before the HTML header.
        at = next((i + 1 for i, p in enumerate(preprocessors) if _name(p).endswith("GetGrades")), 0)
        preprocessors.insert(at, StripHiddenTests)
    if not show_mark_scheme and not any(_name(p).endswith("ClearMarkScheme") for p in preprocessors):
        from nbgrader.preprocessors import ClearMarkScheme

        at = next(i + 1 for i, p in enumerate(preprocessors) if _name(p) == FEEDBACK_PREPROCESSOR)
        preprocessors.insert(at, ClearMarkScheme)
    if not any(_name(p) in SAFE_FEEDBACK_PREPROCESSORS for p in preprocessors):
        # After the hidden tests and mark schemes are gone: re-run, then keep only safe outputs.
        at = max(i for i, p in enumerate(preprocessors)
                 if _name(p) == FEEDBACK_PREPROCESSOR or _name(p).endswith("ClearMarkScheme")) + 1
        preprocessors[at:at] = list(SAFE_FEEDBACK_PREPROCESSORS)
    if WHEAT_CHAFF_FEEDBACK not in map(_name, preprocessors):
        at = next(i + 1 for i, p in enumerate(preprocessors) if _name(p) == SAFE_FEEDBACK_PREPROCESSORS[-1])
        preprocessors.insert(at, WHEAT_CHAFF_FEEDBACK)
    c.GenerateFeedback.preprocessors = preprocessors
    return c


def load_course_config(root: Path) -> Config:
    """The configuration nbgrader itself would load for a course: the course's ``nbgrader_config.py``.

    nbgrader also reads ``nbgrader_config.py`` from the Jupyter config path
    (``jupyter --paths``); those files come first, the course's file last.
    """
    from jupyter_core.paths import jupyter_config_path

    c = Config()
    for directory in reversed(jupyter_config_path()):
        if (Path(directory) / CONFIG_FILE).is_file():
            c.merge(PyFileConfigLoader(CONFIG_FILE, path=directory).load_config())
    root = Path(root)
    if (root / CONFIG_FILE).is_file():
        c.merge(PyFileConfigLoader(CONFIG_FILE, path=str(root)).load_config())
    return c


def course_config(root: Path, *, timeout: int | None = None, load_files: bool = True,
                  config_dir: Path | None = None, db_url: str | None = None, sandbox: str | None = None) -> Config:
    """The full configuration for the nbgrader course at ``root``.

    ``load_files`` reads the course's configuration files first (an
    instructor's course), from ``config_dir`` (default ``root``; a worker's
    scratch course reads the real course's); without it the result depends
    on nothing but the arguments (a learner's throwaway course). ``db_url``
    forces the gradebook (a worker's scratch copy); otherwise it is
    ``<root>/gradebook.db`` unless the course configures another (a relative
    SQLite path is taken relative to ``root``, where nbgrader is normally
    run). The course's own ``CourseDirectory.root`` is always replaced by
    ``root``.
    """
    root = Path(root).resolve()
    c = load_course_config(Path(config_dir) if config_dir is not None else root) if load_files else Config()
    c.CourseDirectory.root = str(root)
    if db_url is not None:
        c.CourseDirectory.db_url = db_url
    elif "db_url" not in c.CourseDirectory:
        c.CourseDirectory.db_url = sqlite_url(root / "gradebook.db")
    else:
        configured = str(c.CourseDirectory.db_url)
        relative = configured[len("sqlite:///"):] if configured.startswith("sqlite:///") else None
        if relative and not relative.startswith("/"):  # nbgrader resolves it from the current directory
            c.CourseDirectory.db_url = sqlite_url(root / relative)
    return apply(c, timeout=timeout, sandbox=sandbox)


def write_config_file(root: Path, *, course_id: str = "microservices-under-pressure",
                      timeout: int | None = None, force: bool = False) -> Path:
    """Write ``<root>/nbgrader_config.py`` that loads our configuration; refuse to replace one unless ``force``."""
    path = Path(root) / CONFIG_FILE
    if path.exists() and not force:
        raise FileExistsError(f"{path} exists")
    argument = "" if timeout is None else f"timeout={int(timeout)}"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "# nbgrader configuration for this course (see assignments/README.md).\n"
        "c = get_config()  # noqa: F821 (nbgrader provides get_config)\n"
        f"c.CourseDirectory.course_id = {course_id!r}\n"
        "\n"
        "# The course's autograder settings: cell timeout, feedback without hidden tests or mark schemes.\n"
        "from autograder.config import apply\n"
        f"apply(c{', ' + argument if argument else ''})\n",
        encoding="utf-8",
    )
    return path


def cell_timeout(c: Config) -> int | None:
    """The per-cell timeout ``c`` gives nbgrader's Execute preprocessor (None: nbgrader's default)."""
    for section in ("Execute", "ExecutePreprocessor"):
        if "timeout" in c[section]:
            return c[section]["timeout"]
    return None
