"""Fault schedules: when a service is slow, down, or failing some of its calls."""

from __future__ import annotations

import math

from . import _validate


class _Window:
    def __init__(self, start: float, end: float):
        _validate.non_negative("start", start)
        if not end > start:
            raise ValueError(f"end must be after start ({start!r}), got {end!r}")
        self.start = start
        self.end = end

    def active(self, t: float) -> bool:
        return self.start <= t < self.end


class Slow(_Window):
    """Between ``start`` and ``end``, every piece of work takes ``factor`` times longer."""

    def __init__(self, start: float, end: float = math.inf, factor: float = 10.0):
        super().__init__(start, end)
        if not factor >= 1:
            raise ValueError(f"factor must be >= 1 (a slowdown), got {factor!r}")
        self.factor = factor

    def __repr__(self):
        return f"Slow({self.start}, {self.end}, factor={self.factor})"


class Down(_Window):
    """Between ``start`` and ``end`` the service is down.

    ``mode="refuse"``: calls fail at once (connection refused).
    ``mode="hang"``: calls are accepted and never answered (only a timeout saves the caller).
    """

    MODES = ("refuse", "hang")

    def __init__(self, start: float, end: float = math.inf, mode: str = "refuse"):
        super().__init__(start, end)
        self.mode = _validate.one_of("mode", mode, self.MODES)

    def __repr__(self):
        return f"Down({self.start}, {self.end}, mode={self.mode!r})"


class Errors(_Window):
    """Between ``start`` and ``end``, each call fails with probability ``rate`` after doing its work."""

    def __init__(self, rate: float, start: float = 0.0, end: float = math.inf):
        super().__init__(start, end)
        self.rate = _validate.probability("rate", rate)

    def __repr__(self):
        return f"Errors({self.rate}, {self.start}, {self.end})"


class FaultSchedule:
    """A set of faults. Overlapping slowdowns multiply; error rates combine as independent failures."""

    def __init__(self, *faults):
        for fault in faults:
            if not isinstance(fault, (Slow, Down, Errors)):
                raise ValueError(f"faults must be Slow, Down or Errors, got {fault!r}")
        self.faults = faults

    def slow_factor(self, t: float) -> float:
        """How many times slower work is at time ``t``."""
        factor = 1.0
        for fault in self.faults:
            if isinstance(fault, Slow) and fault.active(t):
                factor *= fault.factor
        return factor

    def down_mode(self, t: float) -> str | None:
        """``"refuse"`` or ``"hang"`` if the service is down at ``t``, else None."""
        for fault in self.faults:
            if isinstance(fault, Down) and fault.active(t):
                return fault.mode
        return None

    def error_rate(self, t: float) -> float:
        """The probability that a call finishing at ``t`` fails."""
        ok = 1.0
        for fault in self.faults:
            if isinstance(fault, Errors) and fault.active(t):
                ok *= 1 - fault.rate
        return 1 - ok

    def constant_error_rate(self) -> float | None:
        """The error rate if it never changes (one Errors fault covering all time, nothing else), else None."""
        errors = [f for f in self.faults if isinstance(f, Errors)]
        if len(errors) == 1 and errors[0].start == 0 and errors[0].end == math.inf:
            return errors[0].rate
        return None

    def __bool__(self):
        return bool(self.faults)

    def __repr__(self):
        return f"FaultSchedule{self.faults!r}"
