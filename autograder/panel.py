"""Fetch and check assignments from a notebook: the start page's buttons for learners who never open a terminal.

:class:`GradingPanel` runs exactly the terminal commands, ``python -m autograder
fetch ID`` and ``python -m autograder check ID``, with the kernel's own Python,
in a separate process, and shows what they print as they print it. So the
notebook and the terminal can never disagree, and a crash in grading cannot
take the lesson's kernel with it.
"""

from __future__ import annotations

import html
import subprocess
import sys
from pathlib import Path

import ipywidgets as widgets

from .assignments import list_assignments

#: What each button runs, after ``python -m autograder``.
COMMANDS = {"fetch": "Get my copy", "check": "Check my work"}


class GradingPanel(widgets.VBox):
    """An assignment picker, "Get my copy" and "Check my work" buttons, and the command's output.

    ``assignment`` is the one picked at first (default: the first by id).
    ``cwd`` is where the commands run (default: the kernel's working
    directory); inside the course they write to and read from the course's
    ``my-work/`` folder wherever that is.
    """

    def __init__(self, assignment: str | None = None, cwd: Path | str | None = None):
        ids = [a.id for a in list_assignments()]
        if not ids:
            raise ValueError("no assignments found: the course's assignments/ folder is missing")
        if assignment is not None and assignment not in ids:
            raise ValueError(f"assignment={assignment!r} is not an assignment of this course; "
                             f"valid: {', '.join(ids)}")
        self.cwd = None if cwd is None else Path(cwd)
        self.assignment = widgets.Dropdown(options=ids, value=assignment or ids[0], description="Assignment",
                                           style={"description_width": "initial"})
        self.buttons = {name: widgets.Button(description=label, button_style="primary" if name == "check" else "")
                        for name, label in COMMANDS.items()}
        for name, button in self.buttons.items():
            button.on_click(lambda _button, name=name: self.run(name))
        self.status = widgets.HTML()
        self.transcript = widgets.HTML()
        super().__init__([widgets.HBox([self.assignment, *self.buttons.values()]), self.status, self.transcript],
                         layout=widgets.Layout(max_width="900px"))

    def command(self, name: str) -> list[str]:
        """The command line a button runs, as a learner would type it after ``python``."""
        if name not in COMMANDS:
            raise ValueError(f"unknown command {name!r}; valid: {', '.join(COMMANDS)}")
        return [sys.executable, "-m", "autograder", name, self.assignment.value]

    def run(self, name: str) -> int:
        """Run ``python -m autograder NAME ID``, streaming its output into the panel; return its exit status."""
        argv = self.command(name)
        typed = f"python -m autograder {name} {self.assignment.value}"
        for button in self.buttons.values():
            button.disabled = True
        self.status.value = f"<i>Running <code>{html.escape(typed)}</code> ...</i>"
        lines: list[str] = []
        try:
            with subprocess.Popen(argv, cwd=self.cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True, bufsize=1) as process:
                for line in process.stdout:
                    lines.append(line.rstrip("\n"))
                    self._show(lines)
            code = process.returncode
        finally:
            for button in self.buttons.values():
                button.disabled = False
        self.status.value = self._verdict(typed, code, lines)
        return code

    def _show(self, lines: list[str]) -> None:
        self.transcript.value = ("<pre style='white-space: pre-wrap; font-size: 12px; line-height: 1.35'>"
                          + html.escape("\n".join(lines)) + "</pre>")

    @staticmethod
    def _verdict(typed: str, code: int, lines: list[str]) -> str:
        score = next((line for line in reversed(lines) if line.startswith("score: ")), None)
        if code == 0 and score:
            return f"<b>{html.escape(score)}</b> (autograded points; written answers are graded by hand)"
        if code == 0:
            return f"Done: <code>{html.escape(typed)}</code>"
        return f"<b>That did not work</b>: <code>{html.escape(typed)}</code> stopped with the message below."


def grading_panel(assignment: str | None = None, cwd: Path | str | None = None) -> GradingPanel:
    """The start page's panel: pick an assignment, get your copy, check your work."""
    return GradingPanel(assignment, cwd)
