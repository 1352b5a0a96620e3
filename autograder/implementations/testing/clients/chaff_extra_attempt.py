"""A buggy payments client (a chaff of the testing assignment, Part B).

Its one bug: it makes one attempt more than max_attempts (it counts retries,
not attempts).

Otherwise it is the given client, course/contracts/payments_client.py, whose
docstring is the specification. Graded tests see it loaded under that
client's module name; feedback shows only the description in catalog.py.
"""

from __future__ import annotations

import http.client
import json
import math
import random
import re
import time
import urllib.parse
import uuid

__all__ = ["PaymentsClient", "PaymentError", "PaymentRejected", "PaymentFailed", "DeadlineExceeded",
           "TransientError"]

#: Statuses that say the service may answer differently later (besides every 5xx).
RETRYABLE_4XX = frozenset({429})
#: Statuses whose ``Retry-After`` header the client honours.
RETRY_AFTER_STATUSES = frozenset({429, 503})
_CURRENCY = re.compile(r"[A-Z]{3}")


class PaymentError(Exception):
    """Anything :meth:`PaymentsClient.charge` raises about the payment (not about its arguments)."""


class PaymentRejected(PaymentError):
    """The service refused the payment with a status that retrying cannot change (a 4xx but 429)."""

    def __init__(self, status: int, body):
        super().__init__(f"the payments service rejected the payment with status {status}: {body!r}")
        self.status = status
        self.body = body


class TransientError(PaymentError):
    """A retryable answer (a 5xx or 429); the ``__cause__`` of the error raised when retries run out."""

    def __init__(self, status: int, body, retry_after: float | None = None):
        super().__init__(f"the payments service answered {status}")
        self.status = status
        self.body = body
        self.retry_after = retry_after


class PaymentFailed(PaymentError):
    """Every attempt failed with a retryable failure; ``__cause__`` is the last attempt's error."""

    def __init__(self, attempts: int):
        super().__init__(f"the payment failed after {attempts} attempts")
        self.attempts = attempts


class DeadlineExceeded(PaymentError):
    """The call's deadline stopped the retries; ``__cause__`` is the last attempt's error."""

    def __init__(self, deadline: float, attempts: int):
        super().__init__(f"no payment within the deadline of {deadline:g} s ({attempts} attempts)")
        self.deadline = deadline
        self.attempts = attempts


def _number(name: str, value, *, minimum: float = 0.0, inclusive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise ValueError(f"{name} must be a number, got {value!r}")
    if value < minimum or (value == minimum and not inclusive):
        raise ValueError(f"{name} must be {'>=' if inclusive else '>'} {minimum:g}, got {value!r}")
    return float(value)


class PaymentsClient:
    """Charges orders through the payments service with timeouts, retries and a deadline (see the module docstring)."""

    def __init__(self, base_url: str, *, timeout: float = 0.5, max_attempts: int = 4, base_delay: float = 0.05,
                 max_delay: float = 1.0, deadline: float = 3.0, sleep=time.sleep, clock=time.monotonic, rng=None):
        parts = urllib.parse.urlsplit(base_url) if isinstance(base_url, str) else None
        if parts is None or parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"base_url must be an http:// URL such as 'http://127.0.0.1:8000', got {base_url!r}")
        try:
            port = parts.port or 80
        except ValueError:
            raise ValueError(f"base_url has an invalid port: {base_url!r}") from None
        self.base_url = base_url.rstrip("/")
        self._host, self._port = parts.hostname, port
        self._path = parts.path.rstrip("/") + "/payments"
        self.timeout = _number("timeout", timeout)
        if isinstance(max_attempts, bool) or not isinstance(max_attempts, int) or max_attempts < 1:
            raise ValueError(f"max_attempts must be a whole number >= 1, got {max_attempts!r}")
        self.max_attempts = max_attempts
        self.base_delay = _number("base_delay", base_delay)
        self.max_delay = _number("max_delay", max_delay)
        if self.max_delay < self.base_delay:
            raise ValueError(f"max_delay must be >= base_delay ({base_delay!r}), got {max_delay!r}")
        self.deadline = _number("deadline", deadline)
        if not callable(sleep):
            raise ValueError(f"sleep must be a function of the seconds to wait, got {sleep!r}")
        if not callable(clock):
            raise ValueError(f"clock must be a function returning the time in seconds, got {clock!r}")
        if rng is not None and not isinstance(rng, random.Random):
            raise ValueError(f"rng must be a random.Random (or None for a new one), got {rng!r}")
        self._sleep, self._clock = sleep, clock
        self._rng = random.Random() if rng is None else rng

    def charge(self, order_id: str, amount_cents: int, currency: str = "EUR") -> dict:
        """Charge ``amount_cents`` for ``order_id``; the payment the service returns (see the module docstring)."""
        if not isinstance(order_id, str) or not order_id:
            raise ValueError(f"order_id must be a non-empty string, got {order_id!r}")
        if isinstance(amount_cents, bool) or not isinstance(amount_cents, int) or amount_cents <= 0:
            raise ValueError(f"amount_cents must be a whole number > 0, got {amount_cents!r}")
        if not isinstance(currency, str) or not _CURRENCY.fullmatch(currency):
            raise ValueError(f"currency must be three capital letters such as 'EUR', got {currency!r}")
        body = json.dumps({"order_id": order_id, "amount_cents": amount_cents, "currency": currency}).encode()
        key = str(uuid.uuid4())
        ends = self._clock() + self.deadline
        error = None
        for attempt in range(1, self.max_attempts + 2):
            left = ends - self._clock()
            if left <= 0:
                raise DeadlineExceeded(self.deadline, attempt - 1) from error
            try:
                status, retry_after, answer = self._post(body, key, min(self.timeout, left))
            except (TimeoutError, ConnectionError) as exc:
                error = exc
            else:
                if status in (200, 201):
                    return json.loads(answer)
                if not (status >= 500 or status in RETRYABLE_4XX):
                    raise PaymentRejected(status, _decoded(answer))
                error = TransientError(status, _decoded(answer), retry_after)
            if attempt == self.max_attempts + 1:
                raise PaymentFailed(attempt) from error
            wait = self._backoff(attempt - 1)
            if isinstance(error, TransientError) and error.status in RETRY_AFTER_STATUSES \
                    and error.retry_after is not None:
                wait = max(wait, error.retry_after)
            if self._clock() + wait > ends:
                raise DeadlineExceeded(self.deadline, attempt) from error
            self._sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def _backoff(self, retry: int) -> float:
        """Full jitter: uniform in [0, min(max_delay, base_delay * 2**retry)]."""
        ceiling = self.max_delay if retry >= 64 else min(self.max_delay, self.base_delay * 2 ** retry)
        return self._rng.uniform(0.0, ceiling)

    def _post(self, body: bytes, key: str, timeout: float) -> tuple[int, float | None, bytes]:
        """One attempt: the status, the Retry-After seconds (or None) and the body of the answer.

        Raises ``TimeoutError`` when the attempt times out and
        ``ConnectionError`` when the connection fails in any other way.
        """
        connection = http.client.HTTPConnection(self._host, self._port, timeout=timeout)
        try:
            connection.request("POST", self._path, body=body, headers={
                "Content-Type": "application/json", "Accept": "application/json", "Idempotency-Key": key})
            response = connection.getresponse()
            answer = response.read()
            return response.status, _seconds(response.getheader("Retry-After")), answer
        except (TimeoutError, ConnectionError):
            raise
        except (OSError, http.client.HTTPException) as exc:
            raise ConnectionError(f"the connection to the payments service failed: {exc!r}") from exc
        finally:
            connection.close()


def _seconds(value: str | None) -> float | None:
    """A Retry-After header's delay in seconds, or None when absent or not a non-negative number."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def _decoded(answer: bytes):
    """A response body: its JSON when it parses, else its text."""
    try:
        return json.loads(answer)
    except ValueError:
        return answer.decode("utf-8", errors="replace")
