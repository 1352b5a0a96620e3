"""A second correct payments client (a wheat of the testing assignment, Part B).

It keeps every promise of the specification in
``course/contracts/payments_client.py`` and differs from that client only
where the specification is silent:

* it speaks HTTP through ``urllib.request`` (an opener with no proxies), not
  ``http.client``, so its requests carry other headers (``User-Agent``,
  ``Connection: close``) in another order;
* its idempotency key is a UUID 4 written as 32 hex digits, without dashes;
* its JSON body lists the fields in another order;
* it draws the jitter as ``ceiling * (1 - rng.random())`` rather than with
  ``rng.uniform``, and draws none when a ``Retry-After`` is longer than any
  backoff could be (so its waits differ from the given client's for the same
  seed, with the same distribution);
* its retry loop is built from small steps (a plan of each wait) rather
  than one loop body.

Graded tests see it loaded under the given client's module name; a test that
passes on the given client but fails here insists on something the
specification does not promise.
"""

from __future__ import annotations

import http.client
import json
import math
import random
import re
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

__all__ = ["PaymentsClient", "PaymentError", "PaymentRejected", "PaymentFailed", "DeadlineExceeded",
           "TransientError"]


class PaymentError(Exception):
    """Anything :meth:`PaymentsClient.charge` raises about the payment."""


class PaymentRejected(PaymentError):
    """A non-retryable answer."""

    def __init__(self, status, body):
        super().__init__(f"payment rejected ({status}): {body!r}")
        self.status = status
        self.body = body


class TransientError(PaymentError):
    """A retryable answer (5xx or 429)."""

    def __init__(self, status, body, retry_after=None):
        super().__init__(f"retryable answer {status}")
        self.status = status
        self.body = body
        self.retry_after = retry_after


class PaymentFailed(PaymentError):
    """Out of attempts."""

    def __init__(self, attempts):
        super().__init__(f"gave up after {attempts} attempts")
        self.attempts = attempts


class DeadlineExceeded(PaymentError):
    """Out of time."""

    def __init__(self, deadline, attempts):
        super().__init__(f"deadline of {deadline} s exceeded after {attempts} attempts")
        self.deadline = deadline
        self.attempts = attempts


def _check_number(name, value, *, allow_equal=False, at_least=0.0):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise ValueError(f"{name}: expected a number, got {value!r}")
    if value < at_least or (not allow_equal and value == at_least):
        raise ValueError(f"{name}: must be {'at least' if allow_equal else 'more than'} {at_least}, got {value!r}")
    return value


class _Answer:
    __slots__ = ("status", "body", "retry_after_header")

    def __init__(self, status, body, retry_after_header):
        self.status = status
        self.body = body
        self.retry_after_header = retry_after_header


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class PaymentsClient:
    """Charges orders through the payments service (second implementation)."""

    _OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirects())

    def __init__(self, base_url, *, timeout=0.5, max_attempts=4, base_delay=0.05, max_delay=1.0, deadline=3.0,
                 sleep=time.sleep, clock=time.monotonic, rng=None):
        if not isinstance(base_url, str):
            raise ValueError(f"base_url: expected a string, got {base_url!r}")
        split = urllib.parse.urlsplit(base_url)
        try:
            split.port
        except ValueError:
            raise ValueError(f"base_url: bad port in {base_url!r}") from None
        if split.scheme != "http" or not split.hostname:
            raise ValueError(f"base_url: expected http://host:port, got {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.url = self.base_url + "/payments"
        self.timeout = _check_number("timeout", timeout)
        if type(max_attempts) is not int or max_attempts < 1:
            raise ValueError(f"max_attempts: expected a whole number of at least 1, got {max_attempts!r}")
        self.max_attempts = max_attempts
        self.base_delay = _check_number("base_delay", base_delay)
        self.max_delay = _check_number("max_delay", max_delay, allow_equal=True, at_least=base_delay)
        self.deadline = _check_number("deadline", deadline)
        for name, value in (("sleep", sleep), ("clock", clock)):
            if not callable(value):
                raise ValueError(f"{name}: expected a function, got {value!r}")
        if rng is None:
            rng = random.Random()
        elif not isinstance(rng, random.Random):
            raise ValueError(f"rng: expected a random.Random, got {rng!r}")
        self.sleep = sleep
        self.clock = clock
        self.rng = rng

    # -- the public call ---------------------------------------------------------------------------

    def charge(self, order_id, amount_cents, currency="EUR"):
        """POST the payment, retrying as the specification says; the payment JSON on success."""
        self._check_charge(order_id, amount_cents, currency)
        payload = json.dumps({"currency": currency, "amount_cents": amount_cents, "order_id": order_id},
                             separators=(",", ":")).encode("utf-8")
        idempotency_key = uuid.uuid4().hex
        started = self.clock()
        attempts, last = 0, None
        while True:
            remaining = self.deadline - (self.clock() - started)
            if remaining <= 0:
                raise DeadlineExceeded(self.deadline, attempts) from last
            attempts += 1
            outcome = self._attempt(payload, idempotency_key, min(self.timeout, remaining))
            if not isinstance(outcome, BaseException):
                return outcome
            last = outcome
            if attempts >= self.max_attempts:
                raise PaymentFailed(attempts) from outcome
            pause = self._pause_after(outcome, retry_number=attempts - 1)
            if (self.clock() - started) + pause > self.deadline:
                raise DeadlineExceeded(self.deadline, attempts) from outcome
            self.sleep(pause)

    @staticmethod
    def _check_charge(order_id, amount_cents, currency):
        if type(order_id) is not str or order_id == "":
            raise ValueError(f"order_id: expected a non-empty string, got {order_id!r}")
        if type(amount_cents) is not int or amount_cents < 1:
            raise ValueError(f"amount_cents: expected a positive whole number of cents, got {amount_cents!r}")
        if type(currency) is not str or re.fullmatch(r"[A-Z][A-Z][A-Z]", currency) is None:
            raise ValueError(f"currency: expected an ISO code like 'EUR', got {currency!r}")

    # -- steps -------------------------------------------------------------------------------------

    def _attempt(self, payload, idempotency_key, timeout):
        """The decoded payment, or the exception that describes this attempt's failure (retryable ones
        are returned, the others raised)."""
        try:
            answer = self._send(payload, idempotency_key, timeout)
        except (TimeoutError, ConnectionError) as exc:
            return exc
        if answer.status == 200 or answer.status == 201:
            return json.loads(answer.body.decode("utf-8"))
        if 500 <= answer.status <= 599 or answer.status == 429:
            return TransientError(answer.status, _body(answer.body), _retry_after(answer.retry_after_header))
        raise PaymentRejected(answer.status, _body(answer.body))

    def _pause_after(self, failure, retry_number):
        ceiling = min(self.max_delay, self.base_delay * math.pow(2, min(retry_number, 1000)))
        floor = 0.0
        if isinstance(failure, TransientError) and failure.status in (429, 503) and failure.retry_after is not None:
            floor = failure.retry_after
            if floor >= ceiling:  # no backoff could be longer: no need to draw one
                return floor
        return max(floor, ceiling * (1.0 - self.rng.random()))  # uniform on (0, ceiling]

    def _send(self, payload, idempotency_key, timeout):
        request = urllib.request.Request(self.url, data=payload, method="POST")
        request.add_header("Idempotency-Key", idempotency_key)
        request.add_header("Accept", "application/json")
        request.add_header("Content-Type", "application/json")
        try:
            with self._OPENER.open(request, timeout=timeout) as response:
                return _Answer(response.status, response.read(), response.headers.get("Retry-After"))
        except urllib.error.HTTPError as error:
            with error:
                try:
                    body = error.read()
                except (OSError, ValueError) as exc:
                    raise ConnectionError(f"answer cut short: {exc!r}") from exc
                return _Answer(error.code, body, error.headers.get("Retry-After") if error.headers else None)
        except urllib.error.URLError as error:
            reason = error.reason
            if isinstance(reason, (TimeoutError, socket.timeout)):
                raise TimeoutError(f"timed out: {reason}") from error
            raise ConnectionError(f"cannot reach the payments service: {reason}") from error
        except (TimeoutError, ConnectionError):
            raise
        except (OSError, http.client.HTTPException) as exc:  # a broken answer
            raise ConnectionError(f"broken answer: {exc!r}") from exc


def _retry_after(header):
    if header is None:
        return None
    text = header.strip()
    if not re.fullmatch(r"\d+(\.\d*)?|\.\d+", text):
        return None
    return float(text)


def _body(raw):
    text = raw.decode("utf-8", errors="replace")
    try:
        return json.loads(text)
    except ValueError:
        return text
