"""Fixtures and helpers shared by the functional tests.

Every test talks to the real server over real sockets on 127.0.0.1, bound to port 0. Waits are
bounded by ``HANG_GUARD`` so that a server that hangs fails one test instead of the suite; no test
asserts on how fast anything happens.
"""

from __future__ import annotations

import enum
import http.client
import json
import os
import queue
import re
import socket
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeAlias

import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

from aignehub import Bootstrap, CreatedKey, Hub, Server, User
from replay import ReplayServer, Reply, json_reply, recorded_reply

# Generous upper bound for anything that should happen "soon" (a response, a close, a process
# exit). It only turns a hang into a failure; it is not a speed requirement.
HANG_GUARD = 10.0

# The characters a client-supplied x-request-id may use (it is echoed when it has 1 to 128).
REQUEST_ID_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:+=/-"
GENERATED_REQUEST_ID = re.compile(r"[0-9a-f]{32}")


# --- responses -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Response:
    """An HTTP response as the tests see it; header names are lower case."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def assert_json_error(
    response: Response, status: int, code: str, *, param: str | None = None
) -> None:
    """Asserts the gateway's error shape: ``{"error": {message, type, param, code}}``."""
    assert response.status == status, response
    assert response.headers.get("content-type") == "application/json"
    payload = response.json()
    assert set(payload) == {"error"}
    error = payload["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["code"] == code
    assert error["param"] == param, error
    assert isinstance(error["type"], str) and error["type"]
    assert isinstance(error["message"], str) and error["message"]


def ok(answer: Response, status: int = 200) -> Any:
    """The JSON of a successful answer, after checking its status and content type."""
    assert answer.status == status, answer
    assert answer.headers.get("content-type") == "application/json"
    return answer.json()


def listing(answer: Response) -> list[Any]:
    payload = ok(answer)
    assert set(payload) == {"object", "data"} and payload["object"] == "list"
    data = payload["data"]
    assert isinstance(data, list)
    return data


def assert_generated_request_id(response: Response) -> None:
    assert GENERATED_REQUEST_ID.fullmatch(response.headers.get("x-request-id", "")), response


def from_http_client(response: http.client.HTTPResponse) -> Response:
    body = response.read()
    headers = {name.lower(): value for name, value in response.getheaders()}
    return Response(response.status, headers, body)


def request(
    server: Server,
    method: str,
    path: str,
    *,
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
) -> Response:
    """Sends one request on a fresh http.client connection and returns the whole response."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=HANG_GUARD)
    try:
        conn.request(method, path, body=body, headers=dict(headers or {}))
        return from_http_client(conn.getresponse())
    finally:
        conn.close()


# --- access keys -----------------------------------------------------------------------------


# ahk_ + a 12-character base32 prefix + _ + 32 random bytes in unpadded base64url.
KEY_FORMAT = re.compile(r"ahk_(?P<prefix>[a-z2-7]{12})_[A-Za-z0-9_-]{43}")


class _Owner(enum.Enum):
    KEY = "the owner key of the server's hub"


# The default key of `api` and `admin`: the owner key of the hub that served the server.
OWNER = _Owner.KEY
# What `api` sends: a key (as a bearer token), None for no key at all, or the hub owner's key.
KeyChoice: TypeAlias = str | Literal[_Owner.KEY] | None

_owner_keys: weakref.WeakKeyDictionary[Hub, str] = weakref.WeakKeyDictionary()
_hub_of: weakref.WeakKeyDictionary[Server, weakref.ref[Hub]] = weakref.WeakKeyDictionary()


def remember_owner_key(hub: Hub, secret: str) -> None:
    """Makes `secret` the owner key that `api` sends to servers of `hub` (see `owner_key`)."""
    _owner_keys[hub] = secret


def owner_key(hub: Hub) -> str:
    """An owner's access key for `hub`, made on first use and kept for this Hub object: the
    bootstrap key on an empty database, else a new key of its first enabled owner (made when
    there is none, say after a test added users before its first request)."""
    if hub not in _owner_keys:
        first = hub.bootstrap()
        if first is not None:
            secret = first.key.secret
        else:
            owners = [u for u in hub.users.list() if u.role == "owner" and not u.disabled]
            owner = owners[0] if owners else hub.users.add("Test owner", role="owner")
            secret = hub.keys.create(owner, name="tests").secret
        remember_owner_key(hub, secret)
    return _owner_keys[hub]


@dataclass(frozen=True)
class Someone:
    """A user and one access key of theirs."""

    user: User
    key: CreatedKey


def person(hub: Hub, role: str, name: str | None = None, **limits: Any) -> Someone:
    """A new user with `role` and one access key of theirs (with `limits`: rpm, expires, ...)."""
    user = hub.users.add(name or f"{role} {len(hub.users.list()) + 1}", role=role)
    return Someone(user, hub.keys.create(user, name=f"{user.display_name} key", **limits))


def serve(hub: Hub, **settings: Any) -> Server:
    """Starts a server of `hub` on port 0 (two threads, no access log unless asked); `api` and
    `admin` call it with the hub's owner key unless told otherwise."""
    server = hub.serve(**{"port": 0, "threads": 2, "access_log": "", **settings})
    _hub_of[server] = weakref.ref(hub)
    return server


def key_of(server: Server) -> str:
    """The owner key `api` sends to `server` by default."""
    hub = _hub_of[server]() if server in _hub_of else None
    assert hub is not None, "start the server with conftest.serve(hub) or pass a key"
    return owner_key(hub)


def api(
    server: Server,
    method: str,
    path: str,
    body: Any = None,
    *,
    key: KeyChoice = OWNER,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """Calls the JSON API with `key` as ``Authorization: Bearer``: `body` is sent as JSON unless
    it is bytes (sent as they are); `headers` are added last and win."""
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    fields = {"Content-Type": "application/json"} if data is not None else {}
    if key is OWNER:
        key = key_of(server)
    if key is not None:
        fields["Authorization"] = f"Bearer {key}"
    return request(server, method, path, headers={**fields, **(headers or {})}, body=data)


def admin(
    server: Server, method: str, path: str, body: Any = None, *, key: KeyChoice = OWNER
) -> Response:
    """Calls the admin API (`path` is below /api/admin), as the hub's owner unless `key` says
    otherwise; see `api`."""
    return api(server, method, f"/api/admin{path}", body, key=key)


# --- upstream providers ----------------------------------------------------------------------


def openai_upstream(replay: ReplayServer, *keys: str) -> str:
    """Makes `replay` answer GET /v1/models as OpenAI did: the recorded listing for a bearer of
    one of `keys`, the recorded 401 for anyone else. Returns the base URL to configure (with
    ``local=True``). Call it once per test: its 401 route shadows any earlier key."""
    replay.route("GET", "/v1/models", fixture="openai/error_401_invalid_api_key")
    for key in keys:
        replay.route(
            "GET",
            "/v1/models",
            fixture="openai/models_list",
            when_header=("authorization", f"Bearer {key}"),
        )
    return replay.url + "/v1"


# --- raw sockets -----------------------------------------------------------------------------


class RawConnection:
    """A bare TCP connection, for what http.client will not send: malformed, oversized, slow or
    half-sent requests. Responses are parsed by hand so that pipelined bytes are never lost."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=HANG_GUARD)
        self._pending = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _receive(self) -> bool:
        chunk = self.sock.recv(65536)
        self._pending += chunk
        return bool(chunk)

    def read_response(self, *, head: bool = False) -> Response:
        """Reads one response; `head` for the answer to a HEAD request, which has no body."""
        while b"\r\n\r\n" not in self._pending:
            if not self._receive():
                raise ConnectionError(f"closed before a whole response header: {self._pending!r}")
        block, self._pending = self._pending.split(b"\r\n\r\n", 1)
        status_line, *field_lines = block.decode("latin-1").split("\r\n")
        version, status, *_ = status_line.split(" ", 2)
        assert version == "HTTP/1.1", status_line
        headers: dict[str, str] = {}
        for line in field_lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = 0 if head else int(headers.get("content-length", "0"))
        while len(self._pending) < length:
            if not self._receive():
                raise ConnectionError("closed in the middle of a response body")
        body, self._pending = self._pending[:length], self._pending[length:]
        return Response(int(status), headers, body)

    def closed_by_server(self, within: float = HANG_GUARD) -> bool:
        """Waits up to `within` seconds for the server to close the connection; True if it did.
        Bytes that arrive meanwhile are kept (see `unread`)."""
        deadline = time.monotonic() + within
        try:
            while (left := deadline - time.monotonic()) > 0:
                self.sock.settimeout(left)
                if not self._receive():
                    return True
            return False
        except TimeoutError:
            return False
        except ConnectionResetError:
            return True
        finally:
            self.sock.settimeout(HANG_GUARD)

    @property
    def unread(self) -> bytes:
        return self._pending

    def server_has_read_all(self) -> bool:
        """True once the server has read every byte sent so far, that is once the receive queue
        of the server's end of this connection (in /proc/net/tcp) is empty."""
        server_end = _proc_net_address(*self.sock.getpeername())
        client_end = _proc_net_address(*self.sock.getsockname())
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
            _, local, remote, _, queues, *_ = line.split()
            if (local, remote) == (server_end, client_end):
                return int(queues.split(":")[1], 16) == 0
        raise AssertionError(f"{server_end} -> {client_end} is not in /proc/net/tcp")

    def close(self) -> None:
        self.sock.close()


def _proc_net_address(ip: str, port: int) -> str:
    """An IPv4 endpoint as /proc/net/tcp writes it: the address as a host-order hex word."""
    return f"{socket.inet_aton(ip)[::-1].hex().upper()}:{port:04X}"


def http_request_bytes(
    method: str, path: str, headers: Mapping[str, str] | None = None, body: bytes = b""
) -> bytes:
    """Serialises a request by hand (with Host, and Content-Length when there is a body)."""
    fields = {"Host": "127.0.0.1", **(headers or {})}
    if body and "Content-Length" not in fields and "Transfer-Encoding" not in fields:
        fields["Content-Length"] = str(len(body))
    head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in fields.items())
    return (head + "\r\n").encode("latin-1") + body


def chunked(*chunks: bytes, last: bool = True) -> bytes:
    """Encodes chunks for Transfer-Encoding: chunked; `last` adds the terminating chunk."""
    body = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks)
    return body + b"0\r\n\r\n" if last else body


def connection_refused(port: int) -> bool:
    """True when nothing accepts connections on the port any more."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=HANG_GUARD).close()
    except ConnectionRefusedError:
        return True
    except ConnectionResetError:
        return False  # caught in the backlog as the listener closed: refused from now on
    return False


def wait_until(condition: Callable[[], bool], within: float = HANG_GUARD) -> bool:
    """Polls `condition` until it holds or `within` seconds pass; returns its last value."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def listening_socket() -> socket.socket:
    """A socket listening on a free 127.0.0.1 port, to make that port busy."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock


# --- the command line ------------------------------------------------------------------------


def cli_env(home: Path) -> dict[str, str]:
    """The environment for a CLI subprocess: its own home, no inherited aignehub settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIGNEHUB_")}
    env["AIGNEHUB_HOME"] = str(home)
    return env


def run_cli(*args: str, env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    """Runs ``python -m aignehub ARGS`` to completion."""
    return subprocess.run(
        [sys.executable, "-m", "aignehub", *args],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=HANG_GUARD,
        check=False,
    )


class CliProcess:
    """``python -m aignehub ARGS`` running in the background; its stdout is read line by line
    on a thread so that waiting for a line can time out."""

    def __init__(self, *args: str, env: Mapping[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "aignehub", *args],
            env=dict(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._eof = False
        self._reader = threading.Thread(target=self._read_stdout, daemon=True)
        self._reader.start()

    def _read_stdout(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for_line(self, pattern: str, within: float = HANG_GUARD) -> re.Match[str]:
        """Returns the match of the first new stdout line that matches `pattern`."""
        deadline = time.monotonic() + within
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self._queue.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                self._eof = True
                break
            self.lines.append(line)
            if match := re.search(pattern, line):
                return match
        raise AssertionError(f"no stdout line matched {pattern!r}; got {self.lines!r}")

    def finish(self, within: float = HANG_GUARD) -> tuple[int, str, str]:
        """Waits for the exit; returns the status, all of stdout and all of stderr."""
        returncode = self.proc.wait(timeout=within)
        while not self._eof:
            line = self._queue.get(timeout=within)
            if line is None:
                self._eof = True
            else:
                self.lines.append(line)
        assert self.proc.stderr is not None
        return returncode, "\n".join(self.lines), self.proc.stderr.read()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=HANG_GUARD)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


# --- fixtures --------------------------------------------------------------------------------


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """With pytest-timeout installed, a test that hangs anyway (say in a stop() that never
    returns) fails after a minute instead of stalling the run."""
    if config.pluginmanager.hasplugin("timeout"):
        for item in items:
            item.add_marker(pytest.mark.timeout(60))


# Every variable that makes a Hub configure providers or pick its master key by itself.
HUB_ENVIRONMENT = (
    "AIGNEHUB_MASTER_KEY",
    *(
        f"{prefix}_{suffix}"
        for prefix in (
            "OPENAI",
            "ANTHROPIC",
            "GEMINI",
            "DEEPSEEK",
            "XAI",
            "OPENROUTER",
            "MISTRAL",
            "GROQ",
            "OLLAMA",
            "DOUBAO",
        )
        for suffix in ("API_KEY", "BASE_URL")
    ),
)


@pytest.fixture(autouse=True)
def clean_hub_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keys in the developer's or CI's environment must not turn into providers in a test."""
    for name in HUB_ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A 127.0.0.1 port that refuses connections: bound by this test, never listening."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


@pytest.fixture
def replay() -> Iterator[ReplayServer]:
    """A fake upstream provider replaying recorded traffic (see replay.py); no routes yet."""
    with ReplayServer() as server:
        yield server


StartServer = Callable[..., Server]
OpenRaw = Callable[[Server], RawConnection]


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A data directory that does not exist yet (the Hub creates it)."""
    return tmp_path / "data"


@pytest.fixture
def hub(data_dir: Path) -> Iterator[Hub]:
    with Hub(data_dir) as opened:
        yield opened


@pytest.fixture
def owner(hub: Hub) -> Bootstrap:
    """The bootstrap of `hub`: its first owner and their one-time key, which `admin` sends."""
    first = hub.bootstrap()
    assert first is not None
    remember_owner_key(hub, first.key.secret)
    return first


@pytest.fixture
def people(hub: Hub, owner: Bootstrap) -> dict[str, Someone]:
    """The bootstrap owner, an admin and two members ("member" and "other"), each with a key."""
    return {
        "owner": Someone(owner.user, owner.key),
        "admin": person(hub, "admin"),
        "member": person(hub, "member"),
        "other": person(hub, "member"),
    }


@pytest.fixture
def start_server(hub: Hub, owner: Bootstrap) -> Iterator[StartServer]:
    """Starts servers on port 0 (two threads, no access log unless asked) with the given
    settings, and stops them after the test. The hub is bootstrapped first: `admin` calls the
    servers as its `owner`."""
    started: list[Server] = []

    def start(**settings: Any) -> Server:
        server = serve(hub, **settings)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def server(start_server: StartServer) -> Server:
    """A running server with default settings."""
    return start_server()


@pytest.fixture
def open_raw(start_server: StartServer) -> Iterator[OpenRaw]:
    """Opens raw connections to a server; they are closed before the servers stop."""
    opened: list[RawConnection] = []

    def open_to(server: Server) -> RawConnection:
        conn = RawConnection(server.port)
        opened.append(conn)
        return conn

    yield open_to
    for conn in opened:
        conn.close()


@pytest.fixture
def cli_home(tmp_path: Path) -> Path:
    return tmp_path / "cli-home"


@pytest.fixture
def start_cli(cli_home: Path) -> Iterator[Callable[..., CliProcess]]:
    """Starts ``aignehub`` subprocesses; any still running after the test is killed."""
    started: list[CliProcess] = []

    def start(*args: str) -> CliProcess:
        process = CliProcess(*args, env=cli_env(cli_home))
        started.append(process)
        return process

    yield start
    for process in started:
        process.kill()


# --- the gateway's data path -----------------------------------------------------------------

# The key every replayed provider is configured with unless a test says otherwise.
UPSTREAM_KEY = "sk-upstream-0123456789abcdef"

# The messages of a chat call whose content does not matter.
HELLO: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Hello"}]


@dataclass(frozen=True)
class Upstream:
    """A provider of the hub whose base URL is ``<replay>/<name>``: where the gateway's calls
    to it arrive on the replay server, and the ids of its credentials (one per key)."""

    name: str
    kind: str
    keys: tuple[str, ...]
    credential_ids: tuple[int, ...]

    @property
    def api(self) -> str:
        """The path below which the gateway calls the provider's OpenAI-style API: the base
        URL's path, or for Ollama (whose base URL is the server root) that path + /v1."""
        return f"/{self.name}/v1" if self.kind == "ollama" else f"/{self.name}"

    @property
    def chat(self) -> str:
        return self.api + "/chat/completions"

    @property
    def embeddings(self) -> str:
        return self.api + "/embeddings"

    @property
    def images(self) -> str:
        return self.api + "/images/generations"


def model_listing(kind: str, models: list[str]) -> Reply:
    """What a provider of `kind` answers to its check request when it serves `models`."""
    if kind == "ollama":
        return json_reply({"models": [{"name": m, "model": m} for m in models]})
    data = [{"id": m, "object": "model", "created": 0, "owned_by": kind} for m in models]
    return json_reply({"object": "list", "data": data})


def add_upstream(
    hub: Hub,
    replay: ReplayServer,
    kind: str = "openai",
    *,
    name: str | None = None,
    keys: tuple[str, ...] = (UPSTREAM_KEY,),
    models: list[str] | None = None,
    weights: tuple[int, ...] | None = None,
) -> Upstream:
    """Adds a provider of `kind` called `name` (default: the kind) with base URL
    ``<replay>/<name>`` and one credential per key (weights in the same order).

    Its check request (validation, which also fetches the model listing) is answered with a
    listing of `models`; with None an "openai" provider gets the recorded OpenAI listing and
    any other kind an empty one. OpenRouter's check (``/key``) lists no models."""
    name = name or kind
    catalogue = {k.kind: k for k in hub.providers.catalogue()}[kind]
    if models is None and kind == "openai":
        listing = recorded_reply("openai/models_list")
    else:
        listing = model_listing(kind, models or [])
    if catalogue.check_path == "/key":
        listing = json_reply({"data": {"label": "sk-or-v1-...", "usage": 0, "limit": None}})
    replay.route("GET", f"/{name}{catalogue.check_path}", reply=listing)
    weight = list(weights) if weights is not None else [None] * len(keys)
    provider = hub.providers.add(
        kind,
        name=name,
        api_key=keys[0],
        base_url=f"{replay.url}/{name}",
        local=True,
        credential_name="key-1",
        weight=weight[0],
    )
    ids = [provider.credentials[0].id]
    for number, (key, w) in enumerate(zip(keys[1:], weight[1:], strict=True), start=2):
        ids.append(hub.credentials.add(name, key, name=f"key-{number}", weight=w).id)
    return Upstream(name, kind, keys, tuple(ids))


@dataclass(frozen=True)
class Gateway:
    """A running server of the test's hub, the replay server its providers point at, and the
    application that calls it: a member with an access key (app label "test-app")."""

    hub: Hub
    server: Server
    replay: ReplayServer
    app: Someone

    def client(self, key: str | None = None) -> openai.OpenAI:
        """The official SDK, without retries, calling with `key` (default: the app's)."""
        return openai.OpenAI(
            base_url=self.server.url + "/v1",
            api_key=key if key is not None else self.app.key.secret,
            max_retries=0,
            timeout=HANG_GUARD,
        )

    def post(
        self,
        path: str,
        body: Any,
        *,
        key: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        """POSTs `body` (JSON unless bytes) with `key`, by default the app's."""
        chosen = self.app.key.secret if key is None else key
        return api(self.server, "POST", path, body, key=chosen, headers=headers)


@pytest.fixture
def gateway(hub: Hub, start_server: StartServer, replay: ReplayServer) -> Gateway:
    """A server of `hub` with no providers yet (add them with `add_upstream`) and an app."""
    app = person(hub, "member", "Test app", app="test-app")
    return Gateway(hub, start_server(), replay, app)


@dataclass(frozen=True)
class SseEvent:
    """One server-sent event: its type (None when it has no ``event:`` field) and data."""

    event: str | None
    data: str

    def json(self) -> Any:
        return json.loads(self.data)


def parse_sse(body: bytes) -> list[SseEvent]:
    """The events of an SSE body (comments and events without data are skipped)."""
    events: list[SseEvent] = []
    text = body.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
    for block in text.split("\n\n"):
        kind: str | None = None
        data: list[str] = []
        for line in block.split("\n"):
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "event":
                kind = value
            elif name == "data":
                data.append(value)
        if data:
            events.append(SseEvent(kind, "\n".join(data)))
    return events


def recorded_chunks(fixture: str) -> list[Any]:
    """The JSON payloads of a recorded chat stream, in order, without ``[DONE]``."""
    return [e.json() for e in parse_sse(recorded_reply(fixture).body) if e.data != "[DONE]"]


def normalised(payload: Any) -> Any:
    """A provider's chat completion or chunk as the gateway hands it on: groq's usage in
    ``x_groq`` also as ``usage``; ``reasoning`` also as ``reasoning_content``; Mistral's content
    as an array of typed parts turned into a string (text parts joined) with the thinking parts
    in ``reasoning_content``."""
    result = json.loads(json.dumps(payload))
    if not isinstance(result, dict):
        return result
    groq = result.get("x_groq")
    if isinstance(groq, dict) and "usage" in groq and result.get("usage") is None:
        result["usage"] = groq["usage"]
    for choice in result.get("choices") or []:
        for part in ("message", "delta"):
            if isinstance(choice.get(part), dict):
                _normalise_message(choice[part])
    return result


def _normalise_message(message: dict[str, Any]) -> None:
    if "reasoning" in message and "reasoning_content" not in message:
        message["reasoning_content"] = message["reasoning"]
    content = message.get("content")
    if isinstance(content, list):
        message["content"] = "".join(p["text"] for p in content if p.get("type") == "text")
        thinking = [
            t["text"]
            for p in content
            if p.get("type") == "thinking"
            for t in p["thinking"]
            if t.get("type") == "text"
        ]
        if thinking:
            message["reasoning_content"] = "".join(thinking)


def is_usage_chunk(chunk: Any) -> bool:
    """True for the extra chunk a stream ends with when usage was asked for."""
    return isinstance(chunk, dict) and chunk.get("choices") == [] and bool(chunk.get("usage"))


def rate_limited(retry_after: int) -> Reply:
    """A provider's 429 in OpenAI's shape, asking to wait `retry_after` seconds."""
    body = {
        "error": {
            "message": "Rate limit reached for gpt-4o-mini on requests per min (RPM): Limit 3.",
            "type": "requests",
            "param": None,
            "code": "rate_limit_exceeded",
        }
    }
    headers = (("content-type", "application/json"), ("retry-after", str(retry_after)))
    return Reply(429, "Too Many Requests", headers, json.dumps(body).encode())


def assert_openai_error(response: Response, status: int, code: str) -> dict[str, Any]:
    """Asserts the gateway's error shape with `status` and `code` (any param); returns it."""
    assert response.status == status, response
    assert response.headers.get("content-type") == "application/json"
    payload = response.json()
    assert set(payload) == {"error"}
    error: dict[str, Any] = payload["error"]
    assert set(error) == {"message", "type", "param", "code"}, error
    assert error["code"] == code, error
    assert isinstance(error["type"], str) and error["type"]
    assert isinstance(error["message"], str) and error["message"]
    return error
