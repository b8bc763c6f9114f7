"""Health and readiness, routing errors (404, 405) and request ids."""

from __future__ import annotations

import pytest

import aignehub
from aignehub import Hub, Server
from aignehub._core import latest_schema_version
from conftest import (
    GENERATED_REQUEST_ID,
    REQUEST_ID_ALPHABET,
    OpenRaw,
    assert_generated_request_id,
    assert_json_error,
    http_request_bytes,
    request,
)


def test_healthz_answers_ok(server: Server) -> None:
    response = request(server, "GET", "/healthz")

    assert response.status == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"status": "ok"}


def test_readyz_reports_version_and_store(server: Server, hub: Hub) -> None:
    response = request(server, "GET", "/readyz")

    assert response.status == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "status": "ready",
        "version": aignehub.__version__,
        "store": {
            "backend": "sqlite",
            "status": "ok",
            "schema_version": hub.schema_version,
        },
    }
    assert hub.schema_version == latest_schema_version()


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_head_has_the_get_headers_and_no_body(server: Server, open_raw: OpenRaw, path: str) -> None:
    get = request(server, "GET", path)
    conn = open_raw(server)

    # Raw, so that a body sent by mistake would show up as unread bytes.
    conn.send(http_request_bytes("HEAD", path, {"Connection": "close"}))
    head = conn.read_response(head=True)

    assert head.status == get.status == 200
    assert head.headers["content-length"] == str(len(get.body))
    assert head.headers["content-type"] == get.headers["content-type"]
    assert conn.closed_by_server()
    assert conn.unread == b""


def test_query_string_does_not_change_the_route(server: Server) -> None:
    response = request(server, "GET", "/healthz?verbose=1")

    assert response.status == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/nope"), ("GET", "/"), ("POST", "/v1/audio/speech"), ("GET", "/healthz/")],
)
def test_unknown_path_is_404_json(server: Server, method: str, path: str) -> None:
    response = request(server, method, path, body=b"{}" if method == "POST" else None)

    assert_json_error(response, 404, "not_found")
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert path in response.json()["error"]["message"]
    assert_generated_request_id(response)


def test_head_of_unknown_path_is_404_without_body(server: Server) -> None:
    response = request(server, "HEAD", "/nope")

    assert response.status == 404
    assert response.body == b""
    assert int(response.headers["content-length"]) > 0


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/healthz"), ("DELETE", "/healthz"), ("PUT", "/readyz"), ("OPTIONS", "/readyz")],
)
def test_wrong_method_is_405_with_allow(server: Server, method: str, path: str) -> None:
    response = request(server, method, path)

    assert_json_error(response, 405, "method_not_allowed")
    allowed = {m.strip() for m in response.headers["allow"].split(",")}
    assert allowed == {"GET", "HEAD"}
    assert_generated_request_id(response)


def test_every_response_has_a_generated_request_id(server: Server) -> None:
    ids = [request(server, "GET", "/healthz").headers.get("x-request-id", "") for _ in range(5)]

    assert all(GENERATED_REQUEST_ID.fullmatch(i) for i in ids), ids
    assert len(set(ids)) == len(ids)


@pytest.mark.parametrize(
    "incoming",
    [
        "a",
        "req-123",
        REQUEST_ID_ALPHABET,
        "x" * 128,
        "trace:abc/def+ghi=jkl.mno_pqr-stu",
    ],
)
@pytest.mark.parametrize("path", ["/healthz", "/nope"])
def test_valid_incoming_request_id_is_echoed(server: Server, incoming: str, path: str) -> None:
    response = request(server, "GET", path, headers={"X-Request-Id": incoming})

    assert response.headers["x-request-id"] == incoming


@pytest.mark.parametrize(
    "incoming",
    ["x" * 129, "has space", "semi;colon", 'quote"d', "percent%20", "comma,separated"],
)
def test_invalid_incoming_request_id_is_replaced(server: Server, incoming: str) -> None:
    response = request(server, "GET", "/healthz", headers={"X-Request-Id": incoming})

    assert response.status == 200
    assert_generated_request_id(response)


def test_empty_incoming_request_id_is_replaced(server: Server, open_raw: OpenRaw) -> None:
    conn = open_raw(server)

    conn.send(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Request-Id:\r\n\r\n")
    response = conn.read_response()

    assert response.status == 200
    assert_generated_request_id(response)
