"""Binder's environment: exact pins that cover everything the course imports.

Binder builds with repo2docker, which runs ``pip install -r
binder/requirements.txt`` from the repository root. These tests check, without
a network or Docker, that the file pins every dependency exactly, within the
ranges pyproject.toml allows; that it installs the course package; that every
module imported by the lessons and the ``course`` package is provided by a
pinned distribution or by something a pin depends on; that the Python version
Binder is told to use suits the pins; and that the README's Binder badge opens
the first lesson.

The dependency closure is computed from the metadata of the distributions
installed here, which is what the rest of the test suite runs against.
"""

from __future__ import annotations

import ast
import importlib.metadata as metadata
import json
import re
import sys
import tomllib
from functools import lru_cache
from pathlib import Path
from urllib.parse import unquote

import pytest
from packaging.markers import default_environment
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
REQUIREMENTS = ROOT / "binder" / "requirements.txt"
RUNTIME = ROOT / "binder" / "runtime.txt"
PYPROJECT = ROOT / "pyproject.toml"
README = ROOT / "README.md"
COURSE = ROOT / "course"

LOCAL_PACKAGES = {"course", "autograder"}
# Lines of requirements.txt that install this repository itself.
SELF_INSTALL = {"-e .", "--editable .", "--editable=.", ".", "./"}
START_URLPATH = "lab/tree/course/00_start_here.ipynb"


# -- reading the files ---------------------------------------------------------------


def _requirement_lines() -> list[str]:
    lines = []
    for raw in REQUIREMENTS.read_text(encoding="utf-8").splitlines():
        line = raw.split(" #", 1)[0].strip()
        if line and not line.startswith("#"):
            lines.append(line)
    return lines


@lru_cache(maxsize=None)
def _pins() -> dict[str, Requirement]:
    """Canonical name -> requirement, for every line that is not the self-install."""
    pins = {}
    for line in _requirement_lines():
        if line in SELF_INSTALL:
            continue
        try:
            req = Requirement(line)
        except InvalidRequirement as exc:
            pytest.fail(f"binder/requirements.txt: {line!r} is not a plain requirement: {exc}")
        pins[canonicalize_name(req.name)] = req
    return pins


def _pinned_version(req: Requirement) -> str | None:
    specs = list(req.specifier)
    if len(specs) == 1 and specs[0].operator == "==" and "*" not in specs[0].version:
        return specs[0].version
    return None


def _pyproject() -> dict:
    with PYPROJECT.open("rb") as f:
        return tomllib.load(f)


def _project_dependencies() -> list[Requirement]:
    return [Requirement(d) for d in _pyproject()["project"]["dependencies"]]


# -- requirements.txt ----------------------------------------------------------------


def test_requirements_file_exists_and_pins_exactly():
    assert REQUIREMENTS.is_file(), "binder/requirements.txt is missing"
    unpinned = [str(r) for r in _pins().values() if _pinned_version(r) is None]
    assert not unpinned, f"binder/requirements.txt: pin these with ==: {unpinned}"


def test_requirements_install_the_course_package():
    lines = _requirement_lines()
    assert any(line in SELF_INSTALL for line in lines), (
        "binder/requirements.txt must install this repository (a line '-e .'), "
        "or `import course` fails on Binder"
    )


def test_every_project_dependency_is_pinned_within_its_range():
    pins = _pins()
    problems = []
    for dep in _project_dependencies():
        name = canonicalize_name(dep.name)
        if name not in pins:
            problems.append(f"{dep.name}: in pyproject.toml but not pinned in binder/requirements.txt")
            continue
        version = _pinned_version(pins[name])
        if version is not None and not dep.specifier.contains(version, prereleases=True):
            problems.append(f"{dep.name}=={version}: outside pyproject.toml's range {dep.specifier}")
    assert not problems, "\n".join(problems)


def test_binder_python_suits_the_project_and_the_pins():
    """repo2docker's default Python is older than some pins need, so runtime.txt names one."""
    assert RUNTIME.is_file(), "binder/runtime.txt is missing (e.g. 'python-3.11')"
    runtime = RUNTIME.read_text(encoding="utf-8").strip()
    match = re.fullmatch(r"python-(\d+\.\d+)", runtime)
    assert match, f"binder/runtime.txt should read like 'python-3.11', not {runtime!r}"
    python = Version(match.group(1) + ".0")
    requires = SpecifierSet(_pyproject()["project"].get("requires-python", ""))
    assert python in requires, f"Binder's Python {python} is outside pyproject's requires-python {requires}"
    problems = []
    for name, req in _pins().items():
        try:
            needed = metadata.metadata(req.name).get("Requires-Python")
        except metadata.PackageNotFoundError:
            continue  # reported by test_course_imports_are_covered_by_the_pins
        if needed and python not in SpecifierSet(needed):
            problems.append(f"{req.name} needs Python {needed}")
    assert not problems, f"Binder's Python {python} does not suit: {problems}"


# -- imports -------------------------------------------------------------------------


def _is_optional(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    """True for an import inside ``try: ... except ImportError`` (an optional dependency)."""
    child, parent = node, parents.get(node)
    while parent is not None:
        if isinstance(parent, ast.Try) and child in parent.body:
            for handler in parent.handlers:
                names = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
                if any(isinstance(n, ast.Name) and n.id in {"ImportError", "ModuleNotFoundError"}
                       for n in names):
                    return True
        child, parent = parent, parents.get(parent)
    return False


def _imported_top_level_names(source: str) -> set[str]:
    tree = ast.parse(source)
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules = [node.module]
        else:
            continue
        if not _is_optional(node, parents):
            names.update(m.split(".", 1)[0] for m in modules)
    return names


def _notebook_code(path: Path) -> str:
    from IPython.core.inputtransformer2 import TransformerManager

    transform = TransformerManager().transform_cell  # %magics and !shell -> Python
    nb = json.loads(path.read_text(encoding="utf-8"))
    cells = []
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "code":
            source = cell.get("source", "")
            source = "".join(source) if isinstance(source, list) else source
            cells.append(transform(source))
    return "\n".join(cells)


#: Modules under course/ that learners never import: `make bench` runs them with the
#: project's `test` extra installed (SimPy for the side-by-side engine benchmark).
DEVELOPER_ONLY = {"bench.py"}


def _course_imports() -> dict[str, list[str]]:
    """Third-party top-level module -> the files that import it."""
    sources: list[tuple[Path, str]] = []
    for path in sorted(COURSE.rglob("*.py")):
        if path.relative_to(COURSE).as_posix() in DEVELOPER_ONLY:
            continue
        sources.append((path, path.read_text(encoding="utf-8")))
    for path in sorted(COURSE.glob("*.ipynb")):
        sources.append((path, _notebook_code(path)))
    found: dict[str, list[str]] = {}
    for path, source in sources:
        if ".ipynb_checkpoints" in path.parts:
            continue
        try:
            names = _imported_top_level_names(source)
        except SyntaxError as exc:
            pytest.fail(f"{path.relative_to(ROOT)} does not parse: {exc}")
        for name in names - LOCAL_PACKAGES - set(sys.stdlib_module_names):
            found.setdefault(name, []).append(str(path.relative_to(ROOT)))
    return found


def _dependency_closure(roots: list[tuple[str, frozenset]]) -> tuple[set[str], set[str]]:
    """Canonical names of ``roots`` (name, extras) and all they require, as installed here.

    Also returns the names that are not installed. Requirements whose markers
    do not apply (another platform or Python, an extra nobody asked for) are
    left out.
    """
    env = default_environment()
    seen, missing = set(), set()
    todo = list(roots)
    expanded: set[tuple[str, frozenset]] = set()
    while todo:
        name, extras = todo.pop()
        key = (canonicalize_name(name), extras)
        if key in expanded:
            continue
        expanded.add(key)
        seen.add(key[0])
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            missing.add(key[0])
            continue
        for line in requires:
            req = Requirement(line)
            if req.marker is not None and not any(
                req.marker.evaluate({**env, "extra": extra}) for extra in (extras or {""})
            ):
                continue
            todo.append((req.name, frozenset(req.extras)))
    return seen, missing


def test_course_imports_are_covered_by_the_pins():
    roots = [(req.name, frozenset(req.extras)) for req in _pins().values()]
    roots.append((_pyproject()["project"]["name"], frozenset()))  # what '-e .' installs
    closure, not_installed = _dependency_closure(roots)
    assert not not_installed & set(_pins()), (
        f"pinned in binder/requirements.txt but not installed here, so the test suite never "
        f"ran against them: {sorted(not_installed & set(_pins()))}"
    )

    providers = metadata.packages_distributions()
    missing = []
    for module, files in sorted(_course_imports().items()):
        dists = {canonicalize_name(d) for d in providers.get(module, [])}
        if not dists:
            missing.append(f"{module} (imported by {', '.join(files)}): no installed distribution provides it")
        elif not dists & closure:
            missing.append(f"{module} (imported by {', '.join(files)}): from {sorted(dists)}, "
                           "which binder/requirements.txt neither pins nor pulls in")
    assert not missing, "Binder would lack these modules:\n" + "\n".join(missing)


# -- README --------------------------------------------------------------------------


def test_readme_binder_badge_opens_the_start_lesson():
    assert README.is_file(), "README.md is missing, so there is no Binder badge"
    links = re.findall(r"https?://mybinder\.org/[^\s)\"'<>\]]+", README.read_text(encoding="utf-8"))
    assert links, "README.md has no mybinder.org link (the Binder badge)"
    wanted = f"urlpath={START_URLPATH}"
    assert any(wanted in unquote(link) for link in links), (
        f"no mybinder.org link in README.md contains {wanted} (URL-encoded or not): {links}"
    )
    start_page = ROOT / START_URLPATH.removeprefix("lab/tree/")
    assert start_page.is_file(), f"the Binder badge opens {START_URLPATH}, but {start_page} does not exist"


def test_binder_starts_jupyterlab_with_the_learners_setup(tmp_path):
    """binder/start puts the same JupyterLab configuration on the path as `make lab` does for learners."""
    import os
    import subprocess

    start = ROOT / "binder" / "start"
    assert os.access(start, os.X_OK), "binder/start must be executable (repo2docker runs it directly)"
    env = {k: v for k, v in os.environ.items() if k != "JUPYTER_CONFIG_PATH"}
    done = subprocess.run([str(start), "sh", "-c", 'printf %s "$JUPYTER_CONFIG_PATH"'], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split(":") == [str(ROOT / ".jupyter" / "learner"), str(ROOT / ".jupyter")]
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "$(LAB_CONFIG)/learner:)$(LAB_CONFIG)" in makefile
