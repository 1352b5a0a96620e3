"""A client for the payments service that is careful about failure: the one you test in the testing assignment.

``PaymentsClient(base_url).charge(order_id, amount_cents)`` asks the payments
service to take money for an order, and keeps its promises below however the
service fails. Everything in this docstring is the **specification**: your
tests may insist on it, and on nothing else (other correct clients differ
from this one wherever the specification is silent).

Making a client
---------------
``PaymentsClient(base_url, *, timeout=0.5, max_attempts=4, base_delay=0.05,
max_delay=1.0, deadline=3.0, sleep=time.sleep, clock=time.monotonic, rng=None)``

* ``base_url``: ``"http://host:port"`` (a trailing ``/`` is ignored); only
  plain ``http`` is supported.
* ``timeout`` (> 0): the socket timeout of each attempt, in seconds.
* ``max_attempts`` (a whole number >= 1): attempts in total, the first included.
* ``base_delay`` (> 0) and ``max_delay`` (>= ``base_delay``): the backoff, below.
* ``deadline`` (> 0): the most one ``charge`` call may take, in seconds of ``clock``.
* ``sleep(seconds)``: how the client waits between attempts; it is called
  exactly once per wait, and for nothing else.
* ``clock()``: the current time in seconds (only differences matter); the
  deadline is measured with it.
* ``rng``: a :class:`random.Random` (a subclass is fine) that draws the
  jitter; by default a new, unseeded one. Which of its methods the client
  calls is not specified.

A bad value raises ``ValueError`` naming the parameter.

Charging
--------
``charge(order_id, amount_cents, currency="EUR") -> dict``

* ``order_id`` is a non-empty string, ``amount_cents`` a whole number > 0,
  ``currency`` three capital letters; otherwise ``ValueError`` naming the
  parameter, before any request.
* Each attempt is one ``POST {base_url}/payments`` with the JSON body
  ``{"order_id": ..., "amount_cents": ..., "currency": ...}``, the header
  ``Content-Type: application/json``, and the header ``Idempotency-Key``: a
  random UUID (version 4), one per ``charge`` call, sent unchanged on every
  attempt of that call, so that the service can tell a retry from a new
  payment.
* **200 or 201**: returns the response's JSON body (decoded). No more attempts.
* **Other 4xx** (every status from 400 to 499 but 429): the request itself is
  wrong and sending it again cannot help. Raises :class:`PaymentRejected`
  at once, with ``.status`` and ``.body`` (the JSON body decoded, or its
  text when it is not JSON). No retry.
* **Retryable failures** are retried: a connection that cannot be made, is
  reset or closed before a full answer (a ``ConnectionError``), an attempt
  that times out (a ``TimeoutError``), and any **5xx** or **429** answer (a
  :class:`TransientError` with ``.status``, ``.body`` and ``.retry_after``).
  Any other status is not retried and raises :class:`PaymentRejected`.
* **Backoff with full jitter.** Before retry number ``n`` (``n = 0`` for the
  first retry, that is before the second attempt) the client waits a time
  drawn uniformly at random from ``[0, min(max_delay, base_delay * 2**n)]``,
  with ``rng``, by calling ``sleep`` once.
* **Retry-After.** When a 429 or 503 answer carries ``Retry-After`` as a
  number of seconds (``"2"``, ``"0.5"``), the wait before the next attempt
  is at least that long: the larger of that number and the backoff drawn
  above. (A ``Retry-After`` that is not a non-negative number, such as an
  HTTP date, is ignored; ``max_delay`` does not cap it.)
* **Deadline.** A call takes at most ``deadline`` seconds of ``clock`` from
  when it starts. The client never starts an attempt when the deadline has
  passed, never starts a wait that would end after it, and cuts each
  attempt's socket timeout to the time left (``min(timeout, time left)``).
  When the deadline stops the retries it raises :class:`DeadlineExceeded`
  at once (without waiting), with the last attempt's error as
  ``__cause__``.
* **Out of attempts.** When attempt number ``max_attempts`` fails with a
  retryable failure, it raises :class:`PaymentFailed` (``.attempts`` is the
  number of attempts made) with that attempt's error as ``__cause__``. It
  never waits after the last attempt.

All four exceptions derive from :class:`PaymentError`. The number of
requests the service receives is the number of attempts; the number of
``sleep`` calls is the number of retries.
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
        for attempt in range(1, self.max_attempts + 1):
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
            if attempt == self.max_attempts:
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
