"""A stand-in for the upstream AI providers: a real HTTP server on 127.0.0.1 that answers with
the recorded provider traffic in ``../shared/fixtures/dev`` byte for byte, and keeps every
request it receives so that tests can assert what aignehub sent.

>>> with ReplayServer() as upstream:
...     upstream.route("GET", "/v1/models", fixture="openai/models_list",
...                    when_header=("authorization", "Bearer good-key"),
...                    otherwise="openai/error_401_invalid_api_key")
...     # point a provider at upstream.url + "/v1", then look at upstream.requests

A request no route answers gets a 404 of the replay server's own (``text/plain``), which no
provider ever sent; tests may rely on that to see how aignehub treats an unexpected answer.

Streams. A reply whose content type is ``text/event-stream`` goes out with
``Transfer-Encoding: chunked``, one HTTP chunk per event (the bytes up to and including each
blank line), each sent on its own; ``application/x-ndjson`` the same, one chunk per line. The
chunk boundaries of the recording thus reach the client, and a route's `gap` spaces the events
out in time so that a test can keep a stream open. Any other reply has a ``Content-Length``.

Faults. ``fail(method, path, Fault.reset())`` makes matching requests go wrong instead of being
answered (see :class:`Fault`); with ``times=n`` only the next n of them, so a retry succeeds.

What happened to each request is on its :class:`Received`: how many events were sent, whether
the client closed the connection before the reply was over (``client_disconnected``), and
whether the replay server is done with it (``finished``).
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import re
import select
import socket
import struct
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

# CI clones the repository beside a copy of shared/, as on a development machine.
FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "dev"

# Framing belongs to the connection that carried the recording, not to the reply: the replay
# server frames each reply itself.
_NOT_REPLAYED = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "transfer-encoding",
        "te",
        "trailer",
        "upgrade",
        "content-length",
    }
)

# An event ends with a blank line; SSE allows LF, CRLF or CR line ends.
_SSE_EVENT_END = re.compile(rb"\r\n\r\n|\n\n|\r\r")
_NDJSON_LINE_END = re.compile(rb"\n")

# How often a waiting handler looks whether the replay server is closing.
_POLL = 0.02


@dataclass(frozen=True)
class Reply:
    """One response to send: status line, header fields in order (a repeated field appears
    once per value) and the body bytes. Build variants of a recording with
    ``dataclasses.replace(recorded_reply(...), body=...)``."""

    status: int
    reason: str
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def header(self, name: str) -> str | None:
        """The first value of the header `name` (any case), None when absent."""
        return next((v for n, v in self.headers if n.lower() == name.lower()), None)

    @property
    def streamed(self) -> bool:
        """True for a reply sent in chunks, one per event (SSE) or line (NDJSON)."""
        return self._event_end() is not None

    def events(self) -> list[bytes]:
        """The body cut after each event (SSE) or line (NDJSON), the bytes kept exactly: their
        concatenation is the body. A body that is not a stream is one piece."""
        end = self._event_end()
        if end is None:
            return [self.body] if self.body else []
        pieces: list[bytes] = []
        start = 0
        for match in end.finditer(self.body):
            pieces.append(self.body[start : match.end()])
            start = match.end()
        if start < len(self.body):
            pieces.append(self.body[start:])
        return pieces

    def _event_end(self) -> re.Pattern[bytes] | None:
        media_type = (self.header("content-type") or "").split(";")[0].strip().lower()
        if media_type == "text/event-stream":
            return _SSE_EVENT_END
        if media_type == "application/x-ndjson":
            return _NDJSON_LINE_END
        return None


@functools.cache
def recorded_reply(fixture: str) -> Reply:
    """The recorded response of ``<FIXTURES>/<fixture>.json``, e.g. ``"openai/models_list"``."""
    response = _recording(fixture)["response"]
    headers: list[tuple[str, str]] = []
    for name, value in response["headers"].items():
        if name not in _NOT_REPLAYED:
            values = value if isinstance(value, list) else [value]
            headers.extend((name, v) for v in values)
    return Reply(
        status=response["status"],
        reason=response["reason"],
        headers=tuple(headers),
        body=response["body"].encode("utf-8"),
    )


@functools.cache
def _recording(fixture: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{fixture}.json").read_text(encoding="utf-8"))
    return data


def recorded_request(fixture: str) -> Any:
    """The JSON body of the recorded request."""
    return json.loads(_recording(fixture)["request"]["body"])


def fixtures_of(api: str, *, streaming: bool | None = None, status: int = 200) -> list[str]:
    """The names of the recordings of `api` (e.g. "openai.chat.completions") with `status`,
    streamed or not (None: either), sorted."""
    names = []
    for path in sorted(FIXTURES.glob("*/*.json")):
        name = f"{path.parent.name}/{path.stem}"
        data = _recording(name)
        if data["api"] != api or data["response"]["status"] != status:
            continue
        if streaming is None or data["streaming"] == streaming:
            names.append(name)
    return names


def json_reply(payload: object, status: int = 200, reason: str = "OK") -> Reply:
    """A reply of the replay server's own making, for what no recording shows (a model listing
    of a provider that was never recorded, say): `payload` as compact JSON."""
    return Reply(
        status, reason, (("content-type", "application/json"),), json.dumps(payload).encode()
    )


@dataclass(frozen=True)
class Fault:
    """Something that goes wrong instead of an answer. Make one with a class method."""

    kind: str
    events: int = 0

    @classmethod
    def reset(cls) -> Fault:
        """Resets the connection (SO_LINGER 0, then close) after reading the request and
        before any byte of a reply: the client reads ECONNRESET."""
        return cls("reset")

    @classmethod
    def close(cls) -> Fault:
        """Closes the connection cleanly (FIN) before any byte of a reply, as a server does
        with a kept-alive connection it has just timed out."""
        return cls("close")

    @classmethod
    def hang(cls) -> Fault:
        """Reads the request and never answers; the connection stays open until the client
        closes it (recorded as ``client_disconnected``) or the replay server closes."""
        return cls("hang")

    @classmethod
    def reset_after(cls, events: int) -> Fault:
        """Sends the head and the first `events` events (see :meth:`Reply.events`) of the reply
        the routes give, then resets the connection: a stream cut off in the middle. The
        reply of a route that is not a stream counts as one event."""
        if events < 0:
            raise ValueError("events must be 0 or more")
        return cls("reset_after", events)


class _Progress:
    """What became of one request; written by the handler thread, read by the test."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.events_sent = 0
        self.client_disconnected = False
        self.fault: Fault | None = None
        self.done = threading.Event()


@dataclass(frozen=True)
class Received:
    """A request the replay server received. Header names are lower case, in arrival order."""

    method: str
    path: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    _progress: _Progress = field(default_factory=_Progress, compare=False, repr=False)

    def header(self, name: str) -> str | None:
        """The value of the header `name` (any case), None when absent; a header sent more
        than once fails the test, since a provider would see an ambiguous request."""
        values = [v for n, v in self.headers if n == name.lower()]
        assert len(values) <= 1, f"{name} sent {len(values)} times: {values!r}"
        return values[0] if values else None

    def json(self) -> object:
        """The body, parsed as JSON."""
        return json.loads(self.body)

    @property
    def events_sent(self) -> int:
        """How many events (chunks) of a streamed reply were written so far (an event counts
        from just before its write, so one the client holds is always counted); a reply that
        is not a stream counts one for its body."""
        with self._progress.lock:
            return self._progress.events_sent

    @property
    def client_disconnected(self) -> bool:
        """True when the client closed the connection before the reply was over: a write of
        the reply failed (broken pipe, reset), or the client closed while the replay server
        held the request (a hang) or waited between two events."""
        with self._progress.lock:
            return self._progress.client_disconnected

    @property
    def fault(self) -> Fault | None:
        """The fault that was applied to this request, if any."""
        with self._progress.lock:
            return self._progress.fault

    @property
    def finished(self) -> bool:
        """True once the replay server is done with this request: answered, failed as its
        fault says, or given up because the client left."""
        return self._progress.done.is_set()


@dataclass
class _Route:
    method: str
    path: str
    reply: Reply
    when_header: tuple[str, str] | None
    otherwise: Reply | None
    gap: float
    left: int | None  # requests it may still answer; None for any number

    def answer(self, request: Received) -> Reply | None:
        """The reply for `request`, None when this route does not apply to it."""
        if self.left == 0 or (request.method, request.path) != (self.method, self.path):
            return None
        if self.when_header is None:
            return self.reply
        name, value = self.when_header
        return self.reply if request.header(name) == value else self.otherwise


@dataclass
class _FaultRule:
    method: str
    path: str
    fault: Fault
    when_header: tuple[str, str] | None
    left: int | None

    def applies(self, request: Received) -> bool:
        if self.left == 0 or (request.method, request.path) != (self.method, self.path):
            return False
        if self.when_header is None:
            return True
        name, value = self.when_header
        return request.header(name) == value


@dataclass(frozen=True)
class _Plan:
    """What to do with one request."""

    reply: Reply
    gap: float = 0.0
    fault: Fault | None = None


class ReplayServer:
    """Replays recorded provider answers on ``127.0.0.1:<free port>`` from a thread."""

    def __init__(self) -> None:
        self._routes: list[_Route] = []
        self._faults: list[_FaultRule] = []
        self._received: list[Received] = []
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._httpd = _QuietServer(("127.0.0.1", 0), _handler_for(self))
        self._httpd.daemon_threads = True
        # A short poll interval keeps close() (which waits for the loop to notice) quick.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``, without a trailing slash."""
        return f"http://127.0.0.1:{self.port}"

    def route(
        self,
        method: str,
        path: str,
        *,
        fixture: str | None = None,
        reply: Reply | None = None,
        when_header: tuple[str, str] | None = None,
        otherwise: str | Reply | None = None,
        gap: float = 0.0,
        times: int | None = None,
    ) -> None:
        """Answers `method` `path` (the request target, query included, matched exactly) with
        the recording `fixture`, or with `reply` (exactly one of the two); with `when_header`
        (name, exact value) only requests carrying it, the others get `otherwise` (a fixture
        name or a Reply), or fall through when it is None.

        `gap` is the time in seconds between two events of a streamed reply. With `times` the
        route answers only that many more requests, then falls through.

        The latest route that applies wins, so a test can change an answer midway."""
        if (fixture is None) == (reply is None):
            raise ValueError("give exactly one of fixture= and reply=")
        if gap < 0 or (times is not None and times < 0):
            raise ValueError("gap and times must not be negative")
        route = _Route(
            method=method,
            path=path,
            reply=reply if reply is not None else recorded_reply(fixture or ""),
            when_header=when_header,
            otherwise=recorded_reply(otherwise) if isinstance(otherwise, str) else otherwise,
            gap=gap,
            left=times,
        )
        with self._lock:
            self._routes.insert(0, route)

    def fail(
        self,
        method: str,
        path: str,
        fault: Fault,
        *,
        when_header: tuple[str, str] | None = None,
        times: int | None = None,
    ) -> None:
        """Makes requests to `method` `path` (with `when_header`: only those carrying it) go
        wrong as `fault` says, the next `times` of them or, when None, all. Faults come before
        routes: the routes give the reply that ``Fault.reset_after`` cuts off. The latest fault
        that applies wins."""
        if times is not None and times < 0:
            raise ValueError("times must not be negative")
        rule = _FaultRule(method, path, fault, when_header, times)
        with self._lock:
            self._faults.insert(0, rule)

    @property
    def requests(self) -> list[Received]:
        """Every request received so far, oldest first."""
        with self._lock:
            return list(self._received)

    def requests_to(self, path: str) -> list[Received]:
        return [r for r in self.requests if r.path == path]

    def clear_requests(self) -> None:
        """Forgets the requests received so far (say, the checks made while adding providers)."""
        with self._lock:
            self._received.clear()

    def _plan(self, request: Received) -> _Plan:
        with self._lock:
            self._received.append(request)
            fault = next((rule for rule in self._faults if rule.applies(request)), None)
            if fault is not None and fault.left is not None:
                fault.left -= 1
            if fault is not None and fault.fault.kind != "reset_after":
                # Nothing of a reply is sent: the routes keep their count.
                return _Plan(_no_route(request), fault=fault.fault)
            for route in self._routes:
                if (reply := route.answer(request)) is not None:
                    if route.left is not None:
                        route.left -= 1
                    return _Plan(reply, route.gap, fault.fault if fault else None)
        return _Plan(_no_route(request), fault=fault.fault if fault else None)

    def close(self) -> None:
        self._closing.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()

    def __enter__(self) -> ReplayServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class _QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(
        self, request: socket.socket | tuple[bytes, socket.socket], client_address: Any
    ) -> None:
        # A client going away between two requests is ordinary; anything else is reported.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _no_route(request: Received) -> Reply:
    body = f"replay: no recorded reply for {request.method} {request.path}\n".encode()
    return Reply(404, "Not Found", (("content-type", "text/plain"),), body)


def _handler_for(replay: ReplayServer) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Each event goes out at once, not held back until the previous one is acknowledged.
        disable_nagle_algorithm = True

        def _serve(self) -> None:
            request = Received(
                method=self.command,
                path=self.path,
                headers=tuple((n.lower(), v) for n, v in self.headers.items()),
                body=self._read_body(),
            )
            progress = request._progress
            plan = replay._plan(request)
            try:
                self._carry_out(plan, progress)
            finally:
                progress.done.set()

        def _read_body(self) -> bytes:
            if "chunked" in (self.headers.get("transfer-encoding") or "").lower():
                body = b""
                while size := int(self.rfile.readline().split(b";")[0], 16):
                    body += self.rfile.read(size)
                    self.rfile.readline()
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass  # trailer fields
                return body
            length = int(self.headers.get("content-length") or 0)
            return self.rfile.read(length) if length else b""

        def _carry_out(self, plan: _Plan, progress: _Progress) -> None:
            fault = plan.fault
            with progress.lock:
                progress.fault = fault
            if fault is None:
                self._send(plan.reply, plan.gap, progress, cut_after=None)
            elif fault.kind == "reset":
                self._reset()
            elif fault.kind == "close":
                self.close_connection = True
            elif fault.kind == "hang":
                self.close_connection = True
                if self._client_left(None):
                    self._disconnected(progress)
            else:
                self._send(plan.reply, plan.gap, progress, cut_after=fault.events)

        def _send(
            self, reply: Reply, gap: float, progress: _Progress, *, cut_after: int | None
        ) -> None:
            # Only the recorded fields: no Server or Date of the replay server's own.
            self.send_response_only(reply.status, reply.reason)
            for name, value in reply.headers:
                self.send_header(name, value)
            streamed = reply.streamed
            if streamed:
                self.send_header("transfer-encoding", "chunked")
            else:
                self.send_header("content-length", str(len(reply.body)))
            try:
                self.end_headers()
                if self.command == "HEAD":
                    return
                for index, event in enumerate(reply.events()):
                    if index == cut_after:
                        self._reset()
                        return
                    if index > 0 and gap > 0:
                        if self._client_left(gap):
                            self._disconnected(progress)
                            return
                        if replay._closing.is_set():
                            self.close_connection = True  # cut short: the test is over
                            return
                    # Counted first, so that a client holding an event sees it counted.
                    with progress.lock:
                        progress.events_sent += 1
                    try:
                        self.wfile.write(
                            b"%x\r\n%s\r\n" % (len(event), event) if streamed else event
                        )
                    except (BrokenPipeError, ConnectionResetError):
                        with progress.lock:
                            progress.events_sent -= 1
                        raise
                if cut_after is not None:
                    self._reset()
                elif streamed:
                    self.wfile.write(b"0\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError):
                self._disconnected(progress)

        def _disconnected(self, progress: _Progress) -> None:
            with progress.lock:
                progress.client_disconnected = True
            self.close_connection = True

        def _client_left(self, within: float | None) -> bool:
            """Waits up to `within` seconds (None: until the client or the replay server
            closes); True as soon as the client has closed or reset the connection."""
            sock = self.connection
            waited = 0.0
            while within is None or waited < within:
                step = _POLL if within is None else min(_POLL, within - waited)
                if replay._closing.is_set():
                    return False
                readable, _, _ = select.select([sock], [], [], step)
                waited += step
                if not readable:
                    continue
                try:
                    # A hung request discards what else comes; between events it may be the
                    # next request of the connection, which stays for later.
                    data = sock.recv(65536 if within is None else 1, socket.MSG_PEEK)
                    if data and within is None:
                        sock.recv(len(data))
                except (ConnectionResetError, BrokenPipeError):
                    return True
                if not data:
                    return True
                if within is not None:
                    # The client is still there: sit out the rest of the gap.
                    replay._closing.wait(within - waited)
                    return False
            return False

        def _reset(self) -> None:
            """Closes with SO_LINGER 0, which sends RST instead of FIN."""
            self.close_connection = True
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            # The socket closes for real once no file object refers to it any more.
            self.rfile.close()
            self.connection.close()

        def finish(self) -> None:
            with contextlib.suppress(OSError):  # the connection is reset or gone already
                super().finish()

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve

        def log_message(self, format: str, *args: object) -> None:
            pass  # the tests look at `requests`, not at a log on stderr

    return Handler
