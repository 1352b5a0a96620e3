"""The payments providers that grade the testing assignment's Part A (consumer contract tests).

The learner's pact (consumer ``orders``, provider ``payments``) is verified
with pact's ``Verifier`` against each provider below, each in a process of
its own. *Wheats* are correct and differ only in what
:class:`course.contracts.orders.PaymentsGateway` never reads; *chaffs* each
break one thing it relies on. Every module defines ``make_provider()``,
which returns an object with

* ``app(request) -> Response``, to serve with :func:`course.loopback.serve`;
* ``set_state(state, action="setup", parameters=None)``, pact's provider
  state handler. Its parameter names are the ones pact-python's
  ``Verifier.state_handler(function, teardown=True)`` passes by keyword
  (``state``, ``action``, ``parameters``). ``action`` is ``"setup"`` or
  ``"teardown"``; a teardown empties the store. Pact also calls it with the
  empty state ``""`` around an interaction that has no state: that needs
  nothing.
* ``problems``: a list of sentences. ``set_state`` never raises for what a
  pact asks (pact's verifier answers a failing state change by retrying it,
  with a backoff that doubles from 1 s, for about two minutes); an unknown
  state, or a parameter ``"payment p-1 exists"`` does not take, is noted
  there instead and otherwise ignored, so the interaction runs and fails on
  its own terms. The other states ignore parameters.

The provider states every provider supports (the assignment quotes them):

``"payment p-1 exists"``
    The store holds payment ``p-1`` for order ``o-1``: 1250 EUR, status
    ``"captured"``, created ``2026-11-30T12:00:00Z``. Optional parameters
    ``id``, ``order_id``, ``amount_cents``, ``currency`` and ``status``
    override those fields.
``"no payment p-404"``
    There is no payment ``p-404``: ``GET /payments/p-404`` answers 404.
``"order o-7 can be charged"``
    ``POST /payments`` for order ``o-7`` (any order, in fact) with a JSON body
    ``{"order_id", "amount_cents", "currency"}`` and an ``Idempotency-Key``
    header creates a payment and answers 201 with it. Without the header, or
    with a body that is not such an object, every provider answers 400.

The names and the payment match lesson 06's provider
(:mod:`course.contracts.payments`). No provider's clock is real: the
timestamps they send are fixed, so every verification gives the same result.
"""

from __future__ import annotations

from pathlib import Path

#: The pact's participants, as the learner's ``Pact(consumer, provider)`` must name them.
CONSUMER = "orders"
PROVIDER = "payments"

#: The provider states every provider supports (see the module docstring).
STATES = ("payment p-1 exists", "no payment p-404", "order o-7 can be charged")

HERE = Path(__file__).resolve().parent

#: (file name in this folder, "wheat" or "chaff", what feedback may say about it). For a wheat, how it differs
#: from the others; for a chaff, its bug class. Feedback never shows an implementation's code or file name.
CATALOG: list[tuple[str, str, str]] = [
    ("wheat_plain.py", "wheat",
     "sends the five fields the consumer reads and two it does not (order_id, updated_at)"),
    ("wheat_extras.py", "wheat",
     "sends more fields, in another order, an unread field (updated_at) in epoch seconds, extra headers, "
     "a charset in its Content-Type, and other ids and statuses for new payments"),
    ("chaff_renamed_field.py", "chaff", "renames a field the consumer reads"),
    ("chaff_amount_in_euros.py", "chaff", "sends an amount in cents as a decimal number of euros"),
    ("chaff_charge_200.py", "chaff", "answers a new charge with 200 instead of 201"),
    ("chaff_missing_410.py", "chaff", "answers a missing payment with 410 instead of 404"),
    ("chaff_missing_null.py", "chaff", "answers a missing payment with 200 and a null body"),
    ("chaff_api_version.py", "chaff", "requires a request header the consumer does not send"),
    ("chaff_date_format.py", "chaff", "sends a timestamp that is not ISO 8601"),
]


def implementations() -> list[tuple[Path, bool, str]]:
    """Every entry as ``(path, is a wheat, description)``."""
    return [(HERE / name, kind == "wheat", description) for name, kind, description in CATALOG]
