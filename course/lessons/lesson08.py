"""Lesson 08 (the follow-up round): a prediction per follow-up, and the self-check.

Every number in them is a long-run value of the section's model, checked by
``tests/lessons/test_lesson08_*_claims.py``.
"""

from __future__ import annotations

from course.widgets import Prediction, Question, Quiz, predict, quiz

#: One "Predict first" per follow-up: (question, options, what to look for once locked in).
PREDICTIONS = {
    "rate_limit": (
        "A service can answer 10 requests a second and normally gets 5. For one minute traffic jumps to 10× "
        "normal, 50 a second, and the service queues everything it cannot answer yet. Once the minute is over, "
        "how long until its queue is empty?",
        ("A few seconds: with traffic back to normal it catches up at once",
         "About a minute: it catches up as fast as it fell behind",
         "About eight minutes",
         "Never: a queue that long cannot drain"),
        "Watch the queue panel: how fast it grows during the burst, and how fast it falls afterwards.",
    ),
    "cache": (
        "One hot key, 1,000 requests a second, a 200 ms database query behind it. The key expires. With a plain "
        "cache-aside read (miss → query the database → write the cache), how many database calls does that one "
        "expiry cost?",
        ("One: the first miss refills the cache",
         "About 200: every request in the 200 ms before the refill misses too",
         "About 1,000: a whole second of traffic",
         "None: the cache serves the old value until the new one arrives"),
        "Each dot on the left is one expiry; read its height.",
    ),
    "quorum": (
        "Three replicas. A write returns once one replica has applied it (W = 1), and a read asks one random "
        "replica (R = 1). A read starts the instant the write returns. How often does it get the old value?",
        ("Almost never: the replica that acknowledged is right there",
         "About 1 time in 3",
         "About 2 times in 3",
         "Every time, until all three replicas have it"),
        "Read the curve at time 0, then follow it to the right.",
    ),
    "event_log": (
        "A projection reads a log of four partitions. One event on partition 0 makes its handler throw, every "
        "time, and there is no dead-letter queue. What does the read model look like a minute later?",
        ("Fine: the consumer gives up on the bad event after a timeout and moves on",
         "Partition 0 is stuck: about 600 events and 60 s behind, and growing; the other three are fine",
         "All four partitions stop, because the whole consumer group waits for the bad event",
         "Fine: the broker drops a message after three failed deliveries"),
        "Tick the poison message with no dead-letter queue, and watch the right panel.",
    ),
    "load_balancing": (
        "Twenty replicas sit behind a proxy doing round robin. Replica 7 turns ten times slower; the proxy times a "
        "request out after 500 ms. What share of the traffic does replica 7 get, and what happens to the p99?",
        ("About 0.5%: it is ten times slower, so it gets ten times less",
         "5%, as before, and the p99 becomes the 500 ms timeout",
         "None: the health check takes it out of rotation",
         "5%, but the p99 barely moves, because 19 replicas are fine"),
        "Replica 7 is the red bar; the right panel is the p99, second by second.",
    ),
}

QUESTIONS = (
    Question(
        "A token bucket refills at r = 8 requests a second and holds b = 10. A client sends 50 a second for a "
        "minute. At most how many get in during that minute?",
        ("480: the bucket's rate times sixty seconds, and nothing more",
         "490: the refill r·t plus the full bucket b",
         "3,000: a rate limit only shapes when requests run, not how many",
         "10: the bucket's size is all it ever lets through in a burst"),
        1,
        "A token bucket admits at most r·t + b in any window of t seconds: 8 × 60 + 10 = 490. The rest get a "
        "429, each with a Retry-After of at most 1/r = 125 ms, so a client that obeys it comes straight back.",
    ),
    Question(
        "You add request coalescing (single flight) to the cache of a hot key. What does it fix, and what not?",
        ("Both: every user now gets a cached answer at once, even just after the expiry",
         "Neither: coalescing only helps when the database itself is slow",
         "The users' wait, but the database still sees a call from every request that misses",
         "One database call per expiry, but users arriving during the refill still wait"),
        3,
        "With coalescing the stampede of about 200 calls becomes exactly one, and the p99 only halves (about "
        "100 ms), because the 200 users behind the one query still wait for it. Early expiration (XFetch) or "
        "stale-while-revalidate serve the old value meanwhile; together with coalescing: one call and a 1 ms p99.",
    ),
    Question(
        "N = 3 replicas, W = 2, R = 2. Is a read after an acknowledged write linearizable?",
        ("Yes: R + W > N is the definition of a linearizable quorum system",
         "No: with only two replicas read, a read can always miss the write entirely",
         "Not by itself: the sets overlap, but sloppy quorums and concurrent writes can still break it",
         "Only if every read asks all three replicas and takes the majority answer"),
        2,
        "R + W = 4 > 3 means every read set meets every write set, so the stale-read probability is zero in "
        "the simulation. Linearizability needs more: strict quorums, an order for concurrent writes, and read "
        "repair (or a consensus path such as Cassandra's lightweight transactions).",
    ),
    Question(
        "A projection applies 60 events a second. Events arrive at 40 a second, then at 100 a second for a "
        "minute. About how far behind is it when the burst ends?",
        ("About 2,400: it falls 40 behind each second",
         "About 6,000 events: everything that arrived during the burst is still unread",
         "None: a projection reads the log at whatever rate the log grows",
         "About 1,200 events: half the excess, since the partitions share it"),
        0,
        "The lag grows at the difference between the arrival and the apply rate, 40 events a second, so 2,400 "
        "after the minute, and drains at 60 − 40 = 20 a second: two minutes more. A user who wrote at the peak "
        "waits about 2,400 / 60 = 40 s to see it.",
    ),
    Question(
        "Your liveness probe checks that the database answers. The database has a 30 s blip. What happens?",
        ("Nothing: liveness probes only matter when the pod is starting",
         "The pods are taken out of rotation until the database is back, and then return",
         "Every pod fails liveness and restarts: a blip becomes a fleet-wide outage",
         "Only the pods that happened to call the database during the blip restart"),
        2,
        "A failing liveness probe restarts the container; a failing readiness probe only takes it out of the "
        "Service's endpoints. Probe a dependency from liveness and a dependency's blip restarts every replica at "
        "once. Liveness checks the process itself; readiness may check what the pod needs to serve.",
    ),
)


def prediction(follow_up: str) -> Prediction:
    """The "Predict first" widget for one follow-up (a key of :data:`PREDICTIONS`)."""
    if follow_up not in PREDICTIONS:
        raise ValueError(f"follow_up must be one of {', '.join(map(repr, PREDICTIONS))}, got {follow_up!r}")
    question, options, reveal = PREDICTIONS[follow_up]
    return predict(question, options, reveal)


def self_check() -> Quiz:
    """The self-check for lesson 08."""
    return quiz(QUESTIONS)
