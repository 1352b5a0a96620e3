"""Lesson 04 (data consistency): the prediction and the self-check."""

from __future__ import annotations

from course.widgets import Prediction, Question, Quiz, predict, quiz

QUESTION = ("A user saves a new delivery address. The page reloads and reads it back 50 ms later, from a read "
            "replica. Replication lag varies from write to write; on average it is 100 ms (exponentially "
            "distributed). How often does the user see their <i>old</i> address?")
OPTIONS = (
    "Almost never: 50 ms is plenty for a replica to catch up",
    "About 1 time in 10",
    "About 6 times in 10",
    "Every time: a replica is always behind",
)

QUESTIONS = (
    Question(
        "The order service commits the order row, then publishes <code>order.created</code> to the broker. "
        "About once in 1,000 orders the process dies between the two (a deploy, an OOM kill, a lost node). "
        "It handles 50,000 orders a day. What happens?",
        ("Nothing: the broker client retries the publish once the process is back",
         "About 50 events a day for orders that were never saved",
         "The database rolls the order back, because the publish failed",
         "About 50 orders a day that the warehouse never hears about"),
        3,
        "50,000 / 1,000 = 50 rows a day with no event. The client's retries died with the process, and the "
        "database committed long before the publish was attempted. Publish first and you get the mirror "
        "image: events about orders that don't exist. The anomaly rate <i>is</i> the crash rate.",
    ),
    Question(
        "With a transactional outbox, the relay publishes an event and crashes before it marks the outbox row "
        "as sent. What does the consumer see?",
        ("The same event twice: after restarting, the relay publishes the still-pending row again",
         "Nothing: the publish died with the relay, so that event is lost for good",
         "An event for an order that doesn't exist, because the crash rolled the order back",
         "Nothing until an operator finds the pending row and replays the outbox by hand"),
        0,
        "The row is still pending, so the next round publishes it again, with the same message id. The outbox "
        "turns <i>lost</i> into <i>duplicated</i>, which is the trade you want, as long as the consumer records "
        "the ids it has processed and skips repeats (lesson 05).",
    ),
    Question(
        "Replication lag is exponential with a mean of 100 ms. How long after a write must a replica read wait "
        "for it to be stale less than 1% of the time?",
        ("About 100 ms", "About 200 ms", "About 460 ms", "No wait is long enough"),
        2,
        "P(stale) = exp(−Δ/L) = 0.01 gives Δ = L · ln 100 ≈ 4.6 L, about 460 ms. At Δ = L a read is still stale "
        "37% of the time. Averages are a poor guide to tails.",
    ),
    Question(
        "You pin each user's session to one read replica (sticky routing). Which session guarantee does that "
        "give the user?",
        ("Read-your-writes", "Monotonic reads", "Both guarantees", "Neither guarantee"),
        1,
        "One replica applies writes in order and never goes back in time, so reads are monotonic. But your "
        "writes go to the primary, and your replica may not have yours yet. In the simulation, sticky routing "
        "had 0 monotonic-read violations and about 225 read-your-writes violations in 600 reads. For read-your-writes, "
        "route by the version (or LSN, or session token) of your last write.",
    ),
    Question(
        "Two clients read <code>stock = 10</code>, each sells one item and writes <code>stock = 9</code>. Both "
        "were told it worked. Which fix makes this impossible without holding a lock while the user thinks?",
        ("Write only if the version is still the one you read (compare-and-set); if not, re-read and retry",
         "Read from the primary instead of a replica, so both clients start from the latest stock",
         "Retry failed writes with exponential backoff and jitter, so the two writes stop colliding",
         "Make the write idempotent with a request id, so the same sale can't be applied twice"),
        0,
        "Both clients read the primary and both writes succeeded; the second simply overwrote the first. A "
        "version check (<code>UPDATE … WHERE id = ? AND version = ?</code>, an HTTP <code>If-Match</code> ETag, "
        "a DynamoDB condition expression) makes the second write fail, and the retry re-reads 9. In the "
        "simulation 10 clients lost 115 of 200 increments without it and none with it.",
    ),
    Question(
        "In two-phase commit, participant 2 voted yes, and then the coordinator crashed before telling anyone "
        "the decision. Participant 2 has waited a minute. What may it do on its own?",
        ("Commit: it voted yes, so the decision was most likely commit as well",
         "Abort: undoing its own work can never break anyone else's data",
         "Abort after a timeout and release its locks, like any other transaction",
         "Nothing: keep its locks and wait until it learns the decision"),
        3,
        "Having voted yes, it promised to commit if told to; the coordinator may already have decided commit and "
        "told another participant. Aborting could break atomicity, and so could committing. So it waits, locks "
        "held, for as long as the coordinator is down. That is what <i>blocking</i> means.",
    ),
    Question(
        "Orders and inventory are separate services, but they share one database and read each other's tables. "
        "What is the strongest argument against that?",
        ("Two services can't share one connection pool, so each needs its own database server",
         "A schema change by one team can break the other, so they must change and deploy together",
         "Joins across the two services' tables are slow, and they get slower and slower as the data grows",
         "The database can't enforce foreign keys between tables that different services own"),
        1,
        "The tables are the interface, and nobody versioned it. Every migration needs both teams, a slow query "
        "in one service takes locks and connections from the other, and one database outage takes both down. "
        "That is a distributed monolith: the costs of a distributed system with the coupling of a monolith.",
    ),
)


def prediction() -> Prediction:
    """The "Predict first" widget for lesson 04."""
    return predict(QUESTION, OPTIONS)


def self_check() -> Quiz:
    """The self-check for lesson 04."""
    return quiz(QUESTIONS)
