"""A Jepsen-style history: every operation a client began, and how it ended.

A client *invokes* an operation, then it completes as ``ok`` (it happened),
``fail`` (it certainly did not happen) or ``info`` (unknown: the client timed
out or crashed, so it may or may not have happened). A checker reads the
whole history afterwards and judges it, as Jepsen does.

Each process has at most one operation open at a time; a process that wants
to carry on after an ``info`` is, in Jepsen's terms, a new process.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

TYPES = ("invoke", "ok", "fail", "info")
_COMPLETIONS = ("ok", "fail", "info")
_FIELDS = ("time", "type", "process", "f")


class MalformedHistory(ValueError):
    """The history breaks the rules, at operation ``index`` (None if not one operation's fault)."""

    def __init__(self, index: int | None, reason: str):
        where = "history" if index is None else f"operation {index}"
        super().__init__(f"malformed history: {where}: {reason}")
        self.index = index
        self.reason = reason


@dataclass(frozen=True)
class Op:
    """One entry in a history. ``value`` of reads and writes is ``(value, version)``."""

    index: int
    time: float
    type: str
    process: Any
    f: str
    key: Any = None
    value: Any = None


class History:
    """An append-only list of :class:`Op`. Times come from ``clock.now()`` (or 0 without a clock)."""

    def __init__(self, clock=None):
        self.clock = clock
        self._ops: list[Op] = []
        self._open: dict = {}  # process -> index of its open invoke

    def _now(self) -> float:
        return self.clock.now() if self.clock is not None else 0.0

    def invoke(self, process, f: str, key=None, value=None) -> int:
        """Record that ``process`` began ``f``; returns the index to complete it with."""
        index = len(self._ops)
        if process in self._open:
            raise MalformedHistory(index, f"process {process!r} invokes {f!r} while operation "
                                          f"{self._open[process]} is still open")
        self._ops.append(Op(index, self._now(), "invoke", process, f, key, value))
        self._open[process] = index
        return index

    def ok(self, invoke_index: int, value=None) -> int:
        """The operation invoked at ``invoke_index`` happened."""
        return self._complete("ok", invoke_index, value)

    def fail(self, invoke_index: int, value=None) -> int:
        """The operation invoked at ``invoke_index`` certainly did not happen."""
        return self._complete("fail", invoke_index, value)

    def info(self, invoke_index: int, value=None) -> int:
        """Nobody knows whether the operation invoked at ``invoke_index`` happened."""
        return self._complete("info", invoke_index, value)

    def _complete(self, type_: str, invoke_index: int, value) -> int:
        index = len(self._ops)
        if not isinstance(invoke_index, int) or not 0 <= invoke_index < index \
                or self._ops[invoke_index].type != "invoke":
            raise MalformedHistory(index, f"{type_} refers to {invoke_index!r}, which is not an invoke")
        inv = self._ops[invoke_index]
        if self._open.get(inv.process) != invoke_index:
            raise MalformedHistory(index, f"{type_} refers to invoke {invoke_index}, which is already complete")
        del self._open[inv.process]
        self._ops.append(Op(index, self._now(), type_, inv.process, inv.f, inv.key, value))
        return index

    @property
    def ops(self) -> list[Op]:
        """All operations, in the order they were recorded."""
        return self._ops

    def __len__(self):
        return len(self._ops)

    def __iter__(self):
        return iter(self._ops)

    def __getitem__(self, index):
        return self._ops[index]

    def pairs(self) -> list:
        """Each invoke with its completion (None while it is still open), in invoke order."""
        out, where, open_ = [], {}, {}
        for op in self._ops:
            if op.type == "invoke":
                where[op.index] = len(out)
                open_[op.process] = op.index
                out.append((op, None))
            elif op.process in open_:
                slot = where[open_.pop(op.process)]
                out[slot] = (out[slot][0], op)
        return out

    def validate(self) -> "History":
        """Check the rules; raise :class:`MalformedHistory` naming the first bad operation. Returns self."""
        open_: dict = {}
        last = None
        for position, op in enumerate(self._ops):
            if not isinstance(op, Op):
                raise MalformedHistory(position, f"is a {type(op).__name__}, not an Op")
            if op.index != position:
                raise MalformedHistory(position, f"has index {op.index!r} but sits at position {position}")
            for name in _FIELDS:
                if name != "process" and getattr(op, name) is None:
                    raise MalformedHistory(position, f"is missing field {name!r}")
            if op.type not in TYPES:
                raise MalformedHistory(position, f"has unknown type {op.type!r}; valid types are "
                                                 f"{', '.join(map(repr, TYPES))}")
            if isinstance(op.time, bool) or not isinstance(op.time, (int, float)) or op.time != op.time:
                raise MalformedHistory(position, f"has time {op.time!r}, which is not a number")
            if last is not None and op.time < last:
                raise MalformedHistory(position, f"time goes backwards ({op.time!r} after {last!r})")
            last = op.time
            if op.type == "invoke":
                if op.process in open_:
                    raise MalformedHistory(position, f"process {op.process!r} invokes again while operation "
                                                     f"{open_[op.process]} is still open")
                open_[op.process] = position
            else:
                if op.process not in open_:
                    raise MalformedHistory(position, f"{op.type} for process {op.process!r}, which has no open invoke")
                start = self._ops[open_.pop(op.process)]
                if (start.f, start.key) != (op.f, op.key):
                    raise MalformedHistory(position, f"{op.type} is for {op.f!r} on {op.key!r} but the open invoke "
                                                     f"{start.index} is {start.f!r} on {start.key!r}")
        return self

    @classmethod
    def from_records(cls, records) -> "History":
        """Build and validate a history from dicts (``time, type, process, f`` and optional ``key, value``)
        or tuples ``(time, type, process, f[, key[, value]])``, in order."""
        history = cls()
        for position, record in enumerate(records):
            if isinstance(record, dict):
                missing = [name for name in _FIELDS if name not in record]
                if missing:
                    raise MalformedHistory(position, f"is missing field {missing[0]!r}")
                unknown = set(record) - {*_FIELDS, "key", "value", "index"}
                if unknown:
                    raise MalformedHistory(position, f"has unknown field(s) {sorted(map(str, unknown))}")
                fields = {name: record.get(name) for name in (*_FIELDS, "key", "value")}
            elif isinstance(record, (tuple, list)):
                if not 4 <= len(record) <= 6:
                    raise MalformedHistory(position, f"has {len(record)} fields; a tuple needs "
                                                     "(time, type, process, f[, key[, value]])")
                fields = dict(zip((*_FIELDS, "key", "value"), record))
                fields.setdefault("key", None)
                fields.setdefault("value", None)
            else:
                raise MalformedHistory(position, f"is a {type(record).__name__}; expected a dict or a tuple")
            history._ops.append(Op(index=position, **fields))
        history.validate()
        # Rebuild the open set so recording can continue where the records stop.
        for op in history._ops:
            if op.type == "invoke":
                history._open[op.process] = op.index
            else:
                history._open.pop(op.process, None)
        return history

    def __repr__(self):
        return f"History({len(self._ops)} ops)"
