"""course.loopback.server: a real HTTP server on loopback, observed by real clients (urllib, http.client)."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
import urllib.error
import urllib.request

import pytest

from course.loopback import Headers, Request, Response, RunningServer, serve


def echo(request: Request) -> Response:
    return Response(200, {"method": request.method, "path": request.path, "query": request.query,
                          "key": request.headers.get("idempotency-key"), "json": request.json(),
                          "body": request.body.decode()})


def get(url: str, timeout: float = 2.0):
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.status, response.headers, response.read()


@pytest.fixture
def threads_before():
    return set(threading.enumerate())


def test_a_request_reaches_the_app_and_the_answer_reaches_the_client():
    with serve(echo, name="payments") as server:
        request = urllib.request.Request(server.url + "/charges?x=1&x=2&empty=", method="POST",
                                         data=json.dumps({"amount": 5}).encode(),
                                         headers={"Idempotency-Key": "k-1", "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=2) as response:
            assert response.status == 200
            assert response.headers["Content-Type"] == "application/json"
            answer = json.loads(response.read())
    assert answer == {"method": "POST", "path": "/charges", "query": {"x": ["1", "2"], "empty": [""]},
                      "key": "k-1", "json": {"amount": 5}, "body": '{"amount": 5}'}
    [seen] = server.requests
    assert seen.headers["IDEMPOTENCY-KEY"] == seen.headers["idempotency-key"] == "k-1"
    assert seen.json() == {"amount": 5} and seen.body == b'{"amount": 5}'
    assert seen.received_at <= time.monotonic()


def test_requests_are_recorded_in_order_and_an_empty_body_is_json_none():
    with serve(echo) as server:
        for path in ("/a", "/b", "/c"):
            get(server.url + path)
    assert [r.path for r in server.requests] == ["/a", "/b", "/c"]
    assert all(r.method == "GET" and r.body == b"" and r.json() is None for r in server.requests)
    times = [r.received_at for r in server.requests]
    assert times == sorted(times)


@pytest.mark.parametrize("body,content_type,sent", [
    ({"id": "p1"}, "application/json", b'{"id": "p1"}'),
    ([1, 2], "application/json", b"[1, 2]"),
    ("caf\u00e9", "text/plain; charset=utf-8", "caf\u00e9".encode()),
    (b"\x00raw", None, b"\x00raw"),
    (None, None, b""),
])
def test_bodies_are_encoded_by_type_with_content_length(body, content_type, sent):
    with serve(lambda request: Response(201, body)) as server:
        status, headers, data = get(server.url)
    assert status == 201 and data == sent
    assert headers["Content-Type"] == content_type
    assert headers["Content-Length"] == str(len(sent))


def test_headers_given_override_the_default_content_type():
    def app(request):
        return Response(200, {"a": 1}, {"Content-Type": "application/problem+json", "X-Trace": "t1"})

    with serve(app) as server:
        _, headers, _ = get(server.url)
    assert headers["Content-Type"] == "application/problem+json" and headers["X-Trace"] == "t1"


def test_a_kept_alive_connection_serves_several_requests():
    with serve(echo) as server:
        connection = http.client.HTTPConnection(server.host, server.port, timeout=2)
        sockets = []
        for i in range(3):
            connection.request("GET", f"/n{i}")
            response = connection.getresponse()
            assert response.status == 200 and not response.will_close
            assert json.loads(response.read())["path"] == f"/n{i}"
            sockets.append(connection.sock)
        connection.close()
    assert sockets[0] is sockets[1] is sockets[2]  # one TCP connection reused


def test_head_gets_headers_and_no_body_and_a_chunked_request_body_is_read():
    with serve(echo) as server:
        connection = http.client.HTTPConnection(server.host, server.port, timeout=2)
        connection.request("HEAD", "/h")
        response = connection.getresponse()
        assert response.status == 200 and response.read() == b"" and int(response.headers["Content-Length"]) > 0
        connection.request("POST", "/c", body=iter([b'{"a"', b": 1}"]), encode_chunked=True,
                           headers={"Transfer-Encoding": "chunked"})
        response = connection.getresponse()
        assert json.loads(response.read())["json"] == {"a": 1}
        connection.close()


def test_an_app_exception_is_a_500_and_the_server_keeps_serving(capfd):
    def app(request):
        if request.path == "/boom":
            raise KeyError("missing")
        if request.path == "/wrong":
            return {"not": "a Response"}
        return Response(200, "fine")

    with serve(app) as server:
        with pytest.raises(urllib.error.HTTPError) as failed:
            get(server.url + "/boom")
        assert failed.value.code == 500 and failed.value.read() == b"KeyError: 'missing'"
        failed.value.close()
        with pytest.raises(urllib.error.HTTPError) as failed:
            get(server.url + "/wrong")
        assert failed.value.code == 500 and b"not a Response" in failed.value.read()
        failed.value.close()
        assert get(server.url + "/ok")[2] == b"fine"
    assert [type(e) for e in server.errors] == [KeyError, TypeError]
    out, err = capfd.readouterr()
    assert out == "" and err == ""  # quiet: no request log, no traceback


def test_concurrent_requests_are_all_served_and_recorded():
    guard, inside, peak = threading.Lock(), [0], [0]

    def slow(request):
        with guard:
            inside[0] += 1
            peak[0] = max(peak[0], inside[0])
        time.sleep(0.05)
        with guard:
            inside[0] -= 1
        return Response(200, request.path)

    results = []
    with serve(slow) as server:
        clients = [threading.Thread(target=lambda i=i: results.append(get(server.url + f"/{i}")[2]))
                   for i in range(20)]
        for client in clients:
            client.start()
        for client in clients:
            client.join()
    assert sorted(results) == sorted(f"/{i}".encode() for i in range(20))
    assert len(server.requests) == 20
    assert peak[0] > 1  # served in parallel, not one after another


def test_nothing_outlives_the_block(threads_before):
    with serve(echo) as server:
        get(server.url)
        idle = http.client.HTTPConnection(server.host, server.port, timeout=2)  # kept open across the exit
        idle.request("GET", "/idle")
        idle.getresponse().read()
        assert set(threading.enumerate()) - threads_before  # the server's threads are running
        started = time.monotonic()
    assert time.monotonic() - started < 2.0  # the idle keep-alive connection did not hold it up
    assert set(threading.enumerate()) == threads_before
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((server.host, server.port), timeout=1).close()
    idle.close()


def test_a_request_in_flight_at_close_is_answered(threads_before):
    entered = threading.Event()

    def slow(request):
        entered.set()
        time.sleep(0.2)
        return Response(200, "done")

    server = serve(slow)
    answers = []
    client = threading.Thread(target=lambda: answers.append(get(server.url)[2]))
    client.start()
    assert entered.wait(2)
    server.close()
    client.join()
    assert answers == [b"done"]
    assert set(threading.enumerate()) == threads_before


def test_close_is_idempotent_and_works_without_with(threads_before):
    server = serve(echo)
    assert isinstance(server, RunningServer) and not server.closing
    assert get(server.url)[0] == 200
    server.close()
    server.close()
    assert server.closing and "closed" in repr(server)
    with server:  # leaving a with block after close is harmless too
        pass
    assert set(threading.enumerate()) == threads_before


def test_an_app_that_never_returns_is_reported_at_close():
    release = threading.Event()
    entered = threading.Event()

    def stuck(request):
        entered.set()
        release.wait(5)
        return Response(200)

    server = serve(stuck, name="stuck")
    client = threading.Thread(target=lambda: urllib.request.urlopen(server.url, timeout=2).close())
    client.start()
    assert entered.wait(2)
    with pytest.warns(RuntimeWarning, match="'stuck': 1 request thread"):
        server.close(timeout=0.05)
    release.set()
    client.join()


def test_it_binds_loopback_only_on_a_free_port():
    with serve(echo) as one, serve(echo) as two:
        assert one.host == "127.0.0.1" and one.url == f"http://127.0.0.1:{one.port}"
        assert one._httpd.socket.getsockname()[0] == "127.0.0.1"
        assert one.port != two.port and one.port > 0


def test_a_malformed_request_gets_a_400_and_never_reaches_the_app():
    with serve(echo) as server:
        with socket.create_connection((server.host, server.port), timeout=2) as raw:
            raw.sendall(b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: -3\r\n\r\n")
            assert raw.recv(100).startswith(b"HTTP/1.1 400 ")
        assert get(server.url)[0] == 200
    assert [r.path for r in server.requests] == ["/"]


def test_headers_are_case_insensitive_and_keep_repeats():
    headers = Headers([("Accept", "a"), ("X-Tag", "1"), ("x-tag", "2")])
    assert headers["accept"] == "a" and headers["X-TAG"] == "1" and "x-Tag" in headers and 3 not in headers
    assert headers.get_all("X-Tag") == ["1", "2"] and headers.get_all("nope") == []
    assert list(headers) == ["Accept", "X-Tag"] and len(headers) == 2
    assert headers.get("missing") is None
    assert Headers({"A": "1"}) == {"A": "1"}


@pytest.mark.parametrize("call,parameter", [
    (lambda: serve(42), "app"),
    (lambda: serve(echo, name=""), "name"),
    (lambda: Response(99), "status"),
    (lambda: Response("200"), "status"),
    (lambda: Response(True), "status"),
    (lambda: Response(200, 3.5), "body"),
    (lambda: Response(204, "text"), "body"),
    (lambda: Response(200, None, {"X": 1}), "headers"),
    (lambda: Response(200, None, [("X", "1")]), "headers"),
    (lambda: Response(200, None, {"Content-Length": "3"}), "headers"),
    (lambda: Response(200, None, {"X": "a\r\nb"}), "headers"),
])
def test_invalid_arguments_name_the_parameter(call, parameter):
    with pytest.raises(ValueError, match=rf"^{parameter} must"):
        call()
