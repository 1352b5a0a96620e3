"""A circuit breaker with Resilience4j's semantics."""

from __future__ import annotations

import math

from .. import _validate
from ._window import CountWindow, TimeWindow

CLOSED = "closed"
OPEN = "open"
HALF_OPEN = "half_open"


class CircuitBreaker:
    """Stop calling a dependency that is failing, then probe it to see if it has recovered.

    **Closed**: every call is allowed and its result goes into a sliding window,
    either the last ``window_size`` calls (``window_type="count"``) or the
    calls of the last ``window_size`` seconds (``"time"``, kept in 1-second
    buckets, finer for windows under 10 s). Once the window holds at least
    ``minimum_calls`` calls and the failure rate reaches
    ``failure_rate_threshold``, or the slow-call rate reaches
    ``slow_call_rate_threshold``, the breaker opens. A call is slow when
    ``slow_call_threshold`` is set and its duration is at least that.
    As in Resilience4j, a count window never needs more than ``window_size``
    calls, even when ``minimum_calls`` is larger.

    **Open**: ``allow()`` returns False for ``open_wait`` seconds; after that
    the breaker is half-open (the change is made when the state is next read,
    and logged at the moment ``open_wait`` ran out).

    **Half-open**: exactly ``half_open_calls`` probes are allowed. When all of
    them have reported, the breaker closes (with an empty window) if their
    failure and slow-call rates are under the thresholds, and opens again
    otherwise. Results reported while open, and results beyond the number of
    probes issued while half-open, come from calls started earlier and are
    ignored.

    The defaults are Resilience4j's, except that slow calls are off by default
    (see :meth:`resilience4j`). ``transitions`` lists ``(time, state)`` pairs,
    starting with ``(creation time, "closed")``, for plotting.
    """

    WINDOW_TYPES = ("count", "time")

    def __init__(self, clock, failure_rate_threshold: float = 0.5, window_type: str = "count",
                 window_size: float = 100, minimum_calls: int = 100, open_wait: float = 60.0,
                 half_open_calls: int = 10, slow_call_threshold: float | None = None,
                 slow_call_rate_threshold: float = 1.0):
        v = _validate
        self.failure_rate_threshold = v.fraction_open_closed("failure_rate_threshold",
                                                             failure_rate_threshold)
        self.window_type = v.one_of("window_type", window_type, self.WINDOW_TYPES)
        if window_type == "count":
            v.integer_at_least("window_size", window_size, 1)
        else:
            v.positive("window_size", window_size)
        self.window_size = window_size
        self.minimum_calls = v.integer_at_least("minimum_calls", minimum_calls, 1)
        self.open_wait = v.positive("open_wait", open_wait)
        self.half_open_calls = v.integer_at_least("half_open_calls", half_open_calls, 1)
        if slow_call_threshold is not None:
            v.positive("slow_call_threshold", slow_call_threshold)
        self.slow_call_threshold = slow_call_threshold
        self.slow_call_rate_threshold = v.fraction_open_closed("slow_call_rate_threshold",
                                                               slow_call_rate_threshold)
        self._min_calls = (min(minimum_calls, window_size) if window_type == "count"
                           else minimum_calls)
        self._clock = clock
        self._state = CLOSED
        self._opened_at = 0.0
        self._new_window()
        self._new_probes()
        self.transitions: list[tuple[float, str]] = [(clock.now(), CLOSED)]

    # -- presets -----------------------------------------------------------------

    @classmethod
    def resilience4j(cls, clock) -> "CircuitBreaker":
        """Resilience4j's defaults: 50% failures over a count window of 100 calls,
        minimum 100 calls, 60 s open, 10 half-open calls, and calls of 60 s or
        more counted as slow (opening at a 100% slow-call rate)."""
        return cls(clock, failure_rate_threshold=0.5, window_type="count", window_size=100,
                   minimum_calls=100, open_wait=60.0, half_open_calls=10,
                   slow_call_threshold=60.0, slow_call_rate_threshold=1.0)

    @classmethod
    def hystrix(cls, clock) -> "CircuitBreaker":
        """Hystrix's defaults: a 10 s rolling window, a volume threshold of 20
        requests, 50% errors, a 5 s sleep window and a single trial request."""
        return cls(clock, failure_rate_threshold=0.5, window_type="time", window_size=10.0,
                   minimum_calls=20, open_wait=5.0, half_open_calls=1)

    @classmethod
    def polly(cls, clock) -> "CircuitBreaker":
        """Polly v8's defaults: failure ratio 0.1, minimum throughput 100, sampling
        over 30 s, break for 5 s, then one probe call."""
        return cls(clock, failure_rate_threshold=0.1, window_type="time", window_size=30.0,
                   minimum_calls=100, open_wait=5.0, half_open_calls=1)

    @classmethod
    def pybreaker(cls, clock) -> "CircuitBreaker":
        """pybreaker's defaults: open after 5 consecutive failures, reset after 60 s.

        A count window of 5 with minimum 5 calls and a 100% threshold opens
        exactly when the last 5 calls all failed, i.e. after 5 failures in a row.
        """
        return cls(clock, failure_rate_threshold=1.0, window_type="count", window_size=5,
                   minimum_calls=5, open_wait=60.0, half_open_calls=1)

    # -- state ---------------------------------------------------------------------

    @property
    def state(self) -> str:
        """``"closed"``, ``"open"`` or ``"half_open"``, as of now."""
        if self._state == OPEN:
            reopen_at = self._opened_at + self.open_wait
            if self._clock.now() >= reopen_at:
                self._new_probes()
                self._move(HALF_OPEN, reopen_at)
        return self._state

    @property
    def failure_rate(self) -> float | None:
        """Failure rate over the window, or None while it holds too few calls."""
        calls, failures, _ = self._window.totals()
        return failures / calls if calls >= self._min_calls else None

    @property
    def slow_call_rate(self) -> float | None:
        """Slow-call rate over the window, or None while it holds too few calls."""
        calls, _, slow = self._window.totals()
        return slow / calls if calls >= self._min_calls else None

    # -- calls -------------------------------------------------------------------

    def allow(self) -> bool:
        """May a call go ahead now? In half-open, each True hands out one probe."""
        state = self.state
        if state == CLOSED:
            return True
        if state == HALF_OPEN and self._probes_issued < self.half_open_calls:
            self._probes_issued += 1
            return True
        return False

    def on_success(self, duration: float) -> None:
        """Report an allowed call that succeeded after ``duration`` seconds."""
        self._record(False, duration)

    def on_failure(self, duration: float) -> None:
        """Report an allowed call that failed after ``duration`` seconds."""
        self._record(True, duration)

    def on_ignored(self) -> None:
        """Report an allowed call whose result says nothing about the dependency
        (a caller error, say): it is not recorded, and a half-open probe slot is
        given back."""
        if self.state == HALF_OPEN and self._probes_issued > self._probes[0]:
            self._probes_issued -= 1

    # -- internals ---------------------------------------------------------------

    def _record(self, failed: bool, duration: float) -> None:
        _validate.non_negative("duration", duration)
        slow = self.slow_call_threshold is not None and duration >= self.slow_call_threshold
        state = self.state
        if state == CLOSED:
            self._window.add(1, int(failed), int(slow))
            calls, failures, slows = self._window.totals()
            if calls >= self._min_calls and self._tripped(calls, failures, slows):
                self._open()
        elif state == HALF_OPEN and self._probes[0] < self._probes_issued:
            calls, failures, slows = self._probes
            self._probes = (calls + 1, failures + failed, slows + slow)
            if calls + 1 == self.half_open_calls:
                if self._tripped(*self._probes):
                    self._open()
                else:
                    self._new_window()
                    self._move(CLOSED, self._clock.now())

    def _tripped(self, calls: int, failures: int, slow: int) -> bool:
        return (failures / calls >= self.failure_rate_threshold
                or slow / calls >= self.slow_call_rate_threshold)

    def _open(self) -> None:
        self._opened_at = self._clock.now()
        self._move(OPEN, self._opened_at)

    def _move(self, state: str, at: float) -> None:
        self._state = state
        self.transitions.append((at, state))

    def _new_window(self) -> None:
        if self.window_type == "count":
            self._window = CountWindow(self.window_size, fields=3)
        else:
            buckets = max(10, math.ceil(self.window_size))
            self._window = TimeWindow(self._clock, self.window_size, buckets=buckets, fields=3)

    def _new_probes(self) -> None:
        self._probes_issued = 0
        self._probes = (0, 0, 0)  # calls, failures, slow calls among the probes
