"""Lesson 09 (mock interview): the prediction and the self-check.

The numbers in them are the checkout model's long-run values
(:mod:`course.models.checkout`), checked by ``tests/lessons/test_lesson09_claims.py``.
"""

from __future__ import annotations

from course.widgets import Prediction, Question, Quiz, predict, quiz

QUESTION = ("A candidate's first draft: orders calls inventory, then payments, synchronously, with no timeouts; "
            "the order's event is a second write after the order. The payment provider then gets ten times "
            "slower for ten minutes. Over the 17 minutes of traffic, what share of checkouts succeed?")
OPTIONS = (
    "About 95%: checkout is only slower while payments is slow",
    "About 40%: the ten slow minutes fail, the minutes around them work",
    "About 20%: it fails for longer than payments was slow",
    "None: once the threads fill up, checkout never comes back",
)

QUESTIONS = (
    Question(
        "Your design charges the card with a 2 s timeout, two retries and no idempotency keys, and takes the "
        "order anyway when the charge fails (\"charge later\"). Payments slows down for ten minutes. What goes "
        "wrong?",
        ("A charge that timed out still lands, and the later charge or a retry takes the money again",
         "Nothing: the fallback answers the shopper in time, so every checkout succeeds and is paid once",
         "The breaker it lacks lets the retries pile up until payments stops answering altogether",
         "Orders get stuck, because a fallback leaves no record of the charge that is still owed"),
        0,
        "The provider does the work of a call the client gave up on. Without a key it cannot tell the retry or "
        "the later charge from a new payment: about a quarter of the orders in the simulation were charged "
        "twice. With the order id as the key, every repeat is recognised.",
    ),
    Question(
        "Inventory hangs (accepts calls, never answers) for five minutes. The first draft has no timeout on "
        "that call. When does checkout recover?",
        ("When inventory comes back, as calls then start returning again",
         "A minute later, once the queue of waiting checkouts has drained",
         "Never on its own: the hung calls hold every orders thread for good",
         "After the TCP handshake times out, which takes about 30 seconds"),
        2,
        "A hung call with no timeout never returns, so each one keeps an orders thread. Eight of them and "
        "orders stops serving anyone, long after inventory is fine again; only a restart frees the threads. "
        "In the simulation 87% of checkouts never got an answer.",
    ),
    Question(
        "The order row is written, then the \"order confirmed\" event is published as a second write. The "
        "service crashes between the two for one order in twenty. What does the outbox change?",
        ("It stops the crash, because the row and the event become one network call to the broker",
         "It makes the event exactly-once, so consumers no longer need to be idempotent",
         "It removes the need for a relay, because the database itself forwards the event",
         "The event is committed with the row, so a relay publishes it after the restart"),
        3,
        "With the dual write about 5% of orders (the crash probability) were paid and never shipped. In the "
        "outbox they are not lost, but the relay may publish an event twice, so consumers still need to be "
        "idempotent.",
    ),
    Question(
        "The strong design (every step a message, keys, outbox) passes all five scenarios. What did it give up?",
        ("Nothing: messages are faster than calls, so the shopper waits less and gets more certainty",
         "Certainty at the click: the shopper hears \"order received\", and payment may take minutes",
         "Consistency: without a two-phase commit, money and stock can disagree for good",
         "Throughput: a broker handles fewer orders per second than a synchronous call does"),
        1,
        "Under slow payments its orders were all taken, but the 99th percentile from click to shipping was "
        "about seven minutes. The page has to say \"received\", and the email says \"confirmed\". Whether that "
        "is acceptable is a product question to ask the interviewer.",
    ),
)


def prediction() -> Prediction:
    """The "Predict first" widget for lesson 09."""
    return predict(QUESTION, OPTIONS)


def self_check() -> Quiz:
    """The self-check for lesson 09."""
    return quiz(QUESTIONS)
