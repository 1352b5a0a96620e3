"""The lesson notebooks as committed: no outputs, a Python 3 kernel, short code cells that call the package."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

COURSE = Path(__file__).resolve().parents[2] / "course"
NOTEBOOKS = sorted(COURSE.glob("[0-9][0-9]_*.ipynb"))


def test_the_first_two_lessons_exist():
    assert [nb.name for nb in NOTEBOOKS][:2] == ["00_start_here.ipynb", "01_slow_dependency.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name}: outputs committed"
            assert cell.execution_count is None, f"{path.name}: execution count committed"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_code_cells_are_short(path):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            lines = [line for line in cell.source.splitlines() if line.strip()]
            assert len(lines) <= 4, f"{path.name}: a long code cell belongs in the package:\n{cell.source}"
            assert "def " not in cell.source and "class " not in cell.source


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_follows_the_lesson_skeleton(path):
    if path.name.startswith("00_"):
        return
    nb = nbformat.read(path, as_version=4)
    headings = [line for cell in nb.cells if cell.cell_type == "markdown"
                for line in cell.source.splitlines() if line.startswith("## ")]
    if path.name.startswith("08_"):
        # The follow-up round: five short sections, each the skeleton in small (question, prediction, dashboard,
        # idea, answer; checked in tests/lessons/test_lesson08_claims.py), then the lesson's own ending.
        assert [h.split(" ")[1] for h in headings[:5]] == ["1.", "2.", "3.", "4.", "5."]
        assert all(h.split(" ", 2)[2].startswith('"') for h in headings[:5]), headings[:5]
        assert headings[5:] == ["## 6. Self-check", "## 7. In the interview: surviving the round", "## 8. Sources"]
        return
    assert headings == ["## 1. The question", "## 2. Predict first", "## 3. The simulation", "## 4. The idea",
                        "## 5. Self-check", "## 6. In the interview", "## 7. Sources"]
