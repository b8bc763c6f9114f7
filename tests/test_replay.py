"""The replay server that stands in for the providers: it must send the recordings as they are,
pick replies by route and header, and record what it receives."""

from __future__ import annotations

import json
import socket

import pytest

from conftest import HANG_GUARD, http_request_bytes
from replay import FIXTURES, ReplayServer

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
