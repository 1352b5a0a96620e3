"""course.loopback.faults: each fault as a real client sees it, the seeded plans, and a clean shutdown."""

from __future__ import annotations

import http.client
import json
import math
import socket
import threading
import time
import urllib.error
import urllib.request

import pytest

from course.loopback import Delay, Fail, FaultPlan, FaultServer, Hang, Ok, Request, Reset, Response


def get(url: str, timeout: float = 2.0, headers=None):
    request = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return response.status, response.headers, response.read()


def http_error(url: str, timeout: float = 2.0) -> urllib.error.HTTPError:
    with pytest.raises(urllib.error.HTTPError) as failed:
        get(url, timeout)
    failed.value.close()
    return failed.value


@pytest.fixture
def threads_before():
    return set(threading.enumerate())


# -- each fault, seen by a real client -------------------------------------------------------------

def test_fail_sends_the_status_and_an_integer_retry_after():
    date = "Wed, 21 Oct 2015 07:28:00 GMT"
    with FaultServer(script=[Fail(503), Fail(429, retry_after=2), Fail(500, retry_after=date),
                             Fail(502, body={"error": "upstream"})]) as stub:
        first, second, third = http_error(stub.url), http_error(stub.url), http_error(stub.url)
        with pytest.raises(urllib.error.HTTPError) as fourth:
            get(stub.url)
        assert json.loads(fourth.value.read()) == {"error": "upstream"}
        fourth.value.close()
    assert (first.code, first.headers["Retry-After"]) == (503, None)
    assert (second.code, second.headers["Retry-After"]) == (429, "2")
    assert (third.code, third.headers["Retry-After"]) == (500, date)
    assert fourth.value.code == 502


def test_delay_waits_at_least_its_seconds_then_does_its_then():
    with FaultServer(script=[Delay(0.15), Delay(0.1, then=Fail(503))], then=Ok(body="quick")) as stub:
        started = time.monotonic()
        assert get(stub.url)[0] == 200
        first = time.monotonic() - started
        started = time.monotonic()
        assert http_error(stub.url).code == 503
        second = time.monotonic() - started
        assert get(stub.url)[2] == b"quick"
    assert first >= 0.15 and second >= 0.1
    assert stub.applied() == [Delay(0.15), Delay(0.1, then=Fail(503)), Ok(body="quick")]


def test_reset_is_a_connection_reset_with_no_http_answer():
    with FaultServer(script=[Reset(), Reset()]) as stub:
        # urllib does not wrap errors while reading the answer: the reset arrives as itself, not as a URLError.
        with pytest.raises(ConnectionResetError):
            get(stub.url)
        connection = http.client.HTTPConnection(stub.host, stub.port, timeout=2)
        connection.request("POST", "/charges", body=b'{"amount": 1}', headers={"Content-Type": "application/json"})
        with pytest.raises(ConnectionResetError):
            connection.getresponse()
        connection.close()
        assert get(stub.url)[0] == 200  # the server itself is fine
    assert stub.calls == 3 and stub.log[1].request.json() == {"amount": 1}  # the request was read in full first


def test_hang_lets_the_client_timeout_fire_and_ends_at_close(threads_before):
    with FaultServer(script=[Hang()]) as stub:
        started = time.monotonic()
        with pytest.raises(TimeoutError):  # a read timeout: urllib raises socket's TimeoutError as is
            get(stub.url, timeout=0.2)
        waited = time.monotonic() - started
        closing = time.monotonic()
    assert 0.2 <= waited < 2.0
    assert time.monotonic() - closing < 2.0  # the hung request was released, not waited for
    assert set(threading.enumerate()) == threads_before
    assert stub.applied() == [Hang()]


def outcome(call) -> list:
    """A thread running ``call`` and the list it leaves its result or exception type in."""
    result = []

    def run():
        try:
            result.append(call())
        except Exception as error:  # noqa: BLE001 - the test inspects it
            result.append(type(error))

    return threading.Thread(target=run), result


def test_a_hung_request_does_not_stop_others_being_served():
    with FaultServer(script=[Hang()], then=Ok(body="served")) as stub:
        hung, result = outcome(lambda: get(stub.url, timeout=5))
        hung.start()
        while stub.calls == 0:
            time.sleep(0.005)
        assert get(stub.url)[2] == b"served"
        assert hung.is_alive()  # still waiting for its answer
    hung.join()
    assert result == [http.client.RemoteDisconnected]  # released when the server closed, never answered


def test_a_long_delay_in_flight_ends_when_the_server_closes(threads_before):
    stub = FaultServer(script=[Delay(30)])
    client, result = outcome(lambda: get(stub.url, timeout=5))
    client.start()
    while stub.calls == 0:
        time.sleep(0.005)
    started = time.monotonic()
    stub.close()
    client.join()
    assert time.monotonic() - started < 2.0  # not 30
    assert result == [http.client.RemoteDisconnected]  # closed without an answer
    assert set(threading.enumerate()) == threads_before


def test_nothing_outlives_the_block_and_the_port_closes(threads_before):
    with FaultServer(script=[Hang(), Hang(), Delay(10)]) as stub:
        for _ in range(3):
            with pytest.raises(TimeoutError):
                get(stub.url, timeout=0.05)
        assert len(set(threading.enumerate()) - threads_before) >= 4  # the accept loop and three request threads
    assert set(threading.enumerate()) == threads_before
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((stub.host, stub.port), timeout=1).close()


def test_it_binds_loopback_only():
    with FaultServer() as stub:
        assert stub._httpd.socket.getsockname() == ("127.0.0.1", stub.port)
        assert stub.url == f"http://127.0.0.1:{stub.port}"


# -- the stub's answers and records ----------------------------------------------------------------

def test_ok_passes_to_the_app_and_a_canned_ok_answers_instead():
    def app(request: Request) -> Response:
        return Response(201, {"from": "app", "amount": request.json()["amount"]})

    canned = Ok(body={"from": "canned"}, headers={"X-Stub": "yes"})
    with FaultServer(app, script=[Ok(), canned, Fail(503)]) as stub:
        post = lambda: urllib.request.Request(stub.url + "/charges", data=b'{"amount": 7}', method="POST")  # noqa: E731
        with urllib.request.urlopen(post(), timeout=2) as response:
            assert (response.status, json.loads(response.read())) == (201, {"from": "app", "amount": 7})
        with urllib.request.urlopen(post(), timeout=2) as response:
            assert json.loads(response.read()) == {"from": "canned"} and response.headers["X-Stub"] == "yes"
        with pytest.raises(urllib.error.HTTPError) as failed:
            urllib.request.urlopen(post(), timeout=2)
        failed.value.close()
        with urllib.request.urlopen(post(), timeout=2) as response:  # after the script: then=Ok() -> the app
            assert response.status == 201
    assert stub.applied() == [Ok(), canned, Fail(503), Ok()]


def test_without_an_app_ok_is_an_empty_200():
    with FaultServer() as stub:
        status, headers, body = get(stub.url)
    assert (status, body, headers["Content-Length"]) == (200, b"", "0")


def test_the_log_records_each_request_and_its_fault():
    with FaultServer(script=[Fail(503), Delay(0.05)], then=Ok(body="ok")) as stub:
        http_error(stub.url + "/charges")
        get(stub.url + "/charges", headers={"Idempotency-Key": "k1"})
        get(stub.url + "/charges", headers={"idempotency-key": "k1"})
    assert stub.calls == 3 and len(stub.requests) == 3
    assert [entry.index for entry in stub.log] == [0, 1, 2]
    assert [entry.request for entry in stub.log] == stub.requests
    assert stub.applied() == [Fail(503), Delay(0.05), Ok(body="ok")]
    assert stub.headers("Idempotency-Key") == [None, "k1", "k1"]
    gaps = stub.gaps()
    assert len(gaps) == 2 and gaps[1] >= 0.05  # the client waited out the delay before asking again


def test_concurrent_requests_each_get_one_plan_entry():
    script = [Fail(503), Fail(500), Delay(0.05), Ok(body="a"), Fail(429, retry_after=1)] * 4
    with FaultServer(script=script) as stub:
        def call():
            try:
                get(stub.url)
            except urllib.error.HTTPError as error:
                error.close()

        clients = [threading.Thread(target=call) for _ in range(len(script))]
        for client in clients:
            client.start()
        for client in clients:
            client.join()
    assert stub.applied() == script  # every entry used exactly once, in arrival order
    assert [entry.index for entry in stub.log] == list(range(len(script)))


def test_the_served_faults_follow_the_seeded_plan():
    chances = {Fail(503): 0.3, Reset(): 0.2, Delay(0.01): 0.2}
    with FaultServer(faults=chances, seed=11, then=Ok(body="ok")) as stub:
        for _ in range(30):
            try:
                get(stub.url)
            except (urllib.error.HTTPError, ConnectionResetError) as error:
                if isinstance(error, urllib.error.HTTPError):
                    error.close()
    expected = FaultPlan(faults=chances, seed=11, then=Ok(body="ok"))
    assert stub.applied() == [expected.choose(i) for i in range(30)]


# -- plans: reproducible, and the right shares in the long run -------------------------------------

def test_a_plan_is_the_same_for_a_seed_and_differs_for_another():
    chances = [(Fail(503), 0.2), (Reset(), 0.1), (Hang(), 0.05)]
    one, again, other = (FaultPlan(faults=chances, seed=seed) for seed in (1, 1, 2))
    first = [one.choose(i) for i in range(200)]
    assert [again.choose(i) for i in reversed(range(200))][::-1] == first  # any order of asking
    assert [one.choose(i) for i in range(200)] == first  # asking twice
    assert [other.choose(i) for i in range(200)] != first


def test_the_script_comes_first_then_draws_or_then():
    plan = FaultPlan(script=[Hang(), Reset()], then=Fail(500))
    assert [plan.choose(i) for i in range(5)] == [Hang(), Reset(), Fail(500), Fail(500), Fail(500)]
    mixed = FaultPlan(script=[Hang()], faults={Reset(): 1.0})
    assert [mixed.choose(i) for i in range(3)] == [Hang(), Reset(), Reset()]
    assert [FaultPlan(faults={}).choose(i) for i in range(3)] == [Ok()] * 3


def test_long_run_shares_match_the_probabilities():
    # 20,000 draws: each share's standard error is at most 0.0036, so 5 standard errors is under 0.018.
    chances = [(Fail(503), 0.2), (Fail(429, retry_after=1), 0.1), (Reset(), 0.05), (Delay(0.5), 0.15),
               (Ok(body={"unhashable": "dicts are fine as pairs"}), 0.1)]
    n = 20_000
    for seed in (0, 1, 2):
        plan = FaultPlan(faults=chances, then=Hang(), seed=seed)
        drawn = [plan.choose(i) for i in range(n)]
        for fault, p in chances + [(Hang(), 1 - sum(p for _, p in chances))]:
            share = sum(d == fault for d in drawn) / n
            tolerance = 5 * math.sqrt(p * (1 - p) / n)
            assert abs(share - p) <= tolerance, (seed, fault, share, p)


# -- invalid arguments -----------------------------------------------------------------------------

@pytest.mark.parametrize("call,message", [
    (lambda: Delay(-1), "seconds must"),
    (lambda: Delay("1"), "seconds must"),
    (lambda: Delay(math.inf), "seconds must"),
    (lambda: Delay(math.nan), "seconds must"),
    (lambda: Delay(1, then=3), "then must be a fault"),
    (lambda: Fail(200), "status must"),
    (lambda: Fail(503.0), "status must"),
    (lambda: Fail(503, retry_after=-1), "retry_after must"),
    (lambda: Fail(503, retry_after=1.5), "retry_after must"),
    (lambda: Fail(503, retry_after=True), "retry_after must"),
    (lambda: Fail(503, retry_after="1\r\nX-Evil: 1"), "retry_after must"),
    (lambda: Fail(503, body=7), "body must"),
    (lambda: Ok(status=503), "status must"),
    (lambda: Ok(body=7), "body must"),
    (lambda: Ok(headers=3), "headers must"),
    (lambda: Ok(headers={"Content-Length": "3"}), "headers must"),
    (lambda: FaultPlan(script=Fail()), "script must"),
    (lambda: FaultPlan(script=[Fail(), "Reset"]), r"script\[1\] must be a fault"),
    (lambda: FaultPlan(script=5), "script must"),
    (lambda: FaultPlan(then=None), "then must be a fault"),
    (lambda: FaultPlan(faults={Fail(): 0.7, Reset(): 0.4}), "sum to at most 1"),
    (lambda: FaultPlan(faults={Fail(): -0.1}), "probability of Fail"),
    (lambda: FaultPlan(faults={Fail(): "0.1"}), "probability of Fail"),
    (lambda: FaultPlan(faults=[(Fail(),)]), "faults must map"),
    (lambda: FaultPlan(faults={"Fail": 0.1}), r"faults\[0\] must be a fault"),
    (lambda: FaultPlan(faults=3), "faults must map"),
    (lambda: FaultPlan(seed="x"), "seed must"),
    (lambda: FaultPlan(seed=1.5), "seed must"),
    (lambda: FaultPlan().choose(-1), "i must"),
    (lambda: FaultServer(app=3), "app must"),
    (lambda: FaultServer(name=""), "name must"),
    (lambda: FaultServer(script=[Fail()], then="ok"), "then must be a fault"),
])
def test_invalid_arguments_give_clear_errors(call, message, threads_before):
    with pytest.raises(ValueError, match=message):
        call()
    assert set(threading.enumerate()) == threads_before  # a rejected FaultServer starts nothing
