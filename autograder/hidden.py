"""Hidden test source: find it in a notebook, and tell whether a text quotes it.

nbgrader marks hidden tests with ``### BEGIN HIDDEN TESTS`` / ``### END HIDDEN TESTS``
inside test cells. These helpers are plain Python (no nbgrader import), shared
by the feedback preprocessor and by the reasons ``check`` prints.
"""

from __future__ import annotations

import re

BEGIN = "BEGIN HIDDEN TESTS"
END = "END HIDDEN TESTS"

#: Hidden lines shorter than this (``)``, ``else:``) are too common to count as a leak.
MIN_LINE = 8

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def strip_ansi(text: str) -> str:
    """``text`` without terminal colour codes (IPython colours its tracebacks)."""
    return _ANSI.sub("", text)


def hidden_regions(source: str, begin: str = BEGIN, end: str = END) -> list[str]:
    """The lines strictly between each begin and end marker in one cell's source."""
    lines, inside = [], False
    for line in source.split("\n"):
        if begin in line:
            inside = True
        elif end in line:
            inside = False
        elif inside:
            lines.append(line)
    return lines


def hidden_lines(nb, begin: str = BEGIN, end: str = END) -> set[str]:
    """The distinctive stripped lines of every hidden test region in a notebook (a set to search for)."""
    found = set()
    for cell in nb.cells:
        for line in hidden_regions(cell.source, begin, end):
            line = line.strip()
            if len(line) >= MIN_LINE:
                found.add(line)
    return found


def quotes_hidden(text: str, lines: set[str]) -> bool:
    """True if ``text`` contains any of ``lines`` (colour codes ignored)."""
    if not lines:
        return False
    plain = strip_ansi(text)
    return any(line in plain for line in lines)


def last_line_of_error(output) -> str:
    """``ErrorType: message`` for an nbformat error output (the message's first line only)."""
    value = strip_ansi(str(output.get("evalue", "") or "")).strip().split("\n", 1)[0]
    name = str(output.get("ename", "") or "Error")
    return f"{name}: {value}" if value else name
