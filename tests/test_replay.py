"""The replay server that stands in for the providers: it must send the recordings as they are,
pick replies by route and header, and record what it receives."""

from __future__ import annotations

import http.client
import json
import socket
import struct
from dataclasses import dataclass

import pytest

from conftest import HANG_GUARD, chunked, http_request_bytes, wait_until
from replay import FIXTURES, Fault, ReplayServer, Reply, recorded_reply

HOP_BY_HOP = {"connection", "transfer-encoding", "content-length", "keep-alive"}


def exchange(replay: ReplayServer, data: bytes) -> bytes:
    """Sends raw request bytes and returns everything the server answers until it closes."""
    with socket.create_connection(("127.0.0.1", replay.port), timeout=HANG_GUARD) as sock:
        sock.sendall(data)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
        return received


def get(replay: ReplayServer, path: str, **headers: str) -> bytes:
    return exchange(replay, http_request_bytes("GET", path, {"Connection": "close", **headers}))


@pytest.mark.parametrize(
    "fixture",
    ["openai/error_401_invalid_api_key", "gemini/models_list", "mistral/error_401"],
)
def test_a_recording_is_replayed_byte_for_byte(replay: ReplayServer, fixture: str) -> None:
    recorded = json.loads((FIXTURES / f"{fixture}.json").read_text(encoding="utf-8"))["response"]
    replay.route("GET", "/x", fixture=fixture)

    head, _, body = get(replay, "/x").partition(b"\r\n\r\n")

    status_line, *lines = head.decode("latin-1").split("\r\n")
    assert status_line == f"HTTP/1.1 {recorded['status']} {recorded['reason']}"
    fields = [tuple(line.split(": ", 1)) for line in lines]
    expected = [
        (name, value)
        for name, values in recorded["headers"].items()
        if name not in HOP_BY_HOP
        for value in (values if isinstance(values, list) else [values])
    ]
    assert fields == [*expected, ("content-length", str(len(body)))]
    assert body == recorded["body"].encode("utf-8")


def test_routes_choose_by_header_and_the_latest_wins(replay: ReplayServer) -> None:
    replay.route("GET", "/v1/models", fixture="openai/models_list")
    replay.route(
        "GET",
        "/v1/models",
        fixture="openai/error_401_invalid_api_key",
        when_header=("authorization", "Bearer revoked"),
    )

    assert get(replay, "/v1/models").startswith(b"HTTP/1.1 200 OK\r\n")
    assert get(replay, "/v1/models", Authorization="Bearer revoked").startswith(b"HTTP/1.1 401 ")
    unknown = get(replay, "/v1/models?x=1")
    assert unknown.startswith(b"HTTP/1.1 404 Not Found\r\n")
    assert unknown.endswith(b"replay: no recorded reply for GET /v1/models?x=1\n")

    replay.route(
        "GET",
        "/v1/models",
        fixture="openai/models_list",
        when_header=("authorization", "Bearer good"),
        otherwise="mistral/error_401",
    )
    assert get(replay, "/v1/models", Authorization="Bearer good").startswith(b"HTTP/1.1 200 ")
    assert get(replay, "/v1/models").endswith(b'{"detail":"Invalid API Key"}\n')


def test_requests_are_recorded(replay: ReplayServer) -> None:
    exchange(
        replay,
        http_request_bytes(
            "POST", "/v1/chat", {"Connection": "close", "X-Api-Key": "k"}, body=b'{"a": 1}'
        ),
    )

    [received] = replay.requests
    assert (received.method, received.path, received.body) == ("POST", "/v1/chat", b'{"a": 1}')
    assert received.header("x-api-key") == "k"
    assert received.header("authorization") is None
    assert replay.requests_to("/v1/chat") == [received]


# --- streams ---------------------------------------------------------------------------------

STREAMS = [
    "openai/chat_stream_include_usage",
    "openai/chat_stream_tool_call",
    "openrouter/chat_stream_include_usage",
    "groq/chat_stream",
    "ollama/native_chat_stream_ndjson",
]


@dataclass
class RawReply:
    """A response read off a raw socket: its head, each HTTP chunk of a chunked body, and how
    the connection ended."""

    head: str
    chunks: list[bytes]
    finished: bool  # the terminating zero-size chunk arrived
    reset: bool  # the connection was reset rather than closed

    def field(self, name: str) -> str | None:
        for line in self.head.split("\r\n")[1:]:
            key, _, value = line.partition(": ")
            if key.lower() == name:
                return value
        return None


def read_all(sock: socket.socket) -> tuple[bytes, bool]:
    """Everything the peer sends until it closes; True as well when it reset the connection."""
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except ConnectionResetError:
        return received, True
    return received, False


def parse_chunked(data: bytes, reset: bool) -> RawReply:
    head, _, rest = data.partition(b"\r\n\r\n")
    chunks: list[bytes] = []
    finished = False
    while rest:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            finished = rest == b"\r\n"
            break
        assert rest[size : size + 2] == b"\r\n", rest[: size + 2]
        chunks.append(rest[:size])
        rest = rest[size + 2 :]
    return RawReply(head.decode("latin-1"), chunks, finished, reset)


def exchange_raw(replay: ReplayServer, request: bytes) -> tuple[bytes, bool]:
    """Like `exchange`, and True as well when the server reset the connection."""
    with socket.create_connection(("127.0.0.1", replay.port), timeout=HANG_GUARD) as sock:
        sock.sendall(request)
        return read_all(sock)


def outcome(replay: ReplayServer, path: str, **headers: str) -> str:
    """The status of the answer to a POST, or "reset" or "closed" when none came."""
    request = http_request_bytes("POST", path, {"Connection": "close", **headers}, b"{}")
    data, reset = exchange_raw(replay, request)
    if not data:
        return "reset" if reset else "closed"
    return data.split(b" ", 2)[1].decode()


def post(replay: ReplayServer, path: str, body: bytes = b"{}", **headers: str) -> RawReply:
    request = http_request_bytes("POST", path, {"Connection": "close", **headers}, body)
    with socket.create_connection(("127.0.0.1", replay.port), timeout=HANG_GUARD) as sock:
        sock.sendall(request)
        return parse_chunked(*read_all(sock))


@pytest.mark.parametrize("fixture", STREAMS)
def test_a_stream_goes_out_one_chunk_per_event(replay: ReplayServer, fixture: str) -> None:
    recorded = recorded_reply(fixture)
    replay.route("POST", "/stream", fixture=fixture)

    answer = post(replay, "/stream")

    [received] = replay.requests
    separator = b"\n" if fixture.startswith("ollama/") else b"\n\n"
    assert answer.head.startswith(f"HTTP/1.1 {recorded.status} {recorded.reason}\r\n")
    assert answer.field("transfer-encoding") == "chunked"
    assert answer.field("content-length") is None
    assert answer.finished and not answer.reset
    assert b"".join(answer.chunks) == recorded.body
    assert len(answer.chunks) == recorded.body.count(separator) > 1
    assert all(chunk.endswith(separator) for chunk in answer.chunks)
    assert all(separator not in chunk[: -len(separator)] for chunk in answer.chunks)
    assert wait_until(lambda: received.finished)
    assert received.events_sent == len(answer.chunks)
    assert not received.client_disconnected
    assert received.fault is None


def test_events_split_at_any_blank_line_and_keep_a_trailing_part() -> None:
    reply = Reply(
        200,
        "OK",
        (("Content-Type", "text/event-stream; charset=utf-8"),),
        b"data: 1\r\n\r\n: note\n\ndata: 2\r\rdata: 3",
    )

    assert reply.streamed
    assert reply.events() == [b"data: 1\r\n\r\n", b": note\n\n", b"data: 2\r\r", b"data: 3"]
    assert not recorded_reply("openai/chat_basic").streamed
    assert recorded_reply("openai/chat_basic").events() == [
        recorded_reply("openai/chat_basic").body
    ]


def test_a_gap_keeps_the_stream_open_and_a_client_leaving_is_recorded(
    replay: ReplayServer,
) -> None:
    replay.route("POST", "/stream", fixture="openai/chat_stream_include_usage", gap=HANG_GUARD)
    first = recorded_reply("openai/chat_stream_include_usage").events()[0]

    with socket.create_connection(("127.0.0.1", replay.port), timeout=HANG_GUARD) as sock:
        sock.sendall(http_request_bytes("POST", "/stream", body=b"{}"))
        received = b""
        while not received.endswith(b"%x\r\n%s\r\n" % (len(first), first)):
            received += sock.recv(65536)
        [request] = replay.requests
        assert request.events_sent == 1
        assert not request.finished and not request.client_disconnected

    assert wait_until(lambda: request.finished)
    assert request.client_disconnected
    assert request.events_sent == 1


def test_a_write_failing_because_the_client_left_is_recorded(replay: ReplayServer) -> None:
    # More than the socket buffers hold, so the server is still writing when the client resets.
    event = b"data: " + b"x" * 1000 + b"\n\n"
    long_stream = Reply(200, "OK", (("content-type", "text/event-stream"),), event * 4000)
    replay.route("POST", "/stream", reply=long_stream)

    with socket.create_connection(("127.0.0.1", replay.port), timeout=HANG_GUARD) as sock:
        sock.sendall(http_request_bytes("POST", "/stream", body=b"{}"))
        assert sock.recv(1) == b"H"
        [request] = replay.requests
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    assert wait_until(lambda: request.finished)
    assert request.client_disconnected
    assert request.events_sent < 4000


def test_a_chunked_request_body_is_recorded_decoded(replay: ReplayServer) -> None:
    data = chunked(b'{"model":', b'"m"}')
    exchange(
        replay,
        http_request_bytes(
            "POST", "/v1/x", {"Connection": "close", "Transfer-Encoding": "chunked"}, data
        ),
    )

    [received] = replay.requests
    assert received.body == b'{"model":"m"}'
    assert received.json() == {"model": "m"}


# --- faults ----------------------------------------------------------------------------------


def test_a_reset_fault_resets_before_any_byte_then_routes_answer(replay: ReplayServer) -> None:
    replay.route("POST", "/v1/chat/completions", fixture="openai/chat_basic")
    replay.fail("POST", "/v1/chat/completions", Fault.reset(), times=1)

    conn = http.client.HTTPConnection("127.0.0.1", replay.port, timeout=HANG_GUARD)
    try:
        conn.request("POST", "/v1/chat/completions", body=b"{}")
        with pytest.raises(ConnectionResetError):
            conn.getresponse()
    finally:
        conn.close()
    again = outcome(replay, "/v1/chat/completions")

    first, second = replay.requests
    assert first.fault == Fault.reset() and first.events_sent == 0
    assert second.fault is None
    assert again == "200"


def test_a_close_fault_closes_without_answering(replay: ReplayServer) -> None:
    replay.fail("POST", "/v1/chat/completions", Fault.close())

    assert outcome(replay, "/v1/chat/completions") == "closed"
    assert replay.requests[0].fault == Fault.close()


def test_a_hang_holds_the_request_until_the_client_gives_up(replay: ReplayServer) -> None:
    replay.route("POST", "/v1/chat/completions", fixture="openai/chat_basic")
    replay.fail("POST", "/v1/chat/completions", Fault.hang())

    with socket.create_connection(("127.0.0.1", replay.port), timeout=HANG_GUARD) as sock:
        sock.sendall(http_request_bytes("POST", "/v1/chat/completions", body=b"{}"))
        assert wait_until(lambda: len(replay.requests) == 1)
        [held] = replay.requests
        assert not held.finished

    assert wait_until(lambda: held.finished)
    assert held.client_disconnected
    assert held.events_sent == 0


def test_closing_the_replay_server_ends_a_hang(replay: ReplayServer) -> None:
    replay.fail("GET", "/v1/models", Fault.hang())

    with socket.create_connection(("127.0.0.1", replay.port), timeout=HANG_GUARD) as sock:
        sock.sendall(http_request_bytes("GET", "/v1/models"))
        assert wait_until(lambda: len(replay.requests) == 1)
        replay.close()
        data, _ = read_all(sock)

    assert data == b""
    assert wait_until(lambda: replay.requests[0].finished)
    assert not replay.requests[0].client_disconnected


@pytest.mark.parametrize("events", [0, 2, 5])
def test_reset_after_events_cuts_a_stream(replay: ReplayServer, events: int) -> None:
    fixture = "openai/chat_stream_include_usage"
    replay.route("POST", "/v1/chat/completions", fixture=fixture)
    replay.fail("POST", "/v1/chat/completions", Fault.reset_after(events))

    answer = post(replay, "/v1/chat/completions")

    [received] = replay.requests
    assert answer.head.startswith("HTTP/1.1 200 OK\r\n")
    assert answer.chunks == recorded_reply(fixture).events()[:events]
    assert answer.reset and not answer.finished
    assert received.events_sent == events
    assert received.fault == Fault.reset_after(events)


def test_reset_after_the_whole_body_of_a_plain_reply(replay: ReplayServer) -> None:
    replay.route("POST", "/v1/embeddings", fixture="openai/embeddings")
    replay.fail("POST", "/v1/embeddings", Fault.reset_after(0), times=1)

    with socket.create_connection(("127.0.0.1", replay.port), timeout=HANG_GUARD) as sock:
        sock.sendall(http_request_bytes("POST", "/v1/embeddings", body=b"{}"))
        data, reset = read_all(sock)

    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"content-length: %d" % len(recorded_reply("openai/embeddings").body) in head
    assert (body, reset) == (b"", True)


def test_faults_and_routes_count_their_times_and_choose_by_header(replay: ReplayServer) -> None:
    replay.route("POST", "/v1/chat/completions", fixture="openai/chat_basic")
    replay.route("POST", "/v1/chat/completions", fixture="xai/error_503_model_at_capacity", times=1)
    replay.fail(
        "POST",
        "/v1/chat/completions",
        Fault.reset(),
        when_header=("authorization", "Bearer bad"),
        times=2,
    )

    outcomes = [
        outcome(replay, "/v1/chat/completions", Authorization=f"Bearer {key}")
        for key in ["bad", "bad", "good", "bad"]
    ]

    assert outcomes == ["reset", "reset", "503", "200"]
    assert [r.fault for r in replay.requests] == [Fault.reset(), Fault.reset(), None, None]


def test_a_fault_needs_a_valid_count() -> None:
    with pytest.raises(ValueError):
        Fault.reset_after(-1)
