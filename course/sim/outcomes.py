"""How a call can end. Stored as small integers in the record arrays."""

from __future__ import annotations

from enum import IntEnum


class Outcome(IntEnum):
    """The result of one attempt or one request.

    ``ERROR`` is a retryable server error (think HTTP 500/503); ``FATAL`` is an
    error that retrying cannot fix (think HTTP 400). ``NO_RETRY`` is the Google
    SRE book's "overloaded; don't retry": a service whose own retries of a
    dependency ran out says so, so that only the layer directly above the
    failure retries. ``BREAKER_OPEN``, ``BULKHEAD_FULL`` and ``THROTTLED`` are
    rejections made on the client side, before anything reached the server.

    ``CANCELLED`` appears only in a client's attempt records: the client
    stopped waiting for that attempt because another copy of it had already
    answered (a hedge that lost; gRPC cancels those). An attempt the client
    gave up on at a deadline is ``TIMEOUT`` there. Either way the server may
    still answer later; what it did is in the server's own records.
    """

    OK = 0
    ERROR = 1
    TIMEOUT = 2
    REJECTED = 3  # the server shed the call or its queue was full
    FATAL = 4
    BREAKER_OPEN = 5
    BULKHEAD_FULL = 6
    THROTTLED = 7
    FALLBACK = 8  # the caller was served a fallback answer instead
    NO_RETRY = 9  # failed, and the layer below already retried: callers should not retry again
    CANCELLED = 10  # a client's attempt record only: another copy answered first and the client stopped waiting

    @property
    def is_success(self) -> bool:
        """True for answers the caller can use (a fallback counts)."""
        return self in (Outcome.OK, Outcome.FALLBACK)


#: Outcomes a retry policy retries by default: transient server-side trouble.
RETRYABLE = frozenset({Outcome.ERROR, Outcome.TIMEOUT, Outcome.REJECTED})
