"""A text progress bar on stderr (no dependency): redrawn in place on a terminal, one line per step otherwise."""

from __future__ import annotations

import sys
import time


class Progress:
    """``done / total`` for one phase, e.g. ``autograde [#######-------]  5/10  alice  12 s``."""

    def __init__(self, total: int, label: str, *, stream=None, enabled: bool = True, width: int = 24):
        self.total, self.label, self.width = total, label, width
        self.stream = sys.stderr if stream is None else stream
        self.enabled = enabled and total > 0
        self.done = 0
        self.started = time.perf_counter()
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())
        if self.enabled and self._tty:
            self._draw("")

    def _draw(self, note: str) -> None:
        filled = int(self.width * self.done / self.total) if self.total else self.width
        bar = "#" * filled + "-" * (self.width - filled)
        elapsed = time.perf_counter() - self.started
        text = f"{self.label:<9} [{bar}] {self.done:>{len(str(self.total))}}/{self.total}  {elapsed:5.0f} s  {note}"
        if self._tty:
            self.stream.write("\r\x1b[K" + text)
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def advance(self, note: str = "") -> None:
        """One more step done; ``note`` says which."""
        self.done += 1
        if self.enabled:
            self._draw(note)

    def close(self) -> None:
        """End the bar's line on a terminal."""
        if self.enabled and self._tty:
            self.stream.write("\n")
            self.stream.flush()
