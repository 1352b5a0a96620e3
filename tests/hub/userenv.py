"""The hub users' Python environment, made in seconds from the packages this project already installed.

The project's ``.venv`` may be built from a Python under a private home
(``/root/.pyenv``, mode 0700) that other users cannot execute, and a ``.pth``
pointing at its site-packages would not help (they cannot read it either). So
:func:`build_user_env` makes a virtual environment from a Python every user
can run (Debian's ``/usr/bin/python3``, same minor version) and *hard-links*
(copies, across file systems) into it the files of every distribution the
users' servers need: the dependency closure of jupyterhub, jupyterlab and
nbgrader, including what they keep outside site-packages (JupyterLab's
``share/jupyter`` assets, nbgrader's ``etc/jupyter`` server-extension
switches). Scripts in ``bin/`` are left out (their first line names the
project's Python): each console script is written anew for the new Python. The course's own
packages come through a ``.pth`` naming the repository, when other users can
read it, else as a copy.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

#: What the users' servers import: the hub's single-user server, JupyterLab, nbgrader (and its extensions).
ROOTS = ("jupyterhub", "jupyterlab", "nbgrader", "ipykernel")
REPO_ROOT = Path(__file__).resolve().parents[2]


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def dependency_closure(roots=ROOTS) -> list[metadata.Distribution]:
    """The installed distributions ``roots`` need, themselves included (environment markers evaluated)."""
    installed = {_canonical(d.metadata["Name"]): d for d in metadata.distributions()}
    seen: dict[str, metadata.Distribution] = {}
    todo = [(_canonical(r), ()) for r in roots]
    while todo:
        name, extras = todo.pop()
        dist = installed.get(name)
        if dist is None or name in seen:
            continue
        seen[name] = dist
        for text in dist.requires or []:
            requirement = Requirement(text)
            if requirement.marker and not any(requirement.marker.evaluate({"extra": e}) for e in ("", *extras)):
                continue
            todo.append((_canonical(requirement.name), tuple(requirement.extras)))
    return list(seen.values())


def _link(source: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, dest)
    except OSError:
        shutil.copy2(source, dest)


def _others_can_read(path: Path) -> bool:
    return all(os.stat(p).st_mode & 0o005 == 0o005 for p in [path, *path.parents] if p.exists())


def _write_script(path: Path, python: Path, entry: metadata.EntryPoint) -> None:
    module, _, attr = entry.value.partition(":")
    head, _, rest = attr.strip().partition(".")
    call = f"{head}.{rest}()" if rest else f"{head}()"
    path.write_text(f"#!{python}\nimport sys\nfrom {module.strip()} import {head}\nsys.exit({call})\n",
                    encoding="utf-8")
    path.chmod(0o755)


def _runs_on(dist: metadata.Distribution, python_version: str) -> bool:
    """Whether ``dist`` supports that Python (its Requires-Python), e.g. soupsieve 4.1 needs 3.11.5 or newer,
    and Debian bookworm's Python is 3.11.2: its regular expressions lack fixes soupsieve's patterns rely on."""
    from packaging.specifiers import SpecifierSet

    required = dist.metadata.get("Requires-Python")
    return not required or SpecifierSet(required).contains(python_version, prereleases=True)


def _install_for(site: Path, python_version: str, dists: list[metadata.Distribution]) -> None:
    """Install into ``site`` the newest release of each of ``dists`` that supports ``python_version`` (wheels only,
    without dependencies: the rest of the closure is already there)."""
    names = [dist.metadata["Name"] for dist in dists]
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps",
                    "--only-binary=:all:", "--python-version", python_version, "--target", str(site), *names],
                   check=True, capture_output=True, text=True)


def build_user_env(dest: Path, python: str = "/usr/bin/python3") -> Path:
    """A virtual environment at ``dest`` (from ``python``) holding this project's copies of what the servers need."""
    subprocess.run([python, "-m", "venv", "--without-pip", str(dest)], check=True)
    version = subprocess.run([str(dest / "bin" / "python"), "-c", "import sys; print(*sys.version_info[:3])"],
                             check=True, capture_output=True, text=True).stdout.split()
    if tuple(map(int, version[:2])) != sys.version_info[:2]:
        raise RuntimeError(f"{python} is Python {'.'.join(version)}, the project's is "
                           f"{sys.version_info[0]}.{sys.version_info[1]}: the installed packages do not fit")
    site = dest / "lib" / f"python{version[0]}.{version[1]}" / "site-packages"
    prefix = Path(sys.prefix)
    full_version = ".".join(version)
    unfit = []
    for dist in dependency_closure():
        if not _runs_on(dist, full_version):
            unfit.append(dist)
            continue
        for file in dist.files or []:
            source = Path(dist.locate_file(file)).resolve()
            if not source.is_file() or source.suffix == ".pyc":
                continue
            try:
                relative = source.relative_to(prefix)
            except ValueError:
                continue
            if relative.parts[0] == "bin":
                continue
            if relative.parts[:1] == ("lib",):  # lib/pythonX.Y/site-packages/...
                _link(source, site / Path(*relative.parts[3:]))
            else:  # share/jupyter/..., etc/jupyter/...
                _link(source, dest / relative)
        for entry in dist.entry_points.select(group="console_scripts"):  # e.g. `alembic`, which nbgrader runs
            _write_script(dest / "bin" / entry.name, dest / "bin" / "python", entry)
    if unfit:
        _install_for(site, full_version, unfit)
    if _others_can_read(REPO_ROOT / "course"):
        (site / "microservices_under_pressure.pth").write_text(f"{REPO_ROOT}\n", encoding="utf-8")
    else:
        for package in ("course", "autograder"):
            shutil.copytree(REPO_ROOT / package, site / package, ignore=shutil.ignore_patterns("__pycache__"))
    for root, dirs, files in os.walk(dest):
        for name in dirs:
            os.chmod(os.path.join(root, name), 0o755)
    return dest
