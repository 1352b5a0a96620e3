"""Prepare the current process to drive nbgrader: call :func:`prepare` before using it.

Three things about running nbgrader from Python are fixed here, once per process:

* **The gradebook's schema version.** When nbgrader creates a gradebook it runs
  the ``alembic heads`` *command* to learn which schema version to stamp. That
  fails with ``FileNotFoundError: 'alembic'`` when the virtual environment's
  ``bin`` is not on ``PATH`` (``.venv/bin/python -m autograder ...`` without
  activating it), and costs about four seconds of start-up on every new
  gradebook. :func:`prepare` puts this interpreter's ``bin`` directory on
  ``PATH`` and replaces ``nbgrader.api.get_alembic_version`` with a function
  that asks alembic's Python API for the same head revision of nbgrader's own
  migration scripts (falling back to nbgrader's original if that fails).
* **Log noise.** nbgrader logs through traitlets' logger; with no handler,
  Python prints its warnings to stderr. Our commands capture nbgrader's log
  with :func:`nbgrader.utils.capture_log` (it is saved or parsed for the
  reason of a failure), so a null handler keeps stray messages off the
  learner's terminal. SQLAlchemy's ``SAWarning`` about nbgrader's session use
  is silenced for the same reason.
* **The kernel's chatter.** ``PYDEVD_DISABLE_FILE_VALIDATION`` stops the
  debugger warning ipykernel prints on Python 3.11.

:func:`skip_slow_optional_imports` is separate because it changes what later
imports see: only the processes this package starts call it (the command
line and the cohort workers), never a library import.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings

_prepared = False


def _alembic_head() -> str:
    """The head revision of nbgrader's gradebook migrations, computed in-process."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    from nbgrader.dbutil import ALEMBIC_DIR

    config = Config()
    config.set_main_option("script_location", ALEMBIC_DIR)
    head = ScriptDirectory.from_config(config).get_current_head()
    if not head:
        raise RuntimeError("nbgrader's alembic scripts have no head revision")
    return head


#: Optional imports that cost seconds and that nothing we run needs (see skip_slow_optional_imports).
SLOW_OPTIONAL_MODULES = ("rfc3987_syntax",)


def skip_slow_optional_imports() -> None:
    """Make importing nbgrader about 2.5 s faster, in a process this package owns.

    Importing nbgrader imports nbformat, which imports jsonschema, whose
    format checkers import ``rfc3987_syntax`` if it is installed (it comes
    with jupyter-events); that module compiles 39 Lark grammars at import
    time. jsonschema treats it as optional (``suppress(ImportError)``) and
    uses it only to check the ``iri`` string formats, which neither nbformat's
    nor nbgrader's schemas use. Marking it absent in ``sys.modules`` before
    anything imports it skips that cost; already imported, it is left alone.
    """
    for name in SLOW_OPTIONAL_MODULES:
        sys.modules.setdefault(name, None)


def prepare() -> None:
    """Make nbgrader usable from this process (idempotent); see the module docstring."""
    global _prepared
    if _prepared:
        return
    bin_dir = os.path.dirname(sys.executable)
    path = os.environ.get("PATH", "")
    if bin_dir not in path.split(os.pathsep):
        os.environ["PATH"] = bin_dir + (os.pathsep + path if path else "")
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")

    import nbgrader.api

    original = nbgrader.api.get_alembic_version

    def get_alembic_version() -> str:
        try:
            return _alembic_head()
        except Exception:  # e.g. a future nbgrader moves its scripts: use its own way
            return original()

    get_alembic_version.__doc__ = original.__doc__
    nbgrader.api.get_alembic_version = get_alembic_version

    logging.getLogger("traitlets").addHandler(logging.NullHandler())
    logging.getLogger("NbGraderAPI").addHandler(logging.NullHandler())
    try:
        from sqlalchemy.exc import SAWarning

        warnings.filterwarnings("ignore", category=SAWarning)
    except ImportError:  # pragma: no cover - sqlalchemy comes with nbgrader
        pass
    _prepared = True
