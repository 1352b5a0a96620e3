"""Small real HTTP services on loopback, started and stopped inside a notebook cell or a test.

::

    from course.loopback import serve, Response

    def payments(request):                      # a Request in, a Response out
        return Response(201, {"id": "p1", "amount": request.json()["amount"]})

    with serve(payments, name="payments") as server:
        server.url          # "http://127.0.0.1:PORT", a free port
        ...                 # any HTTP client: urllib, http.client, httpx, pact's verifier
        server.requests     # every Request received, in order

The server is the standard library's :class:`http.server.ThreadingHTTPServer`
bound to ``127.0.0.1`` and port 0 (the kernel picks a free port), one thread
per connection. It speaks HTTP/1.1 and always sends ``Content-Length``, so a
client that keeps connections alive can reuse them; a client that sends
``Connection: close`` (urllib does) gets one request per connection.

Leaving the ``with`` block (or calling :meth:`RunningServer.close`) stops
accepting, ends idle keep-alive connections, joins every thread the server
started and closes the port, so nothing outlives the block. A request still
being answered at that moment is allowed to finish (for up to ``timeout``
seconds). :func:`serve` starts the server at once, so a notebook may also
write ``payments = serve(app)`` and later ``payments.close()``.

The server prints nothing: no request log lines. An exception raised by the
app becomes a ``500`` with a short text body naming the exception, and is
kept in :attr:`RunningServer.errors`; the server goes on serving.
"""

from __future__ import annotations

import json
import socket
import socketserver
import sys
import threading
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

HOST = "127.0.0.1"

#: How often the accept loop checks whether it was asked to stop (seconds); bounds how long close() waits for it.
_POLL_INTERVAL = 0.02

_NO_BODY_STATUSES = (204, 304)


class Headers(Mapping):
    """Read-only, case-insensitive HTTP headers: ``headers["content-type"]`` finds ``Content-Type``.

    As a mapping it holds each name once (its first value, with the spelling
    first seen); :meth:`get_all` returns every value of a repeated header and
    :attr:`pairs` the headers exactly as received.
    """

    def __init__(self, pairs=()):
        items = pairs.items() if isinstance(pairs, Mapping) else pairs
        self.pairs: tuple[tuple[str, str], ...] = tuple((str(name), str(value)) for name, value in items)
        first: dict[str, tuple[str, str]] = {}
        for name, value in self.pairs:
            first.setdefault(name.lower(), (name, value))
        self._first = first

    def __getitem__(self, name: str) -> str:
        if not isinstance(name, str):
            raise KeyError(name)
        return self._first[name.lower()][1]

    def __contains__(self, name) -> bool:
        return isinstance(name, str) and name.lower() in self._first

    def __iter__(self):
        return (name for name, _ in self._first.values())

    def __len__(self) -> int:
        return len(self._first)

    def get_all(self, name: str) -> list[str]:
        """Every value of header ``name`` (any case), in the order received; [] if absent."""
        wanted = name.lower()
        return [value for key, value in self.pairs if key.lower() == wanted]

    def __repr__(self):
        return f"Headers({dict(self.items())!r})"


@dataclass(frozen=True)
class Request:
    """One HTTP request as the app sees it.

    ``path`` excludes the query string, which is parsed into ``query`` (each
    name maps to the list of its values, blank values kept). ``received_at``
    is :func:`time.monotonic` when the request had been read in full.
    """

    method: str
    path: str
    query: dict[str, list[str]]
    headers: Headers
    body: bytes
    received_at: float

    def json(self):
        """The body parsed as JSON, or None if the body is empty."""
        if not self.body:
            return None
        return json.loads(self.body)


@dataclass(frozen=True)
class Response:
    """What the app answers.

    ``body`` is None (empty), a dict or list (sent as JSON with
    ``Content-Type: application/json``), a str (sent as UTF-8 text/plain) or
    bytes (sent as is). ``headers`` override the default ``Content-Type``; the
    server sets ``Content-Length`` itself.
    """

    status: int = 200
    body: None | dict | list | str | bytes = None
    headers: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self):
        status = self.status
        if isinstance(status, bool) or not isinstance(status, int) or not 200 <= status <= 599:
            raise ValueError(f"status must be a whole number from 200 to 599, got {status!r}")
        if self.body is not None and not isinstance(self.body, (dict, list, str, bytes)):
            raise ValueError(f"body must be None, a dict, a list, a str or bytes, got {type(self.body).__name__}")
        if status in _NO_BODY_STATUSES and self.body not in (None, b"", ""):
            raise ValueError(f"body must be empty for status {status}, got {self.body!r}")
        if not isinstance(self.headers, Mapping):
            raise ValueError(f"headers must be a mapping of str to str, got {self.headers!r}")
        for name, value in self.headers.items():
            if not isinstance(name, str) or not isinstance(value, str):
                raise ValueError(f"headers must map str to str, got {name!r}: {value!r}")
            if any(c in name + value for c in "\r\n") or not name:
                raise ValueError(f"headers must not be empty or contain line breaks, got {name!r}: {value!r}")
            if name.lower() in ("content-length", "transfer-encoding", "connection"):
                raise ValueError(f"headers must not set {name}: the server sets it")

    def encode(self) -> tuple[list[tuple[str, str]], bytes]:
        """The headers (with a default ``Content-Type``) and the body bytes to send."""
        body, content_type = self.body, None
        if isinstance(body, (dict, list)):
            body, content_type = json.dumps(body).encode(), "application/json"
        elif isinstance(body, str):
            body, content_type = body.encode("utf-8"), "text/plain; charset=utf-8"
        elif body is None:
            body = b""
        headers = list(self.headers.items())
        if content_type and not any(name.lower() == "content-type" for name, _ in headers):
            headers.insert(0, ("Content-Type", content_type))
        return headers, body


class _Drop(Exception):
    """Raised by a responder to end the connection without sending any response.

    ``reset=True`` closes it with SO_LINGER 0, so the client's next read fails
    with a connection reset; otherwise the connection is closed normally.
    """

    def __init__(self, reset: bool):
        super().__init__("reset" if reset else "close")
        self.reset = reset


class _BadRequest(Exception):
    pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "loopback"
    sys_version = ""

    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        pass  # quiet: no request log lines on stderr

    def _dispatch(self):
        server: _HTTPServer = self.server
        try:
            body = self._read_body()
        except _BadRequest as problem:
            self.close_connection = True
            self.send_error(400, str(problem))
            return
        parts = urlsplit(self.path)
        request = Request(method=self.command, path=parts.path, query=parse_qs(parts.query, keep_blank_values=True),
                          headers=Headers(self.headers.items()), body=body, received_at=time.monotonic())
        try:
            response = server.owner._answer(request)
        except _Drop as drop:
            self.close_connection = True
            if drop.reset:
                server._mark_reset(self.connection)
            return
        if server.owner.closing:
            self.close_connection = True
        self._send(response)

    def _send(self, response: Response):
        headers, body = response.encode()
        self.send_response(response.status)
        for name, value in headers:
            self.send_header(name, value)
        if response.status not in _NO_BODY_STATUSES:
            self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD" and response.status not in _NO_BODY_STATUSES:
            self.wfile.write(body)

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        length = self.headers.get("Content-Length")
        if length is None:
            return b""
        try:
            size = int(length)
        except ValueError:
            raise _BadRequest(f"bad Content-Length {length!r}") from None
        if size < 0:
            raise _BadRequest(f"bad Content-Length {length!r}")
        return self.rfile.read(size)

    def _read_chunked(self) -> bytes:
        chunks = []
        while True:
            line = self.rfile.readline(65537)
            try:
                size = int(line.split(b";")[0].strip(), 16)
            except ValueError:
                raise _BadRequest(f"bad chunk size line {line[:40]!r}") from None
            if size == 0:
                while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks)
            chunks.append(self.rfile.read(size))
            self.rfile.readline(65537)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _dispatch


class _HTTPServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer that tracks its connections and threads so it can close them all."""

    daemon_threads = True
    block_on_close = False  # RunningServer.close joins the request threads itself, with a timeout
    request_queue_size = 128  # the default 5 drops bursts of connections (SYN retried a second later)

    def __init__(self, owner: RunningServer):
        self.owner = owner
        self._guard = threading.Lock()
        self._connections: set[socket.socket] = set()
        self._to_reset: set[socket.socket] = set()
        self._request_threads: list[threading.Thread] = []
        super().__init__((HOST, 0), _Handler)

    def server_bind(self):
        # HTTPServer.server_bind would look up the host's domain name, which can stall without DNS.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def process_request(self, request, client_address):
        thread = threading.Thread(target=self.process_request_thread, args=(request, client_address),
                                  name=f"loopback {self.owner.name} request", daemon=True)
        with self._guard:
            self._connections.add(request)
            self._request_threads = [t for t in self._request_threads if t.is_alive()]
            self._request_threads.append(thread)
        thread.start()

    def _mark_reset(self, connection: socket.socket):
        with self._guard:
            self._to_reset.add(connection)

    def shutdown_request(self, request):
        with self._guard:
            reset = request in self._to_reset
            self._to_reset.discard(request)
            self._connections.discard(request)
        if reset:
            try:
                # Linger on, timeout 0: close() discards unsent data and sends RST instead of FIN.
                request.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            except OSError:
                pass
            self.close_request(request)
        else:
            super().shutdown_request(request)

    def handle_error(self, request, client_address):
        # A client that went away (or close() cutting a connection) is not news; other errors are kept.
        error = sys.exc_info()[1]
        if not isinstance(error, OSError):
            self.owner.errors.append(error)

    def stop_reading(self):
        """End every keep-alive connection's wait for its next request (answers in progress still go out)."""
        with self._guard:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RD)
            except OSError:
                pass

    def threads(self) -> list[threading.Thread]:
        with self._guard:
            return list(self._request_threads)


class RunningServer:
    """A real HTTP server on ``127.0.0.1`` answering with ``app``; started when created (see :func:`serve`).

    Attributes: ``url`` (``"http://127.0.0.1:PORT"``), ``host``, ``port``,
    ``name``, ``requests`` (every :class:`Request` received, in the order they
    arrived) and ``errors`` (exceptions the app raised, each answered with a
    500). Use it as a context manager, or call :meth:`close` (idempotent).
    """

    def __init__(self, app, *, name: str = "service"):
        if not callable(app):
            raise ValueError(f"app must be callable (a function of a Request returning a Response), got {app!r}")
        if not isinstance(name, str) or not name:
            raise ValueError(f"name must be a non-empty string, got {name!r}")
        self.name = name
        self.requests: list[Request] = []
        self.errors: list[BaseException] = []
        self._app = app
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._closed = False
        self._close_lock = threading.Lock()
        self._httpd = _HTTPServer(self)
        self.host, self.port = self._httpd.server_address[:2]
        self.url = f"http://{self.host}:{self.port}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": _POLL_INTERVAL},
                                        name=f"loopback {name}", daemon=True)
        self._thread.start()

    # -- answering ---------------------------------------------------------------------------------

    def _admit(self, request: Request):
        """Record ``request``; runs under the server's lock, so keep it quick. Its result goes to _respond."""
        self.requests.append(request)

    def _answer(self, request: Request) -> Response:
        with self._lock:
            ticket = self._admit(request)
        return self._respond(request, ticket)

    def _respond(self, request: Request, ticket) -> Response:
        return self._call_app(request)

    def _call_app(self, request: Request) -> Response:
        try:
            response = self._app(request)
            if not isinstance(response, Response):
                raise TypeError(f"the app returned {type(response).__name__}, not a Response")
        except Exception as error:  # noqa: BLE001 - any app failure is the app's 500
            self.errors.append(error)
            return Response(500, f"{type(error).__name__}: {error}"[:500])
        return response

    def _pause(self, seconds: float):
        """Wait ``seconds`` of real time without holding any lock; raise _Drop if the server closes meanwhile."""
        deadline = time.monotonic() + seconds
        while (remaining := deadline - time.monotonic()) > 0:
            if self._stopping.wait(remaining):
                raise _Drop(reset=False)

    def _hang(self):
        """Wait until the server closes, then drop the connection without an answer."""
        self._stopping.wait()
        raise _Drop(reset=False)

    # -- lifecycle ---------------------------------------------------------------------------------

    @property
    def closing(self) -> bool:
        """True once :meth:`close` has begun."""
        return self._stopping.is_set()

    def close(self, timeout: float = 5.0):
        """Stop the server: no new connections, idle ones ended, every thread joined, the port closed.

        Requests being answered get up to ``timeout`` seconds to finish (delays
        and hangs from :mod:`course.loopback.faults` end at once). A thread
        still running after that is reported with a RuntimeWarning. Calling
        close again does nothing.
        """
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        self._stopping.set()
        self._httpd.shutdown()
        self._thread.join()
        self._httpd.server_close()
        self._httpd.stop_reading()
        deadline = time.monotonic() + timeout
        stuck = []
        for thread in self._httpd.threads():
            thread.join(max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                stuck.append(thread)
        if stuck:
            warnings.warn(f"server {self.name!r}: {len(stuck)} request thread(s) still running {timeout} s after "
                          f"close (does the app return?)", RuntimeWarning, stacklevel=2)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def __repr__(self):
        state = "closed" if self._closed else "running"
        return f"<{type(self).__name__} {self.name!r} {self.url} {state}, {len(self.requests)} requests>"


def serve(app, *, name: str = "service") -> RunningServer:
    """Start ``app`` as a real HTTP service on ``127.0.0.1`` and a free port.

    ``app`` is called with each :class:`Request` (from a thread per
    connection, so it may be called concurrently) and returns a
    :class:`Response`. Use as ``with serve(app, name="payments") as payments:``;
    the server starts at once and stops when the block ends (or at
    ``payments.close()``).
    """
    return RunningServer(app, name=name)

