"""The learner's mock-interview drafts: answers and ticked checklist items, kept in a JSON file.

:class:`Drafts` holds everything in memory and writes it with :meth:`Drafts.save`,
atomically (a temporary file in the same folder, then ``os.replace``), so a
crash mid-save leaves the previous file whole. The default file is
``my-work/mock-interview/drafts.json`` (:func:`autograder.fetch.default_dest`),
which git ignores and a course update never touches. A new ``Drafts`` on the
same path reads back exactly what was saved, so answers survive a kernel
restart.

Nothing typed is lost:

* a file that is not valid JSON, or not the shape this module writes, is
  moved aside to ``drafts.json.broken-<time>`` and :attr:`Drafts.notice` says
  where; the learner starts from empty answers;
* a save that fails raises :class:`DraftsError` (an ``OSError``) naming the
  path and the reason, and the text stays in memory to be saved elsewhere.

The file: ``{"version": 1, "answers": {phase key: text}, "ticked": {phase key: [item indices]}}``.
"""

from __future__ import annotations

import errno
import json
import os
import time
import uuid
from datetime import datetime
from pathlib import Path

from autograder.fetch import default_dest

from .phases import PHASES, phase

VERSION = 1
FOLDER = "mock-interview"
FILE_NAME = "drafts.json"
EXPORT_NAME = "checkout-design.md"


class DraftsError(OSError):
    """Drafts could not be saved or exported (or the path is not a path).

    An ``OSError``, so ``except OSError`` around file work catches it. Its message
    names the path and the reason and says the text is still in memory.
    """


def default_path() -> Path:
    """``my-work/mock-interview/drafts.json`` in the learner's work folder."""
    return default_dest() / FOLDER / FILE_NAME


def _reason(error: Exception) -> str:
    return getattr(error, "strerror", None) or str(error) or type(error).__name__


def _write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path``, then rename it over ``path``."""
    folder = path.parent
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, f"{folder} is a file, not a folder")
    folder.mkdir(parents=True, exist_ok=True)
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, f"{path} is a folder, not a file")
    temporary = folder / f".{path.name}.{uuid.uuid4().hex}.tmp"
    try:
        with open(temporary, "x", encoding="utf-8") as out:  # "x": honours the umask, unlike mkstemp's 0600
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _check_shape(data) -> tuple[dict, dict]:
    """``(answers, ticked)`` from a loaded file, or ValueError saying what is wrong."""
    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object, found {type(data).__name__}")
    answers, ticked = data.get("answers", {}), data.get("ticked", {})
    if not isinstance(answers, dict) or not all(isinstance(v, str) for v in answers.values()):
        raise ValueError("\"answers\" must map phase keys to text")
    if not isinstance(ticked, dict) or not all(
            isinstance(v, list) and all(type(i) is int and i >= 0 for i in v) for v in ticked.values()):
        raise ValueError("\"ticked\" must map phase keys to lists of item numbers")
    return dict(answers), {k: sorted(set(v)) for k, v in ticked.items()}


class Drafts:
    """The learner's answers (:meth:`text`) and ticked checklist items (:meth:`ticked`), per phase key.

    ``path`` defaults to :func:`default_path`. Setting changes memory only;
    :meth:`save` writes the file. Keys must be phase keys of
    :data:`course.interview.phases.PHASES` (ValueError otherwise). Entries for
    keys this version does not know are kept and written back.
    """

    def __init__(self, path: str | os.PathLike | None = None):
        if path is None:
            path = default_path()
        try:
            self.path = Path(path)
        except TypeError:
            raise DraftsError(f"cannot keep drafts at {path!r}: a path must be a str or a Path, "
                              f"not {type(path).__name__}") from None
        #: A warning for the learner when the saved file could not be used, else "".
        self.notice = ""
        self._answers: dict[str, str] = {}
        self._ticked: dict[str, list[int]] = {}
        self._blocked = ""  # why saving must not replace the file at path (one we could not move aside)
        self._load()

    # reading and writing the file

    def _load(self) -> None:
        if self.path.is_dir():
            self.notice = (f"{self.path} is a folder, so your answers cannot be saved there; "
                           "pass Drafts(path=...) a file name.")
            return
        try:
            raw = self.path.read_bytes()
        except (FileNotFoundError, NotADirectoryError, ValueError):
            return  # nothing saved yet (or a path save() will report, e.g. one with a NUL byte)
        except OSError as error:
            self._set_aside(f"it could not be read: {_reason(error)}")
            return
        try:
            self._answers, self._ticked = _check_shape(json.loads(raw.decode("utf-8")))
        except ValueError as error:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            self._set_aside(f"it is not what this notebook writes: {error}")

    def _set_aside(self, why: str) -> None:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        aside = self.path.with_name(f"{self.path.name}.broken-{stamp}")
        n = 1
        while aside.exists():
            n += 1
            aside = self.path.with_name(f"{self.path.name}.broken-{stamp}-{n}")
        try:
            os.replace(self.path, aside)
        except OSError as error:
            # Could not move it: refuse to save over it rather than lose it.
            self._blocked = (f"the file already there could not be read ({why}) nor moved aside "
                             f"({_reason(error)}), and is not overwritten")
            self.notice = (f"Your saved drafts at {self.path} could not be used: {why}. Moving them aside to "
                           f"{aside} failed ({_reason(error)}), so this notebook will not save over them.")
            return
        self.notice = (f"Your saved drafts at {self.path} could not be used: {why}. They were moved aside to "
                       f"{aside} (nothing was deleted) and you start from empty answers.")

    def _data(self) -> dict:
        return {"version": VERSION, "answers": dict(self._answers),
                "ticked": {key: list(items) for key, items in self._ticked.items()}}

    def _fail(self, what: str, path, reason: str) -> DraftsError:
        return DraftsError(f"Could not {what} {path}: {reason}. Your text is still here in memory, "
                           "nothing typed is lost: fix that, or use another path, and save again.")

    def save(self) -> None:
        """Write the drafts to :attr:`path` atomically; :class:`DraftsError` if that fails."""
        if self._blocked:
            raise self._fail("save your answers to", self.path, self._blocked)
        try:
            _write_atomically(self.path, json.dumps(self._data(), indent=2, ensure_ascii=False) + "\n")
        except (OSError, ValueError) as error:  # ValueError: a path the OS cannot take (a NUL byte)
            raise self._fail("save your answers to", self.path, _reason(error)) from error

    # answers and ticks

    def text(self, key: str) -> str:
        """The answer drafted for phase ``key`` ("" if none)."""
        return self._answers.get(phase(key).key, "")

    def set_text(self, key: str, text: str) -> None:
        """Keep ``text`` as the answer for phase ``key`` (in memory; :meth:`save` writes it)."""
        phase(key)
        if not isinstance(text, str):
            raise ValueError(f"an answer must be text, got {type(text).__name__}")
        self._answers[key] = text

    def ticked(self, key: str) -> set[int]:
        """The indices of the checklist items ticked for phase ``key``."""
        size = len(phase(key).checklist)
        return {i for i in self._ticked.get(key, ()) if i < size}  # a file from a longer checklist

    def set_ticked(self, key: str, indices) -> None:
        """Set the ticked checklist items of phase ``key`` to ``indices`` (in memory)."""
        size = len(phase(key).checklist)
        items = set(indices)
        for i in items:
            if type(i) is not int or not 0 <= i < size:
                raise ValueError(f"checklist items of {key!r} are numbered 0 to {size - 1}, got {i!r}")
        self._ticked[key] = sorted(items)

    # export

    def markdown(self, now: datetime | None = None) -> str:
        """The drafts as one Markdown document: per phase the prompt, the answer and the checklist."""
        now = datetime.now() if now is None else now
        lines = ["# Mock interview: design checkout", "",
                 "*Design checkout for an online shop whose orders, payments and inventory are separate "
                 f"services.* Exported {now:%Y-%m-%d %H:%M}.", ""]
        for number, p in enumerate(PHASES, start=1):
            answer = self.text(p.key).strip() or "_(no answer yet)_"
            ticked = self.ticked(p.key)
            lines += [f"## {number}. {p.title}", "", f"> {p.prompt}", "", "**Your answer**", "", answer, "",
                      f"**Checklist** ({len(ticked)} of {len(p.checklist)} ticked)", ""]
            lines += [f"- [{'x' if i in ticked else ' '}] {item}" for i, item in enumerate(p.checklist)]
            lines.append("")
        return "\n".join(lines)

    def export_markdown(self, path: str | os.PathLike | None = None) -> Path:
        """Write :meth:`markdown` to ``path`` (default ``checkout-design.md`` beside :attr:`path`); return it."""
        try:
            target = self.path.with_name(EXPORT_NAME) if path is None else Path(path)
        except TypeError:
            raise self._fail("export to", repr(path), "a path must be a str or a Path") from None
        try:
            _write_atomically(target, self.markdown())
        except (OSError, ValueError) as error:
            raise self._fail("export your answers to", target, _reason(error)) from error
        return target
