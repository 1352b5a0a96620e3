"""An answer to Part B that insists on implementation details the specification does not promise.

It tests most of the specification well, but two of its tests pin down
what the given client happens to do: the idempotency key's spelling (36
characters with dashes: the specification says only "a random UUID 4") and
the exact waits a seeded ``random.Random`` gives through ``rng.uniform``
(the specification says the waits are uniform on [0, ceiling], not which
method draws them). A correct client that writes its key as 32 hex digits,
or draws its jitter another way, fails them, so the suite rejects a wheat
and scores 0 however many chaffs it would catch.
"""

import random

import pytest

from course.contracts.payments_client import PaymentFailed, PaymentRejected, PaymentsClient
from course.loopback import Fail, FaultServer, Reset, Response


def payments(request):
    return Response(201, {"id": "pay_1", "status": "captured", **request.json()})


class Sleeps(list):
    def __call__(self, seconds):
        self.append(seconds)


def test_the_idempotency_key_is_a_dashed_uuid():
    with FaultServer(payments) as stub:
        PaymentsClient(stub.url).charge("order-7", 1250)
    key = stub.headers("Idempotency-Key")[0]
    assert len(key) == 36 and key.count("-") == 4  # too strict: any spelling of a UUID 4 is correct


def test_the_waits_are_exactly_the_seeded_draws():
    sleeps = Sleeps()
    with FaultServer(payments, script=[Fail(503), Fail(503)]) as stub:
        PaymentsClient(stub.url, sleep=sleeps, rng=random.Random(42), base_delay=0.1).charge("order-7", 1250)
    expected = random.Random(42)
    # Too strict: this is how the given client draws, not what the specification promises.
    assert sleeps == [expected.uniform(0, 0.1), expected.uniform(0, 0.2)]


def test_retries_keep_the_key():
    with FaultServer(payments, script=[Fail(503), Reset()]) as stub:
        PaymentsClient(stub.url, sleep=Sleeps()).charge("order-7", 1250)
    assert len(set(stub.headers("Idempotency-Key"))) == 1 and stub.calls == 3


def test_a_400_is_not_retried():
    with FaultServer(payments, script=[Fail(400)]) as stub:
        with pytest.raises(PaymentRejected):
            PaymentsClient(stub.url, sleep=Sleeps()).charge("order-7", 1250)
    assert stub.calls == 1


def test_gives_up_after_max_attempts():
    with FaultServer(payments, then=Fail(503)) as stub:
        with pytest.raises(PaymentFailed):
            PaymentsClient(stub.url, sleep=Sleeps(), max_attempts=3).charge("order-7", 1250)
    assert stub.calls == 3
