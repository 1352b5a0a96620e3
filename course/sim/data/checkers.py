"""Checkers: read a finished history (or end state) and say whether an invariant held.

Each returns a :class:`CheckResult`, truthy iff no :class:`Violation` was
found; each violation names the operation it was found at. Checkers that take
a history call ``history.validate()`` first, so a malformed history raises
:class:`~course.sim.data.history.MalformedHistory` naming the bad operation
instead of producing a misleading verdict.

Reads and writes carry ``value=(value, version)`` (a read of a missing key
has ``value=None``, which counts as version 0). Writes are ``ok`` operations
whose ``f`` is ``"write"``, ``"cas"`` or ``"increment"``; reads have
``f == "read"``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .history import MalformedHistory

WRITES = ("write", "cas", "increment")


@dataclass(frozen=True)
class Violation:
    """One broken rule: the operation index it was found at (None if not one operation) and what went wrong."""

    op_index: int | None
    message: str

    def __str__(self):
        return self.message if self.op_index is None else f"op {self.op_index}: {self.message}"


@dataclass
class CheckResult:
    """A checker's verdict: ``valid`` and the violations found (truthy iff valid)."""

    valid: bool
    violations: list[Violation] = field(default_factory=list)

    def __bool__(self):
        return self.valid

    def __len__(self):
        return len(self.violations)

    def __str__(self):
        if self.valid:
            return "valid"
        lines = [f"{len(self.violations)} violation(s):"] + [f"  {v}" for v in self.violations[:20]]
        if len(self.violations) > 20:
            lines.append(f"  ... and {len(self.violations) - 20} more")
        return "\n".join(lines)


def _result(violations: list[Violation]) -> CheckResult:
    return CheckResult(not violations, violations)


def _version(op) -> int:
    """The version carried by an ok read/write's value; malformed values name the operation."""
    if op.value is None:
        return 0
    try:
        _, version = op.value
    except (TypeError, ValueError):
        raise MalformedHistory(op.index, f"{op.f} value must be (value, version) or None, got {op.value!r}") from None
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise MalformedHistory(op.index, f"{op.f} version must be a whole number >= 0, got {version!r}")
    return version


def _completed(history, fs):
    for op in history.validate():
        if op.type == "ok" and op.f in fs:
            yield op


def check_read_your_writes(history) -> CheckResult:
    """Every read by a process sees at least the version of that key the process last wrote."""
    written: dict = {}  # (process, key) -> (version, op index)
    violations = []
    for op in _completed(history, ("read", *WRITES)):
        slot = (op.process, op.key)
        version = _version(op)
        if op.f == "read":
            mine = written.get(slot)
            if mine is not None and version < mine[0]:
                violations.append(Violation(op.index, f"process {op.process!r} read {op.key!r} at version {version} "
                                                      f"after writing version {mine[0]} (op {mine[1]})"))
        elif slot not in written or version > written[slot][0]:
            written[slot] = (version, op.index)
    return _result(violations)


def check_monotonic_reads(history) -> CheckResult:
    """No process reads a key at an older version than it has already read."""
    seen: dict = {}  # (process, key) -> (version, op index)
    violations = []
    for op in _completed(history, ("read",)):
        slot = (op.process, op.key)
        version = _version(op)
        before = seen.get(slot)
        if before is not None and version < before[0]:
            violations.append(Violation(op.index, f"process {op.process!r} read {op.key!r} at version {version} "
                                                  f"after reading version {before[0]} (op {before[1]})"))
        else:
            seen[slot] = (version, op.index)
    return _result(violations)


def check_lost_updates(history, key, initial=0, final=None) -> CheckResult:
    """Every acknowledged increment of ``key`` is reflected in its final value.

    An increment is an operation with ``f == "increment"``: the invoke's value is
    the amount (1 if None), and ``ok`` means the client was told it happened;
    its ok value is the ``(value, version)`` it wrote. The final value is
    ``final`` if given, else the value of the highest version of ``key`` any
    ok operation saw. Expected: ``initial`` + the acknowledged amounts.
    Besides the total, each increment whose successor version does not build
    on it is named (the write that overwrote it).
    """
    amounts: dict = {}   # invoke index -> amount, per process open increment
    open_: dict = {}
    acknowledged = 0
    by_version: dict = {}  # version -> (value, amount or None, op index)
    newest = None  # (version, value)
    for op in history.validate():
        if op.key != key:
            continue
        if op.f == "increment":
            if op.type == "invoke":
                amount = 1 if op.value is None else op.value
                if isinstance(amount, bool) or not isinstance(amount, (int, float)):
                    raise MalformedHistory(op.index, f"increment amount must be a number, got {op.value!r}")
                open_[op.process] = amount
                continue
            amount = open_.pop(op.process)
            if op.type != "ok":
                continue
            acknowledged += amount
        if op.type != "ok" or op.f not in ("read", *WRITES):
            continue
        version = _version(op)
        if version == 0:
            continue
        value = op.value[0]
        if op.f == "increment":
            by_version[version] = (value, amount, op.index)
        else:
            by_version.setdefault(version, (value, None, op.index))
        if newest is None or version > newest[0]:
            newest = (version, value)

    violations = []
    for version, (value, _, index) in sorted(by_version.items()):
        after = by_version.get(version + 1)
        if after is not None and after[1] is not None and isinstance(value, (int, float)) \
                and after[0] != value + after[1]:
            violations.append(Violation(after[2], f"increment wrote {after[0]!r} at version {version + 1}, "
                                                  f"overwriting {value!r} (version {version}, op {index}): "
                                                  f"it was computed from a stale read"))
    final_value = final if final is not None else (newest[1] if newest is not None else initial)
    expected = initial + acknowledged
    if final_value != expected:
        violations.append(Violation(None, f"{key!r}: {acknowledged} acknowledged increment(s) from {initial!r} should "
                                          f"give {expected!r}, but the final value is {final_value!r} "
                                          f"({expected - final_value!r} lost)"))
    return _result(violations)


def check_stock_never_negative(history, key_prefix: str = "stock:") -> CheckResult:
    """No ok operation on a key starting with ``key_prefix`` saw or wrote a negative value."""
    violations = []
    for op in history.validate():
        if op.type != "ok" or not isinstance(op.key, str) or not op.key.startswith(key_prefix) or op.value is None:
            continue
        value = op.value[0] if isinstance(op.value, tuple) else op.value
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
            violations.append(Violation(op.index, f"{op.key!r} is {value!r} after {op.f!r} by {op.process!r}"))
    return _result(violations)


def check_money_conserved(balances_before: dict, balances_after: dict) -> CheckResult:
    """The total across all accounts is the same before and after (accounts may appear or vanish)."""
    totals = []
    for name, balances in (("balances_before", balances_before), ("balances_after", balances_after)):
        if not isinstance(balances, dict):
            raise ValueError(f"{name} must be a dict of account -> amount, got {type(balances).__name__}")
        for account, amount in balances.items():
            if isinstance(amount, bool) or not isinstance(amount, (int, float)) or math.isnan(amount):
                raise ValueError(f"{name}[{account!r}] must be a number, got {amount!r}")
        totals.append(sum(balances.values()))
    before, after = totals
    if math.isclose(before, after, rel_tol=0, abs_tol=1e-9):
        return _result([])
    changed = {a: balances_after.get(a, 0) - balances_before.get(a, 0)
               for a in {**balances_before, **balances_after}
               if balances_after.get(a, 0) != balances_before.get(a, 0)}
    detail = ", ".join(f"{a}: {d:+g}" for a, d in sorted(changed.items(), key=lambda kv: str(kv[0])))
    message = f"total went from {before!r} to {after!r} ({after - before:+g}); changes: {detail}"
    return _result([Violation(None, message)])


def check_sagas(results) -> CheckResult:
    """Every saga either completed, or was compensated: each action that succeeded was undone, in reverse order.

    ``results`` are :class:`~course.sim.data.saga.SagaResult` records (``saga_id``,
    ``status``, ``events`` of ``(start, end, step, kind, ok)``).
    """
    violations = []
    for r in results:
        done = [e[2] for e in r.events if e[3] == "action" and e[4]]
        failed = [e[2] for e in r.events if e[3] == "action" and not e[4]]
        undone = []
        for e in r.events:
            if e[3] == "compensation" and e[4] and e[2] not in undone:
                undone.append(e[2])
        label = f"saga {r.saga_id!r}"
        if r.status == "completed":
            if failed or undone:
                violations.append(Violation(None, f"{label} says completed but had failed actions {failed} "
                                                  f"or compensations {undone}"))
        elif r.status == "compensated":
            missing = [s for s in done if s not in undone]
            extra = [s for s in undone if s not in done]
            if extra:
                violations.append(Violation(None, f"{label} compensated {extra}, whose actions never completed"))
            elif missing:
                violations.append(Violation(None, f"{label} is compensated but {missing} were never undone"))
            elif undone != [s for s in reversed(done) if s in undone]:
                violations.append(Violation(None, f"{label} undid {undone}, not in the reverse of {done}"))
        else:
            violations.append(Violation(None, f"{label} ended {r.status!r}: neither completed nor compensated "
                                              f"(done {done}, undone {undone})"))
    return _result(violations)
