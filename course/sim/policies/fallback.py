"""A fallback answer for calls that failed in an expected way."""

from __future__ import annotations

from ..outcomes import Outcome
from ._errors import CallRejected
from .retry import _outcomes

#: What a fallback replaces by default. Not FATAL: that is a caller or
#: programming error, and hiding it behind a default answer hides the bug.
DEFAULT_HANDLES = frozenset({Outcome.ERROR, Outcome.TIMEOUT, Outcome.REJECTED, Outcome.NO_RETRY,
                             Outcome.BREAKER_OPEN, Outcome.BULKHEAD_FULL, Outcome.THROTTLED})


class Fallback:
    """Serve ``value`` instead of a failure whose outcome is in ``handles``.

    ``value`` is a plain value or a zero-argument callable that makes it (so a
    callable you want to return as-is must be wrapped, ``lambda: f``).
    ``exceptions`` are the exception types the synchronous executor may
    replace; it does so only when the exception's outcome is also in
    ``handles``, so a ``TypeError`` or ``KeyError`` is never swallowed.
    ``handles`` may not contain OK, FALLBACK or FATAL.
    """

    def __init__(self, value=None, handles=DEFAULT_HANDLES,
                 exceptions=(TimeoutError, ConnectionError, CallRejected)):
        handles = _outcomes("handles", handles)
        banned = handles & {Outcome.OK, Outcome.FALLBACK, Outcome.FATAL}
        if banned:
            names = ", ".join(sorted(o.name for o in banned))
            raise ValueError(f"handles must only hold failure outcomes other than FATAL "
                             f"(FATAL is a caller or programming error), got {names}")
        self.handles = handles
        exceptions = tuple(exceptions)
        if not all(isinstance(e, type) and issubclass(e, BaseException) for e in exceptions):
            raise ValueError(f"exceptions must be a collection of exception classes, "
                             f"got {exceptions!r}")
        self.exceptions = exceptions
        self.value = value

    def handles_outcome(self, outcome) -> bool:
        """True if a call that ended with ``outcome`` gets the fallback instead."""
        return outcome in self.handles

    def get(self):
        """The fallback answer (calling ``value`` if it is callable)."""
        return self.value() if callable(self.value) else self.value
