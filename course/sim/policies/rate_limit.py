"""A token bucket: the rate limiter in front of many APIs (Envoy's local rate limit, AWS API Gateway)."""

from __future__ import annotations

from .. import _validate

#: Slack for float rounding when comparing token counts: a request that waited exactly
#: :meth:`TokenBucket.retry_after` seconds must get its token.
_EPSILON = 1e-9


class TokenBucket:
    """Admit a request if a token is in the bucket; tokens drip in at ``rate`` per second, up to ``burst``.

    The bucket starts full. Over any interval of length t it admits at most
    ``rate * t + burst`` requests: ``burst`` saved up beforehand, plus what
    dripped in meanwhile. A rejected caller is told :meth:`retry_after`, the
    seconds until the next token, which is what an HTTP 429's
    ``Retry-After`` header would say.

    ``clock`` is anything with ``now()``; the bucket refills lazily from the
    time elapsed, so it needs no timer and runs the same in the simulator and
    on real time.
    """

    def __init__(self, rate: float, burst: float, clock):
        self.rate = _validate.positive("rate", rate)
        _validate.positive("burst", burst)
        if burst < 1:
            raise ValueError(f"burst must be >= 1 (the bucket must hold at least one token), got {burst!r}")
        self.burst = burst
        self.clock = clock
        self._tokens = float(burst)
        self._stamp = clock.now()
        self.admitted = 0
        self.rejected = 0

    def _refill(self) -> None:
        now = self.clock.now()
        if now > self._stamp:
            self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now

    def _check_tokens(self, tokens) -> float:
        _validate.positive("tokens", tokens)
        if tokens > self.burst:
            raise ValueError(f"tokens must be <= burst ({self.burst!r}): a bucket that small can never "
                             f"hold them; got {tokens!r}")
        return tokens

    @property
    def tokens(self) -> float:
        """Tokens in the bucket right now (fractional between drips)."""
        self._refill()
        return self._tokens

    def try_acquire(self, tokens: float = 1) -> bool:
        """Take ``tokens`` and return True, or count a rejection and return False (nothing is taken)."""
        self._check_tokens(tokens)
        self._refill()
        if self._tokens >= tokens - _EPSILON:
            self._tokens = max(0.0, self._tokens - tokens)
            self.admitted += 1
            return True
        self.rejected += 1
        return False

    def retry_after(self, tokens: float = 1) -> float:
        """Seconds until ``tokens`` are in the bucket (0 if they are now): a 429's ``Retry-After``."""
        self._check_tokens(tokens)
        self._refill()
        return max(0.0, (tokens - self._tokens) / self.rate)
