"""Every dotted ``course.…`` name that a docstring under course/sim mentions exists."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

import course

SIM = Path(course.__file__).parent / "sim"
DOTTED = re.compile(r"\bcourse(?:\.[A-Za-z_]\w*)+")


def docstrings(path: Path):
    """(where, text) for the module's docstring and every class's and function's in it."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            text = ast.get_docstring(node, clean=False)
            if text:
                yield f"{path.relative_to(SIM.parent.parent)}:{getattr(node, 'lineno', 1)}", text


def resolves(name: str) -> bool:
    """True if ``name`` is a module, or a module's attribute (a class, its method, a constant), however nested."""
    parts = name.split(".")
    for split in range(len(parts), 0, -1):
        try:
            target = importlib.import_module(".".join(parts[:split]))
        except ModuleNotFoundError:
            continue
        for attribute in parts[split:]:
            if not hasattr(target, attribute):
                return False
            target = getattr(target, attribute)
        return True
    return False


def references():
    found = []
    for path in sorted(SIM.rglob("*.py")):
        for where, text in docstrings(path):
            found += [(where, name) for name in DOTTED.findall(text)]
    return found


def test_the_docstrings_do_mention_modules():
    names = {name for _, name in references()}
    assert len(names) > 10 and "course.sim.policies.sync.Pipeline" in names  # the scan sees what it should


@pytest.mark.parametrize("where,name", references(), ids=lambda value: value)
def test_every_dotted_course_name_in_a_sim_docstring_exists(where, name):
    assert resolves(name), f"{where} mentions {name}, which does not exist"


def test_a_missing_module_or_attribute_is_caught():
    assert not resolves("course.sim.pipeline")
    assert not resolves("course.sim.client.Client.no_such_method")
    assert resolves("course.sim.service.Service.records")
