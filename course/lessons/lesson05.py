"""Lesson 05 (sagas and messages): the prediction and the self-check."""

from __future__ import annotations

from course.widgets import Prediction, Question, Quiz, predict, quiz

QUESTION = ("An order runs through three services, each with its own database. Inventory has reserved a widget "
            "and committed; payment has charged the card and committed. Then shipping fails: no courier. There is "
            "no distributed transaction. What is the best the system can do?")
OPTIONS = (
    "Roll back the inventory and payment transactions",
    "Run new transactions that undo what was done: refund the card, then release the widget",
    "Release the widget, then refund the card, in the order the steps ran",
    "Retry shipping until it works: an order, once paid, must ship",
)

QUESTIONS = (
    Question(
        "A saga has four steps, T1 to T4. T1, T2 and T3 commit; T4 fails. Which compensations run, and in what "
        "order?",
        ("C1, C2, C3", "C4, C3, C2, C1", "C3, C2, C1", "C3 only"),
        2,
        "The completed steps are undone last-first: C3, C2, C1 (Garcia-Molina and Salem, 1987). T4 failed as a "
        "local transaction, so its own database already rolled it back; there is nothing to compensate. "
        "Reverse order matters because later steps may depend on earlier ones: you refund the charge before "
        "you release the stock it paid for, just as the timeline dashboard drew it.",
    ),
    Question(
        "A compensation, the refund, fails. Then it fails again on every retry. What should the saga do?",
        ("Skip it and compensate the other steps, so most of the saga is undone and the order closes",
         "Give up compensating and run the forward steps again, so the order completes after all",
         "Retry it forever, as fast as possible, until the payment provider accepts the refund",
         "Retry for a while, then mark the saga stuck and alert a person: it can't finish on its own"),
        3,
        "A compensation must eventually succeed, so it is retried (it must be idempotent for that). If it "
        "still fails, the saga is neither completed nor compensated: the customer has been charged for an "
        "order that won't ship. That is an operational incident with a runbook, not something code can hide. "
        "Skipping the step would report 'compensated' while the money is still gone.",
    ),
    Question(
        "The broker delivers each message at least once. How does the consumer that applies payments make "
        "sure each payment is applied exactly once?",
        ("Store the message id in the same local transaction as the balance change, and skip ids it has seen",
         "Turn on the broker's exactly-once delivery setting, so that each message reaches the consumer only once",
         "Acknowledge each message before applying it, so the broker has no reason to deliver it again",
         "Check a shared cache of seen ids first, apply the payment, and then add the message id to the cache"),
        0,
        "The id and the effect must commit together. Acknowledging first turns at-least-once into at-most-once "
        "(a crash loses the payment). A separate cache has the same gap as a dual write: crash between the work "
        "and the cache update, and the redelivery is applied again. Kafka's exactly-once is exactly this trick, "
        "inside Kafka: idempotent producers plus transactions that commit the output and the consumer offset "
        "together.",
    ),
    Question(
        "With the transactional outbox, why can the consumer still see the same event twice?",
        ("It can't: the outbox row is written in the same transaction as the business row",
         "The relay can crash after publishing a row and before marking it sent, so it publishes it again",
         "Each replica of the database holds a copy of the outbox row, and each copy gets relayed",
         "The business transaction can roll back after the relay has already published its row"),
        1,
        "The outbox closes the gap between 'row written' and 'event exists': both commit or neither does. The "
        "relay then has its own gap, between publish and mark-sent, and a crash there means the row goes out "
        "again. So the outbox turns 'sometimes never' into 'at least once', and the consumer has to be "
        "idempotent. In the outbox dashboard a relay that dies after 20% of its publishes sends about 125 events "
        "for 100 orders.",
    ),
    Question(
        "Two orders want the last widget. Order A's saga reserves it; order B finds the stock at zero and is "
        "refused; then A's payment fails and A releases the widget. What went wrong, in transaction terms?",
        ("Nothing went wrong: B asked after A had reserved the widget, so B was simply too late to get it",
         "A lost update: A's release and B's stock check raced on the stock row, and one of the two writes was lost",
         "Missing isolation: B saw A's intermediate state before A's saga was decided (a dirty read)",
         "A deadlock: A held the widget while it waited for payment, and B was stuck behind it"),
        2,
        "Each saga step commits locally, so the others see its effects before the saga is decided. That is "
        "the missing I in ACID. Countermeasures: a <i>semantic lock</i> (mark the widget 'reserved, pending' "
        "so others can wait or decide), <i>commutative updates</i>, and ordering the steps so the ones most "
        "likely to fail come before the <i>pivot</i> step. In the outcomes dashboard, with limited stock, about "
        "half of some 40 out-of-stock refusals happen while a widget sits in a saga that later gives it back.",
    ),
    Question(
        "An order's status updates 'placed', 'paid', 'shipped' are sent a millisecond apart and can arrive in "
        "any order. What should the consumer keep?",
        ("Whatever arrived last, since the latest message to arrive carries the latest state",
         "The update with the highest version number it has seen for that order",
         "Whatever arrived first, and drop the later ones as duplicates of the same order",
         "All three, stored as they came, and let the UI work out which one is current"),
        1,
        "Arrival order is not send order. Stamp each update with a version (or a sequence number per order) "
        "and keep a newer one only. In the delivery dashboard, last-arrival-wins leaves about 34 of 50 orders with the "
        "wrong final status; keeping the newest version leaves none.",
    ),
)


def prediction() -> Prediction:
    """The "Predict first" widget for lesson 05."""
    return predict(QUESTION, OPTIONS)


def self_check() -> Quiz:
    """The self-check for lesson 05."""
    return quiz(QUESTIONS)
