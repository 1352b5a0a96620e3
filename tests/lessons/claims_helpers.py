"""What the lessons' claims tests share: a lesson notebook's text, and "the lesson says these words"."""

from __future__ import annotations

from pathlib import Path

import nbformat


def notebook_text(notebook: Path) -> str:
    """The notebook's text with every run of whitespace made one space, so line breaks don't matter."""
    return " ".join(" ".join(cell.source for cell in nbformat.read(notebook, as_version=4).cells).split())


def code_text(notebook: Path) -> str:
    """The notebook's code cells, one after another."""
    return "\n".join(c.source for c in nbformat.read(notebook, as_version=4).cells if c.cell_type == "code")


def says(notebook: Path, *phrases: str) -> None:
    """Assert that the notebook contains each of ``phrases`` (whitespace-insensitive)."""
    text = notebook_text(notebook)
    for phrase in phrases:
        assert phrase in text, phrase
