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
"""

from __future__ import annotations

import functools
import http.server
import json
import threading
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

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


@dataclass(frozen=True)
class Reply:
    """One response to send: status line, header fields in order (a repeated field appears
    once per value) and the body bytes."""

    status: int
    reason: str
    headers: tuple[tuple[str, str], ...]
    body: bytes


@functools.cache
def recorded_reply(fixture: str) -> Reply:
    """The recorded response of ``<FIXTURES>/<fixture>.json``, e.g. ``"openai/models_list"``."""
    recording = json.loads((FIXTURES / f"{fixture}.json").read_text(encoding="utf-8"))
    response = recording["response"]
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


@dataclass(frozen=True)
class Received:
    """A request the replay server received. Header names are lower case, in arrival order."""

    method: str
    path: str
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def header(self, name: str) -> str | None:
        """The value of the header `name` (any case), None when absent; a header sent more
        than once fails the test, since a provider would see an ambiguous request."""
        values = [v for n, v in self.headers if n == name.lower()]
        assert len(values) <= 1, f"{name} sent {len(values)} times: {values!r}"
        return values[0] if values else None


@dataclass(frozen=True)
class _Route:
    method: str
    path: str
    reply: Reply
    when_header: tuple[str, str] | None
    otherwise: Reply | None

    def answer(self, request: Received) -> Reply | None:
        """The reply for `request`, None when this route does not apply to it."""
        if (request.method, request.path) != (self.method, self.path):
            return None
        if self.when_header is None:
            return self.reply
        name, value = self.when_header
        return self.reply if request.header(name) == value else self.otherwise


class ReplayServer:
    """Replays recorded provider answers on ``127.0.0.1:<free port>`` from a thread."""

    def __init__(self) -> None:
        self._routes: list[_Route] = []
        self._received: list[Received] = []
        self._lock = threading.Lock()
        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
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
        fixture: str,
        when_header: tuple[str, str] | None = None,
        otherwise: str | None = None,
    ) -> None:
        """Answers `method` `path` (the request target, query included, matched exactly) with
        the recording `fixture`; with `when_header` (name, exact value) only requests carrying
        it, the others get the `otherwise` recording, or fall through when it is None.

        The latest route that applies wins, so a test can change an answer midway."""
        route = _Route(
            method=method,
            path=path,
            reply=recorded_reply(fixture),
            when_header=when_header,
            otherwise=recorded_reply(otherwise) if otherwise is not None else None,
        )
        with self._lock:
            self._routes.insert(0, route)

    @property
    def requests(self) -> list[Received]:
        """Every request received so far, oldest first."""
        with self._lock:
            return list(self._received)

    def requests_to(self, path: str) -> list[Received]:
        return [r for r in self.requests if r.path == path]

    def _answer(self, request: Received) -> Reply:
        with self._lock:
            self._received.append(request)
            routes = list(self._routes)
        for route in routes:
            if (reply := route.answer(request)) is not None:
                return reply
        body = f"replay: no recorded reply for {request.method} {request.path}\n".encode()
        return Reply(404, "Not Found", (("content-type", "text/plain"),), body)

    def close(self) -> None:
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


def _handler_for(replay: ReplayServer) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            request = Received(
                method=self.command,
                path=self.path,
                headers=tuple((n.lower(), v) for n, v in self.headers.items()),
                body=self.rfile.read(length) if length else b"",
            )
            self._send(replay._answer(request))

        def _send(self, reply: Reply) -> None:
            # Only the recorded fields: no Server or Date of the replay server's own.
            # A streamed reply (chunk boundaries) would write its parts after this head.
            self.send_response_only(reply.status, reply.reason)
            for name, value in reply.headers:
                self.send_header(name, value)
            self.send_header("content-length", str(len(reply.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(reply.body)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve

        def log_message(self, format: str, *args: object) -> None:
            pass  # the tests look at `requests`, not at a log on stderr

    return Handler
