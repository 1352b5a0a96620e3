"""Fault-injection tests for PaymentsClient: one way to answer Part B of the testing assignment.

Every test drives the client over real HTTP on loopback against a
FaultServer whose script says how each request fails, and checks one promise
of the specification (the docstring of course/contracts/payments_client.py)
by what the client does: what the server received, what the client slept,
what it returned or raised, and how long it took.

Two habits keep the tests fast and steady:

* the client's ``sleep`` and ``clock`` are fakes (:class:`FakeTime`):
  sleeping records the wait and moves the fake clock on at once, so backoff
  and Retry-After cost no real time, and deadline tests are exact;
* only socket timeouts take real time, and every test that waits on one
  runs the call in a thread with a bound (:func:`within`) a few times longer
  than the correct client needs, so a client that hangs fails the test
  instead of hanging it.
"""

import random
import threading
import time
import uuid

import pytest

from course.contracts.payments_client import (DeadlineExceeded, PaymentFailed, PaymentRejected, PaymentsClient,
                                              TransientError)
from course.loopback import Delay, Fail, FaultServer, Hang, Reset, Response


def payments(request):
    """The payments service when it works: it echoes the charge as a captured payment."""
    charge = request.json()
    return Response(201, {"id": "pay_1", "status": "captured", **charge})


PAYMENT = {"id": "pay_1", "status": "captured", "order_id": "order-7", "amount_cents": 1250, "currency": "EUR"}


class FakeTime:
    """A clock and a sleep for the client: sleeping records the wait and moves the clock on by it."""

    def __init__(self):
        self.now = 1000.0
        self.sleeps = []

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def make_client(stub, fake, **options):
    options.setdefault("rng", random.Random(11))
    options.setdefault("timeout", 1.0)  # far longer than any answer on loopback takes, unless it hangs
    return PaymentsClient(stub.url, sleep=fake.sleep, clock=fake.clock, **options)


def within(seconds, call):
    """``call()``'s result (or its exception), failing the test if it has not finished after ``seconds``."""
    outcome = {}

    def run():
        try:
            outcome["value"] = call()
        except BaseException as error:  # handed to the test's thread below
            outcome["error"] = error

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        pytest.fail(f"charge() was still running after {seconds} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


# -- a payment that works ------------------------------------------------------------------------


def test_a_charge_posts_the_payment_once_with_an_idempotency_key():
    fake = FakeTime()
    with FaultServer(payments) as stub:
        payment = make_client(stub, fake).charge("order-7", 1250)
    assert payment == PAYMENT
    assert stub.calls == 1 and fake.sleeps == []
    request = stub.requests[0]
    assert (request.method, request.path) == ("POST", "/payments")
    assert request.json() == {"order_id": "order-7", "amount_cents": 1250, "currency": "EUR"}
    assert request.headers["Content-Type"].startswith("application/json")
    assert uuid.UUID(request.headers["Idempotency-Key"]).version == 4  # any spelling of a UUID 4


def test_every_charge_has_its_own_idempotency_key():
    with FaultServer(payments) as stub:
        client = make_client(stub, FakeTime())
        client.charge("order-7", 1250)
        client.charge("order-7", 1250)
        client.charge("order-8", 990, currency="USD")
    keys = stub.headers("Idempotency-Key")
    assert len(set(keys)) == 3 and None not in keys


def test_a_slow_answer_within_the_timeout_is_not_a_failure():
    fake = FakeTime()
    with FaultServer(payments, script=[Delay(0.05)]) as stub:
        payment = within(2.0, lambda: make_client(stub, fake, timeout=1.0).charge("order-7", 1250))
    assert payment == PAYMENT
    assert stub.calls == 1 and fake.sleeps == []


# -- retries -------------------------------------------------------------------------------------


def test_retries_reuse_one_idempotency_key():
    fake = FakeTime()
    with FaultServer(payments, script=[Fail(503), Reset(), Fail(500)]) as stub:
        payment = make_client(stub, fake, max_attempts=4).charge("order-7", 1250)
    assert payment == PAYMENT
    keys = stub.headers("Idempotency-Key")
    assert len(keys) == 4 and len(set(keys)) == 1 and keys[0] is not None
    assert len(fake.sleeps) == 3  # one wait before each retry


@pytest.mark.parametrize("failure", [Fail(500), Fail(502), Fail(503), Fail(504), Fail(429), Reset(), Hang()],
                         ids=["500", "502", "503", "504", "429", "reset", "hang"])
def test_a_retryable_failure_is_retried(failure):
    fake = FakeTime()
    with FaultServer(payments, script=[failure]) as stub:
        client = make_client(stub, fake, timeout=0.3)
        payment = within(2.0, lambda: client.charge("order-7", 1250))
    assert payment == PAYMENT
    assert stub.calls == 2 and len(fake.sleeps) == 1


@pytest.mark.parametrize("status", [400, 401, 404, 409, 422])
def test_a_client_error_is_raised_at_once_and_never_retried(status):
    fake = FakeTime()
    with FaultServer(payments, script=[Fail(status, body={"error": "no"})]) as stub:
        with pytest.raises(PaymentRejected) as raised:
            make_client(stub, fake).charge("order-7", 1250)
    assert raised.value.status == status
    assert raised.value.body == {"error": "no"}
    assert stub.calls == 1 and fake.sleeps == []


@pytest.mark.parametrize("status", [503, 429])
@pytest.mark.parametrize("max_attempts", [1, 3])
def test_it_gives_up_after_max_attempts(status, max_attempts):
    fake = FakeTime()
    with FaultServer(payments, then=Fail(status)) as stub:
        with pytest.raises(PaymentFailed) as raised:
            make_client(stub, fake, max_attempts=max_attempts, base_delay=0.5, max_delay=1.0,
                        deadline=10.0).charge("order-7", 1250)
    assert stub.calls == max_attempts
    assert len(fake.sleeps) == max_attempts - 1  # no wait after the last attempt
    assert isinstance(raised.value.__cause__, TransientError)
    assert raised.value.__cause__.status == status


def test_it_can_succeed_on_the_last_attempt():
    with FaultServer(payments, script=[Fail(503)] * 3) as stub:
        assert make_client(stub, FakeTime(), max_attempts=4).charge("order-7", 1250) == PAYMENT
    assert stub.calls == 4


# -- waiting between attempts --------------------------------------------------------------------


def test_backoff_is_full_jitter_below_a_doubling_ceiling():
    fake = FakeTime()
    base, charges = 0.1, 30
    waits = {0: [], 1: [], 2: []}
    with FaultServer(payments, then=Fail(503)) as stub:
        client = make_client(stub, fake, max_attempts=4, base_delay=base, max_delay=0.3, deadline=1000.0,
                             rng=random.Random(5))
        for _ in range(charges):
            before = len(fake.sleeps)
            with pytest.raises(PaymentFailed):
                client.charge("order-7", 1250)
            for retry, wait in enumerate(fake.sleeps[before:]):
                waits[retry].append(wait)
    ceilings = {0: 0.1, 1: 0.2, 2: 0.3}  # min(max_delay, base_delay * 2**n)
    for retry, drawn in waits.items():
        ceiling = ceilings[retry]
        assert len(drawn) == charges
        assert all(0 <= wait <= ceiling for wait in drawn), (retry, drawn)
        # Uniform on [0, ceiling]: in 30 draws, some land in each half (each miss has chance 2**-30).
        assert min(drawn) < ceiling / 2 < max(drawn), (retry, drawn)
    # The ceiling grows: the third waits are longer on average (0.15 s against 0.05 s in the long run;
    # over 30 draws each the difference is about six standard deviations).
    assert sum(waits[2]) > sum(waits[0])


@pytest.mark.parametrize("status", [503, 429])
def test_retry_after_is_waited_for(status):
    fake = FakeTime()
    with FaultServer(payments, script=[Fail(status, retry_after=2)]) as stub:
        payment = make_client(stub, fake, base_delay=0.01, max_delay=0.1).charge("order-7", 1250)
    assert payment == PAYMENT
    assert len(fake.sleeps) == 1 and fake.sleeps[0] >= 2


# -- the deadline --------------------------------------------------------------------------------


def test_the_deadline_stops_a_wait_that_would_end_after_it():
    fake = FakeTime()
    with FaultServer(payments, script=[Fail(503, retry_after=2), Fail(503, retry_after=2)]) as stub:
        with pytest.raises(DeadlineExceeded) as raised:
            make_client(stub, fake, deadline=3.0, max_attempts=5).charge("order-7", 1250)
    # 0 s: attempt 1 fails; waits 2 s; 2 s: attempt 2 fails; a 2 s wait would end at 4 s > 3 s: stop now.
    assert stub.calls == 2
    assert len(fake.sleeps) == 1
    assert isinstance(raised.value.__cause__, TransientError)


def test_the_deadline_cuts_an_attempt_that_hangs():
    # Real time here: the client's clock is time.monotonic (its sleeps stay fake and are never called).
    with FaultServer(payments, then=Hang()) as stub:
        client = PaymentsClient(stub.url, timeout=5.0, deadline=0.3, sleep=FakeTime().sleep,
                                rng=random.Random(3))
        started = time.monotonic()
        with pytest.raises(DeadlineExceeded) as raised:
            within(2.0, lambda: client.charge("order-7", 1250))
        elapsed = time.monotonic() - started
    assert elapsed < 1.5, f"a 0.3 s deadline took {elapsed:.2f} s"  # about 0.3 s; one full timeout is 5 s
    assert isinstance(raised.value.__cause__, TimeoutError)


def test_each_attempt_times_out():
    fake = FakeTime()
    with FaultServer(payments, script=[Hang(), Hang()]) as stub:
        client = make_client(stub, fake, timeout=0.3, max_attempts=3)
        payment = within(3.0, lambda: client.charge("order-7", 1250))  # two 0.3 s timeouts, then the answer
    assert payment == PAYMENT
    assert stub.calls == 3 and len(fake.sleeps) == 2


# -- arguments -----------------------------------------------------------------------------------


@pytest.mark.parametrize("options", [{"timeout": 0}, {"max_attempts": 0}, {"base_delay": -1}, {"deadline": 0},
                                     {"base_delay": 1.0, "max_delay": 0.5}])
def test_bad_settings_are_refused(options):
    with pytest.raises(ValueError):
        PaymentsClient("http://127.0.0.1:9", **options)


@pytest.mark.parametrize("order_id, amount_cents, currency", [("", 100, "EUR"), ("order-7", 0, "EUR"),
                                                              ("order-7", 100, "euro")])
def test_bad_charges_send_nothing(order_id, amount_cents, currency):
    with FaultServer(payments) as stub:
        with pytest.raises(ValueError):
            make_client(stub, FakeTime()).charge(order_id, amount_cents, currency)
    assert stub.calls == 0
